"""The style-text adapter: Bark's frozen input embeddings of the words, a learned position and a projection.

Why Bark's own embeddings: the text stage was trained on them, so "whispering" or "[laughs]" already mean
something in that space, and the adapter only has to learn a projection instead of a text encoder.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter, frozen_text_embedding, pad_tokens

from . import ADAPTER_KIND, ADAPTER_VERSION

DEFAULTS = {"max_tokens": 32}


class StyleTextAdapter(Adapter):
    """``prepare(str)`` -> (n, n_embd) frozen embeddings; ``forward`` -> (B, n, d_ctx) tokens and their mask.

    Config: ``max_tokens`` (longer text is cut with a warning), ``stages`` (default semantic only).
    """

    modality = "style_text"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, models: Any, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, {**DEFAULTS, **(config or {})})
        self.max_tokens = int(self.config["max_tokens"])
        if self.max_tokens < 1:
            raise InvalidInputError(f"style-text adapter: max_tokens must be >= 1, got {self.max_tokens}")
        wte = self.hold_frozen("wte", models.text.transformer.wte)
        self._tokenizer = models.tokenizer
        n_embd = wte.embedding_dim
        self.position = nn.Parameter(torch.zeros(self.max_tokens, n_embd))  # word order: "not sad, whispering"
        self.proj = nn.Sequential(nn.LayerNorm(n_embd), nn.Linear(n_embd, d_ctx))

    def prepare(self, value: Any) -> torch.Tensor:
        if not isinstance(value, str):
            raise InvalidInputError(f"style_text must be a string such as 'whispering, sad', got {type(value).__name__}")
        if not value.strip():
            raise InvalidInputError("style_text is empty; describe the delivery, e.g. style_text='whispering, sad'")
        return frozen_text_embedding(self._tokenizer, self._frozen["wte"], value, self.max_tokens)

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.position.device
        embeddings, mask = pad_tokens([p.to(device) for p in prepared])
        return self.proj(embeddings + self.position[: embeddings.shape[1]]), mask
