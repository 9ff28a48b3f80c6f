"""A pretrained tiny CLIP for the proof: the tiny vision tower, trained to name what synthetic images show.

The tiny CLIP (``bark_omni_image.encoder``, ``encoder="tiny"``) has seeded random weights. Its features separate
colours and stripe textures, but hardly shapes: on shape-only tasks a linear probe on them stays near chance,
so the proof there measured the encoder, not the fusion. Real CLIP is pretrained and tells a circle from a
square; this stands in for it.

``pretrain_tiny_clip`` trains the tiny architecture's vision tower (from the same seeded start) to name, on a
corpus of its own (``corpus_seed``), the shape (all of ``factors.SHAPES``) and colour (all of ``PALETTE``) of a
shape on noise, or the angle and frequency of a stripe texture, through four linear heads that are thrown away.
The corpus never uses a task's seed or its class choices: a task draws a few of these shapes, colours or
textures as its classes and its own tokens and rhythms. The text tower is the tiny one's, untouched. The result
is written in open_clip's state-dict layout (safetensors, plus a JSON record of how it was made) and loads
through the image adapter's own path: ``{"encoder": "tiny", "pretrained": "<file>"}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .factors import PALETTE, SHAPES, TaskSpec, draw_image, draw_shape, draw_texture, plan_task
from .linear_probe import held_out_accuracy

PRETRAINED_CLIP = "tiny_clip_pretrained.safetensors"  # its file name in a proof's base folder
SHAPE_SHARE = 0.6  # the rest are textures
ANGLE_BINS, CYCLE_BINS = 8, 5
CYCLES = (2.0, 7.0)  # stripe cycles per image, wider than any task's (2.5..6)


@dataclass(frozen=True)
class PretrainingConfig:
    corpus_seed: int = 0
    images: int = 6000
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    seed: int = 0  # order of the batches and the heads' start


def corpus(n: int, seed: int) -> tuple[list[Any], np.ndarray]:
    """``n`` images and their labels (shape, colour, angle bin, cycle bin); a label one past the last class means
    "not this kind of image" (a texture has no shape, a shape no angle)."""
    rng = np.random.default_rng([seed, 99])
    images, labels = [], []
    for _ in range(n):
        if rng.random() < SHAPE_SHARE:
            shape, colour = int(rng.integers(len(SHAPES))), int(rng.integers(len(PALETTE)))
            images.append(draw_shape(SHAPES[shape], PALETTE[colour], rng))
            labels.append((shape, colour, ANGLE_BINS, CYCLE_BINS))
        else:
            angle, cycles = float(rng.uniform(0, np.pi)), float(rng.uniform(*CYCLES))
            images.append(draw_texture(angle, cycles, rng))
            cycle_bin = min(int((cycles - CYCLES[0]) / (CYCLES[1] - CYCLES[0]) * CYCLE_BINS), CYCLE_BINS - 1)
            labels.append((len(SHAPES), len(PALETTE), int(angle / np.pi * ANGLE_BINS) % ANGLE_BINS, cycle_bin))
    return images, np.asarray(labels, dtype=np.int64)


def pretrain_tiny_clip(path: Path, config: PretrainingConfig = PretrainingConfig()) -> Path:
    """Write the pretrained tiny CLIP to ``path`` (``.safetensors``) and ``path.json``; an existing one made with
    the same config is kept. About a minute on one CPU thread."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from torch import nn

    from bark_omni.files import atomic_output
    from bark_omni_image.encoder import TINY, build_clip, vision_encoder

    path = Path(path)
    record = path.with_suffix(".json")
    if path.is_file() and record.is_file() and json.loads(record.read_text())["config"] == asdict(config):
        return path
    model, _ = build_clip(TINY, None)  # the tiny CLIP's seeded start
    transform = vision_encoder(model, {}, "cpu").transform
    visual = model.visual.train().requires_grad_(True)
    visual.output_tokens = False
    images, labels = corpus(config.images, config.corpus_seed)
    x, y = torch.stack([transform(image) for image in images]), torch.from_numpy(labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        heads = nn.ModuleList(nn.Linear(visual.output_dim, n + 1) for n in (len(SHAPES), len(PALETTE), ANGLE_BINS, CYCLE_BINS))
        optimiser = torch.optim.AdamW([*visual.parameters(), *heads.parameters()], lr=config.lr,
                                      weight_decay=config.weight_decay)
        losses = []
        for _ in range(config.steps):
            batch = torch.randint(len(x), (config.batch_size,))
            pooled = visual(x[batch])
            loss = sum(F.cross_entropy(head(pooled), y[batch, j]) for j, head in enumerate(heads))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        save_file(state, str(tmp))
    summary = {"config": asdict(config), "architecture": TINY, "trained": "visual",
               "final_loss": float(np.mean(losses[-50:])), "first_loss": losses[0]}
    with atomic_output(record) as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return path


def linear_probe_accuracy(weights: str | Path | None, spec: TaskSpec, per_class: int = 40, seed: int = 11) -> float:
    """How well the tiny CLIP (``weights``: a file; None: its random weights) separates ``spec``'s image classes:
    the proof's linear classifier on pooled features of ``per_class`` fresh images per class, scored on as many
    others."""
    import torch

    from bark_omni_image.encoder import TINY, build_encoder

    encoder = build_encoder(TINY, str(weights) if weights else None, "cpu")
    encoder.visual.output_tokens = False
    plan, rng = plan_task(spec), np.random.default_rng([spec.seed, seed])

    def features() -> tuple[np.ndarray, list[int]]:
        labels = [c for c in range(spec.image_classes) for _ in range(per_class)]
        pixels = torch.stack([encoder.transform(draw_image(spec, plan, c, rng)) for c in labels])
        with torch.no_grad():
            return encoder.visual(pixels).numpy(), labels

    return held_out_accuracy(features(), features())
