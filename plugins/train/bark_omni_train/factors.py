"""Synthetic tasks with two independent factors, one per modality, made from a seed.

The image decides *what* is said: its class picks a pair of semantic tokens (an accent token and a base
token). The control events decide *when*: the output holds the accent token on the frames where a beat falls
and the base token everywhere else, and the beats follow one of several rhythms (a period, and for "swing"
rhythms alternating long and short gaps) from a random phase. Only a model that uses both inputs can get both
factors right. Nothing else carries a factor: beat strengths are random, image colours are noise unless the
style is "colour", shapes sit at random places and sizes over a noisy background.

With ``distractor=True`` every row also has a caption (the ``style_text`` input), one of four drawn
independently of both factors: a present modality that carries nothing, which a router should learn to close.
Images, events and targets are the same as without it.

Every (image class, rhythm) combination exists, and for each image class one rhythm is held out: its rows
form the "test" split, never seen in training ("train") or by the probe's classifiers ("val").

``TaskSpec.from_seed(seed)`` draws a whole task (number of classes, image style, rhythm style, periods,
tokens) from a seed, so the proof can be rerun on tasks nobody tuned for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

IMAGE_STYLES = ("colour", "shape", "texture")
RHYTHM_STYLES = ("steady", "swing")
SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond", "hbar", "vbar")
PALETTE = ((220, 40, 40), (40, 170, 60), (40, 80, 220), (230, 210, 40), (200, 50, 200), (40, 200, 210),
           (240, 140, 30), (110, 50, 160))
IMAGE_SIZE = 64
FRAME_HZ = 49.9  # Bark's semantic frame rate


@dataclass(frozen=True)
class TaskSpec:
    """One task: ``image_classes`` x ``rhythm_classes`` combinations, rows per combination per split."""

    seed: int
    image_classes: int = 4
    image_style: str = "shape"
    rhythm_classes: int = 3
    rhythm_style: str = "steady"
    tokens: int = 48
    train_per_combo: int = 24
    val_per_combo: int = 6
    test_per_combo: int = 6
    distractor: bool = False  # a caption on every row (style_text), one of four, independent of the factors

    @classmethod
    def from_seed(cls, seed: int) -> TaskSpec:
        """A task drawn from ``seed``: 3..6 image classes of any style, 2..4 rhythms of either style."""
        rng = np.random.default_rng([seed, 1])
        return cls(seed=seed, image_classes=int(rng.integers(3, 7)), image_style=str(rng.choice(IMAGE_STYLES)),
                   rhythm_classes=int(rng.integers(2, 5)), rhythm_style=str(rng.choice(RHYTHM_STYLES)))

    def check(self) -> None:
        if not 2 <= self.image_classes <= len(SHAPES):
            raise DataError(f"image_classes must lie in 2..{len(SHAPES)}, got {self.image_classes}")
        if not 2 <= self.rhythm_classes <= 5:
            raise DataError(f"rhythm_classes must lie in 2..5, got {self.rhythm_classes}")
        if self.image_style not in IMAGE_STYLES or self.rhythm_style not in RHYTHM_STYLES:
            raise DataError(f"image_style is one of {', '.join(IMAGE_STYLES)}; rhythm_style one of {', '.join(RHYTHM_STYLES)}")
        if self.tokens < 24 or min(self.train_per_combo, self.val_per_combo, self.test_per_combo) < 1:
            raise DataError("tokens must be >= 24 and every split needs >= 1 row per combination")


@dataclass(frozen=True)
class TaskPlan:
    """What the seed decided: tokens per image class, periods per rhythm, which combinations are held out."""

    accent: tuple[int, ...]  # per image class
    base: tuple[int, ...]
    periods: tuple[float, ...]  # frames between beats, per rhythm
    held_out: tuple[int, ...]  # per image class: its rhythm never seen in training
    textures: tuple[tuple[float, float], ...]  # per image class: stripe angle (rad), cycles per image

    def target(self, image_class: int, beat_frames: list[int], tokens: int) -> list[int]:
        beats = set(beat_frames)
        return [self.accent[image_class] if t in beats else self.base[image_class] for t in range(tokens)]


def plan_task(spec: TaskSpec) -> TaskPlan:
    rng = np.random.default_rng([spec.seed, 2])
    words = rng.choice(10_000, size=2 * spec.image_classes, replace=False)
    while True:  # distinct periods at least 2 frames apart, 5..14 frames (0.1..0.28 s)
        periods = np.sort(rng.choice(np.arange(5, 15), size=spec.rhythm_classes, replace=False))
        if np.all(np.diff(periods) >= 2):
            break
    shift = int(rng.integers(spec.rhythm_classes))
    angles = rng.permutation(spec.image_classes) * np.pi / spec.image_classes
    cycles = rng.uniform(2.5, 6.0, spec.image_classes)
    return TaskPlan(accent=tuple(int(w) for w in words[: spec.image_classes]),
                    base=tuple(int(w) for w in words[spec.image_classes:]),
                    periods=tuple(float(p) for p in periods),
                    held_out=tuple((a + shift) % spec.rhythm_classes for a in range(spec.image_classes)),
                    textures=tuple((float(a), float(c)) for a, c in zip(angles, cycles)))


def _noise_background(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(190, 245, size=(IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)


def draw_shape(shape: str, colour: tuple[int, int, int], rng: np.random.Generator) -> Any:
    from PIL import Image, ImageDraw

    image = Image.fromarray(_noise_background(rng))
    draw = ImageDraw.Draw(image)
    size = int(rng.integers(IMAGE_SIZE // 3, IMAGE_SIZE // 2 + 1))
    x0, y0 = (int(v) for v in rng.integers(2, IMAGE_SIZE - size - 2, size=2))
    x1, y1, third, mid = x0 + size, y0 + size, size // 3, size // 2
    fill = tuple(int(np.clip(c + rng.integers(-20, 21), 0, 255)) for c in colour)
    if shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    elif shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), (x0 + mid, y0)], fill=fill)
    elif shape == "cross":
        draw.rectangle((x0 + third, y0, x0 + 2 * third, y1), fill=fill)
        draw.rectangle((x0, y0 + third, x1, y0 + 2 * third), fill=fill)
    elif shape == "ring":
        draw.ellipse((x0, y0, x1, y1), outline=fill, width=max(2, size // 6))
    elif shape == "diamond":
        draw.polygon([(x0 + mid, y0), (x1, y0 + mid), (x0 + mid, y1), (x0, y0 + mid)], fill=fill)
    elif shape == "hbar":
        draw.rectangle((x0, y0 + third, x1, y0 + 2 * third), fill=fill)
    else:
        draw.rectangle((x0 + third, y0, x0 + 2 * third, y1), fill=fill)
    return image


def draw_texture(angle: float, cycles: float, rng: np.random.Generator) -> Any:
    """Stripes at the class's angle and frequency; random phase, colours, jitter of both."""
    from PIL import Image

    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / IMAGE_SIZE
    theta = angle + rng.normal(0, 0.08)
    freq = cycles * rng.uniform(0.9, 1.1)
    wave = np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + rng.uniform(0, 2 * np.pi)) > 0
    a, b = (np.array(PALETTE[i]) for i in rng.choice(len(PALETTE), size=2, replace=False))
    pixels = np.where(wave[..., None], a, b) + rng.normal(0, 12, (IMAGE_SIZE, IMAGE_SIZE, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def draw_image(spec: TaskSpec, plan: TaskPlan, image_class: int, rng: np.random.Generator) -> Any:
    if spec.image_style == "texture":
        return draw_texture(*plan.textures[image_class], rng)
    if spec.image_style == "colour":  # colour and shape both follow the class
        return draw_shape(SHAPES[image_class], PALETTE[image_class], rng)
    return draw_shape(SHAPES[image_class], PALETTE[int(rng.integers(len(PALETTE)))], rng)  # shape only


def beat_frames(spec: TaskSpec, plan: TaskPlan, rhythm: int, rng: np.random.Generator) -> list[float]:
    """Beat times in frames: the rhythm's gaps (steady, or swung 0.65 / 1.35) from a random phase, jittered."""
    period = plan.periods[rhythm]
    gaps = (period,) if spec.rhythm_style == "steady" else (0.65 * period, 1.35 * period)
    t, i, frames = float(rng.uniform(0, period)), int(rng.integers(len(gaps))), []
    while t < spec.tokens - 0.5:
        frames.append(t)
        t += gaps[i % len(gaps)] + rng.uniform(-0.3, 0.3)
        i += 1
    return frames


# Few captions, each shared by many rows: a caption drawn from thousands would name its row, and a model can
# then learn each training row's target by heart through it (a first version did: training loss fell below the
# plain task's while the image fell to chance on held-out rows).
DISTRACTOR_CAPTIONS = ("soft and slow", "loud and bright", "warm low voice", "sharp high tone")


def distractor_caption(rng: np.random.Generator) -> str:
    return DISTRACTOR_CAPTIONS[int(rng.integers(len(DISTRACTOR_CAPTIONS)))]


def make_task(out: Path, spec: TaskSpec) -> Path:
    """Write ``out/images/*.png`` and ``out/manifest.jsonl`` (semantic targets included; no audio) and
    ``out/task.json`` (the spec and what the seed decided). Returns the manifest."""
    from bark_omni.files import atomic_output

    spec.check()
    plan = plan_task(spec)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    counts = {"train": spec.train_per_combo, "val": spec.val_per_combo, "test": spec.test_per_combo}
    for a in range(spec.image_classes):
        for r in range(spec.rhythm_classes):
            held = plan.held_out[a] == r
            splits = ["test"] * counts["test"] if held else ["train"] * counts["train"] + ["val"] * counts["val"]
            for i, split in enumerate(splits):
                rng = np.random.default_rng([spec.seed, 3, a, r, i])
                ident = f"s{spec.seed}-i{a}-r{r}-{split}-{i:03d}"
                draw_image(spec, plan, a, rng).save(out / "images" / f"{ident}.png")
                frames = beat_frames(spec, plan, r, rng)
                events = [{"time_s": round(f / FRAME_HZ, 5), "kind": "beat", "value": round(float(rng.uniform(0.3, 1.0)), 3)}
                          for f in frames]
                row = {"id": ident, "split": split, "domain": "synthetic", "image": f"images/{ident}.png",
                       "control_events": events, "label": f"image{a}-rhythm{r}",
                       "semantic": plan.target(a, [int(round(f)) for f in frames], spec.tokens),
                       "meta": {"image_class": a, "rhythm_class": r, "held_out_combo": held}}
                if spec.distractor:  # its own stream: the rest of the row is as without it
                    row["caption"] = distractor_caption(np.random.default_rng([spec.seed, 4, a, r, i]))
                lines.append(json.dumps(row))
    with atomic_output(out / "manifest.jsonl") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with atomic_output(out / "task.json") as tmp:
        tmp.write_text(json.dumps({"spec": asdict(spec), "plan": asdict(plan)}, indent=1) + "\n", encoding="utf-8")
    return out / "manifest.jsonl"
