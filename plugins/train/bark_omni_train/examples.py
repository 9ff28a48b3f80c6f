"""From manifest rows and cached targets to training examples and padded batches.

An example is one row as one step sees it: its targets, and the adapter inputs that survive per-modality
dropout, augmented. Both depend only on a generator seeded by (seed, step, slot in the global batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .augment import augment_audio, augment_image, audio_enabled, image_enabled
from .manifest import Row
from .media import load_audio, load_image, stable_seed

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .config import TrainConfig
    from .targets import TargetStore


@dataclass
class Example:
    slot: int
    row_id: str
    label: str | None
    text: np.ndarray  # (256,) Bark's text input: the row's text, or padding
    semantic: np.ndarray | None  # target semantic tokens
    semantic_eos: bool
    coarse: np.ndarray | None  # (2, T) target coarse codes
    inputs: dict[str, Any]  # modality -> adapter input, only those kept this step
    cacheable: frozenset[str] = field(default_factory=frozenset)  # inputs that are the same at every step


def row_modalities(row: Row, modalities: Sequence[str]) -> tuple[str, ...]:
    # a caption is the style text unless the teacher must read it (no text and no semantic targets of its own)
    has = {"image": row.image is not None, "control_events": bool(row.control_events),
           "reference_audio": row.audio is not None,
           "style_text": row.caption is not None and (row.text is not None or row.semantic is not None)}
    return tuple(m for m in modalities if has.get(m, False))


class ExampleBuilder:
    """Turns (row, step, slot) into an ``Example``; holds no state that changes during training."""

    def __init__(self, rows: Sequence[Row], store: TargetStore, tokenizer: Any, config: TrainConfig) -> None:
        self.rows = list(rows)
        self.store = store
        self.tokenizer = tokenizer
        self.config = config
        self.load_targets = lru_cache(maxsize=4096)(self._load_targets)
        self.text_of = lru_cache(maxsize=4096)(self._text_of)

    def _load_targets(self, index: int) -> Any:
        return self.store.load(self.rows[index])

    def _text_of(self, index: int) -> np.ndarray:
        """Bark's text input of a row: its text, or padding (a caption is the teacher's input, not Bark's)."""
        from bark_omni import loop as gen

        row = self.rows[index]
        return gen.encode_text(self.tokenizer, row.text) if row.text else gen.empty_text()

    def row_modalities(self, index: int) -> tuple[str, ...]:
        return row_modalities(self.rows[index], self.config.modalities)

    def has_semantic(self, index: int) -> bool:
        return self.load_targets(index).semantic is not None

    def has_coarse(self, index: int) -> bool:
        return "coarse" in self.config.stages and self.load_targets(index).codes is not None and self.has_semantic(index)

    def input_of(self, index: int, modality: str, rng: np.random.Generator | None = None) -> Any:
        """What the adapter of ``modality`` receives for a row (augmented when ``rng`` is given)."""
        row = self.rows[index]
        cfg = self.config.augment
        if modality == "image":
            image = load_image(row.image)
            return np.asarray(augment_image(image, rng, cfg) if rng is not None else image, dtype=np.uint8)
        if modality == "reference_audio":
            wav, sr = load_audio(row.audio)
            return (augment_audio(wav, sr, rng, cfg) if rng is not None else wav), sr
        if modality == "control_events":
            return [dict(e) for e in row.control_events]
        if modality == "style_text":
            return row.caption
        raise ValueError(f"no input for modality {modality!r}")

    def build(self, index: int, *, slot: int = 0, step: int = 0, train: bool = True,
              drop: Sequence[str] = ()) -> Example:
        """``train``: per-modality dropout and augmentation (else neither); ``drop``: modalities removed
        on purpose (validation ablations)."""
        cfg = self.config
        row = self.rows[index]
        targets = self.load_targets(index)
        rng = np.random.default_rng(stable_seed(cfg.seed, "example", step, slot))
        kept = [m for m in self.row_modalities(index) if m not in drop]
        if train and kept:
            draws = {m: rng.random() for m in kept}
            survivors = [m for m in kept if draws[m] >= cfg.dropout.get(m, 0.0)]
            kept = survivors or [kept[int(rng.integers(len(kept)))]]  # never drop everything a row has
        inputs = {m: self.input_of(index, m, rng if train else None) for m in kept}
        semantic, eos = targets.semantic, targets.semantic_eos
        if semantic is not None and len(semantic) > cfg.max_semantic_tokens:
            semantic, eos = semantic[: cfg.max_semantic_tokens], False
        coarse = targets.codes[:2, : cfg.max_coarse_tokens // 2] if self.has_coarse(index) else None
        augmented = {"image": train and image_enabled(cfg.augment), "reference_audio": train and audio_enabled(cfg.augment)}
        return Example(slot=slot, row_id=row.id, label=row.label, text=self.text_of(index), semantic=semantic,
                       semantic_eos=eos and cfg.semantic_eos, coarse=coarse, inputs=inputs,
                       cacheable=frozenset(m for m in kept if not augmented.get(m, False)))


@dataclass
class Batch:
    """Padded tensors of one micro-batch (targets are -100 where there is nothing to predict)."""

    examples: list[Example]
    text: torch.Tensor  # (B, 256)
    semantic_in: torch.Tensor | None  # (B, L - 1) teacher-forced inputs after the infer token
    semantic_target: torch.Tensor | None  # (B, L)
    coarse_window: torch.Tensor | None  # (B, 256) semantic context of the coarse stage
    coarse_in: torch.Tensor | None  # (B, C - 1)
    coarse_target: torch.Tensor | None  # (B, C) code values 0..1023

    def to(self, device: Any) -> Batch:
        moved = {k: (v.to(device) if v is not None else None) for k, v in vars(self).items() if k != "examples"}
        return Batch(examples=self.examples, **moved)


def collate(examples: list[Example]) -> Batch:
    import torch
    from bark_omni.constants import (CODEBOOK_SIZE, COARSE_SEMANTIC_PAD_TOKEN, SEMANTIC_PAD_TOKEN,
                                     SEMANTIC_VOCAB_SIZE)

    B = len(examples)
    text = torch.from_numpy(np.stack([e.text for e in examples]).astype(np.int64))
    sem_in = sem_target = None
    sequences = [None if e.semantic is None else
                 np.concatenate([e.semantic, [SEMANTIC_VOCAB_SIZE] if e.semantic_eos else []]).astype(np.int64)
                 for e in examples]
    longest = max((len(s) for s in sequences if s is not None), default=0)
    if longest:
        sem_target = torch.full((B, longest), -100, dtype=torch.long)
        sem_in = torch.full((B, max(longest - 1, 0)), SEMANTIC_PAD_TOKEN, dtype=torch.long)
        for i, seq in enumerate(sequences):
            if seq is not None:
                sem_target[i, : len(seq)] = torch.from_numpy(seq)
                sem_in[i, : len(seq) - 1] = torch.from_numpy(seq[:-1])
    window = coarse_in = coarse_target = None
    coarse_len = max((e.coarse.shape[1] * 2 for e in examples if e.coarse is not None), default=0)
    if coarse_len:
        window = torch.full((B, 256), COARSE_SEMANTIC_PAD_TOKEN, dtype=torch.long)
        coarse_target = torch.full((B, coarse_len), -100, dtype=torch.long)
        coarse_in = torch.full((B, coarse_len - 1), COARSE_SEMANTIC_PAD_TOKEN, dtype=torch.long)
        for i, e in enumerate(examples):
            if e.coarse is None:
                continue
            sem = e.semantic[:256]
            window[i, : len(sem)] = torch.from_numpy(sem.astype(np.int64))
            flat = e.coarse.T.reshape(-1).astype(np.int64)  # c0[0], c1[0], c0[1], ... as Bark interleaves them
            coarse_target[i, : len(flat)] = torch.from_numpy(flat)
            tokens = flat + SEMANTIC_VOCAB_SIZE + (np.arange(len(flat)) % 2) * CODEBOOK_SIZE
            coarse_in[i, : len(flat) - 1] = torch.from_numpy(tokens[:-1])
    return Batch(examples=examples, text=text, semantic_in=sem_in,
                 semantic_target=sem_target, coarse_window=window, coarse_in=coarse_in, coarse_target=coarse_target)
