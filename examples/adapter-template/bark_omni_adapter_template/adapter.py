"""The adapter itself: UTF-8 bytes -> a trainable byte embedding plus a position embedding.

No frozen encoder is needed here. If yours has one (a speech or vision model), build it in ``__init__`` and
keep it with ``self.hold_frozen("name", module)``: it then stays out of the saved weights and the optimiser.
Call it in ``prepare`` as ``self.run_frozen(module, inputs)``: no gradients, and the precision the adapter's
``encoder_precision`` config asks for (bf16 autocast on CPUs with bf16 arithmetic by default), outputs in float32.
Under bf16 it runs a copy whose product weights were cast once (``Adapter.runner``); override ``runner`` to run a
faster equivalent of your encoder, and test that it gives the same output.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter, pad_tokens

from . import ADAPTER_KIND, ADAPTER_VERSION

DEFAULTS = {"max_bytes": 64}


class ByteStyleAdapter(Adapter):
    modality = "style_text"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        # Store the full config (defaults included): it is saved with the weights and given back on load.
        super().__init__(d_ctx, {**DEFAULTS, **(config or {})})
        self.max_bytes = int(self.config["max_bytes"])
        self.bytes = nn.Embedding(256, d_ctx)
        self.position = nn.Parameter(torch.zeros(self.max_bytes, d_ctx))

    def prepare(self, value: Any) -> torch.Tensor:
        if not isinstance(value, str):
            raise InvalidInputError(f"style_text must be a string, got {type(value).__name__}")
        data = value.strip().encode("utf-8")[: self.max_bytes]
        if not data:
            raise InvalidInputError("style_text is empty; describe the style, e.g. 'whispering'")
        return torch.tensor(list(data), dtype=torch.long)

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.position.device
        tokens = [self.bytes(p.to(device)) + self.position[: len(p)] for p in prepared]
        return pad_tokens(tokens)
