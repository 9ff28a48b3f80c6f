"""``emotion``: a label (``"happy"``) or a mix (``{"happy": 0.7, "calm": 0.3}``) -> one context token, the mix of
a trainable embedding per label. No frozen encoder is needed."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter

from . import ADAPTER_KIND, ADAPTER_VERSION, EMOTIONS


class EmotionAdapter(Adapter):
    modality = "emotion"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, dict(config or {}))
        self.labels = nn.Embedding(len(EMOTIONS), d_ctx)

    def prepare(self, value: Any) -> torch.Tensor:
        """A label or a {label: weight} mix -> weights over ``EMOTIONS`` summing to 1."""
        mix = {value.strip().lower(): 1.0} if isinstance(value, str) else value
        if not isinstance(mix, Mapping) or not mix:
            raise InvalidInputError(f"emotion must be a label such as 'happy' or a dict of label -> weight, got {type(value).__name__}")
        weights = torch.zeros(len(EMOTIONS))
        for label, weight in mix.items():
            if label not in EMOTIONS:
                raise InvalidInputError(f"unknown emotion {str(label)[:40]!r}; use one of {', '.join(EMOTIONS)}")
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not math.isfinite(weight) or weight < 0:
                raise InvalidInputError(f"the weight of {label!r} must be a finite number >= 0, got {weight!r}")
            weights[EMOTIONS.index(label)] = float(weight)
        if weights.sum() <= 0:
            raise InvalidInputError("an emotion mix needs a weight > 0")
        return weights / weights.sum()

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        weights = torch.stack([p.to(self.labels.weight.device) for p in prepared])  # (B, labels)
        tokens = (weights @ self.labels.weight)[:, None, :]  # (B, 1, d_ctx)
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
