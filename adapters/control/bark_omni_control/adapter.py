"""The control-event adapter: one context token per event, placed on Bark's 49.9 Hz semantic timeline.

An event's token is the sum of three trainable projections of frozen features: its kind's name and its text
value read through Bark's own frozen text embeddings (so a third party's new kind, e.g. "breath", starts from
what Bark knows of the word rather than from noise), and its numeric value. ``timeline`` gives each token its
centre frame (``time_s * 49.9``) and a half-width of ``window_s``: the fusion block lets the token act only on
the semantic frames within that window, most strongly at its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from bark_omni.constants import SEMANTIC_RATE_HZ
from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter, frozen_text_embedding, pad_tokens

from . import ADAPTER_KIND, ADAPTER_VERSION
from .events import BUILTIN_KINDS, ControlEvent, validate_events

DEFAULTS = {"window_s": 0.15, "max_events": 256, "max_label_tokens": 8}


@dataclass
class PreparedEvents:
    """Frozen features of one request's events (E of them), ready for ``forward``."""

    frames: torch.Tensor  # (E,) centre semantic frame of each event
    kinds: torch.Tensor  # (E, n_embd) Bark's frozen embedding of the kind's name
    labels: torch.Tensor  # (E, n_embd) Bark's frozen embedding of a text value (zeros if none)
    numbers: torch.Tensor  # (E, 2) numeric value and whether there is one


class ControlAdapter(Adapter):
    """``prepare(events)`` -> ``PreparedEvents``; ``forward`` -> one token per event; ``timeline`` -> where.

    Config: ``window_s`` (half-width of an event's influence, 0.15 s), ``max_events`` (256),
    ``max_label_tokens`` (8). Events act on the semantic stage only: the coarse stage's sliding windows have no
    absolute timeline.
    """

    modality = "control_events"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, models: Any, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, {**DEFAULTS, **(config or {})})
        if set(self.stages()) != {"semantic"}:
            raise InvalidInputError("control events act on the semantic stage only; drop 'stages' from the control config")
        if not self.config["window_s"] > 0:
            raise InvalidInputError(f"control adapter: window_s must be > 0, got {self.config['window_s']!r}")
        wte = self.hold_frozen("wte", models.text.transformer.wte)
        self._tokenizer = models.tokenizer
        self._kinds = dict(BUILTIN_KINDS)
        n_embd = wte.embedding_dim
        self.kind_proj = nn.Linear(n_embd, d_ctx)
        self.label_proj = nn.Linear(n_embd, d_ctx, bias=False)
        self.number_proj = nn.Linear(2, d_ctx, bias=False)

    def bind(self, host: Any) -> None:
        """Every kind registered with the host (the built-ins and third parties')."""
        self._kinds = {**BUILTIN_KINDS, **host.control_kinds}

    def _embed(self, text: str) -> torch.Tensor:
        tokens = frozen_text_embedding(self._tokenizer, self._frozen["wte"], text, int(self.config["max_label_tokens"]))
        return tokens.mean(dim=0)

    def prepare(self, value: Any) -> PreparedEvents:
        events: list[ControlEvent] = validate_events(value, self._kinds, int(self.config["max_events"]))
        wte = self._frozen["wte"]
        zeros = torch.zeros(wte.embedding_dim, device=wte.weight.device)
        kinds = {kind: self._embed(kind) for kind in {e.kind for e in events}}
        numbers = [[float(e.value), 1.0] if isinstance(e.value, (int, float)) else [0.0, 0.0] for e in events]
        return PreparedEvents(
            frames=torch.tensor([e.time_s * SEMANTIC_RATE_HZ for e in events]),
            kinds=torch.stack([kinds[e.kind] for e in events]),
            labels=torch.stack([self._embed(e.value) if isinstance(e.value, str) else zeros for e in events]),
            numbers=torch.tensor(numbers),
        )

    def forward(self, prepared: Sequence[PreparedEvents]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.kind_proj.weight.device
        tokens = [self.kind_proj(p.kinds.to(device)) + self.label_proj(p.labels.to(device))
                  + self.number_proj(p.numbers.to(device)) for p in prepared]
        return pad_tokens(tokens)

    def timeline(self, prepared: Sequence[PreparedEvents]) -> torch.Tensor:
        half = float(self.config["window_s"]) * SEMANTIC_RATE_HZ
        rows = [torch.stack([p.frames, torch.full_like(p.frames, half)], dim=-1) for p in prepared]
        return pad_tokens(rows)[0]
