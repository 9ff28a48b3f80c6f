"""The reference-audio adapter: Bark's frozen EnCodec encoder, frames pooled in time, then projected.

EnCodec's encoder is what Bark's codes come from, so its continuous frames (75 Hz, 128 wide, before
quantisation) describe voice and recording conditions in the space Bark's tokens live in. Frames are averaged
in groups of ``pool`` (default 8: about 9 tokens per second) so long references stay cheap to attend to.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bark_omni.constants import SAMPLE_RATE
from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter, frozen_copy, pad_tokens

from . import ADAPTER_KIND, ADAPTER_VERSION
from .encoder import CHUNK_SECONDS, chunked, quick_pads
from .loading import load_reference_audio

DEFAULTS = {"min_seconds": 1.0, "max_seconds": 10.0, "target_lufs": -23.0, "pool": 8}
ENCODEC_FRAME_RATE = 75


class ReferenceAudioAdapter(Adapter):
    """``prepare(path | (array, rate))`` -> (frames // pool, 128) EnCodec features; ``forward`` -> tokens.

    Config: ``min_seconds`` (1), ``max_seconds`` (10; longer recordings are cut), ``target_lufs`` (-23),
    ``pool`` (8 EnCodec frames per token), ``stages`` (default semantic only; add "coarse" for the timbre),
    ``encoder_precision`` ("auto": bf16 on a CPU with bf16 arithmetic; "float32"; "bfloat16").
    """

    modality = "reference_audio"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, models: Any, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, {**DEFAULTS, **(config or {})})
        cfg = self.config
        if not 0 < cfg["min_seconds"] <= cfg["max_seconds"] or int(cfg["pool"]) < 1:
            raise InvalidInputError(f"reference-audio adapter config is inconsistent: {cfg}")
        codec = self.hold_frozen("codec", models.codec)
        dim = codec.encoder.dimension
        self.max_tokens = math.ceil(cfg["max_seconds"] * ENCODEC_FRAME_RATE / int(cfg["pool"]))
        self.position = nn.Parameter(torch.zeros(self.max_tokens, dim))
        self.proj = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, d_ctx))

    def prepare(self, value: Any) -> torch.Tensor:
        cfg = self.config
        samples = load_reference_audio(value, min_seconds=cfg["min_seconds"], max_seconds=cfg["max_seconds"],
                                       target_lufs=cfg["target_lufs"])
        codec = self._frozen["codec"]
        device = next(codec.parameters()).device
        frames = self.run_frozen(codec.encoder, torch.from_numpy(samples).to(device)[None, None])  # (1, 128, T at 75 Hz)
        pooled = F.avg_pool1d(frames, int(cfg["pool"]), ceil_mode=True)
        return pooled[0].T[: self.max_tokens].detach()

    def runner(self, module: nn.Module, dtype: torch.dtype | None) -> nn.Module:
        """EnCodec's encoder with its weight norms folded, its weights cast once, its reflect padding done by
        concatenation (``encoder.quick_pads``) and its convolutions run over 2 s pieces (``encoder.chunked``): the
        same features (bit for bit on the lengths tested), in about half the time of EnCodec's encoder under bf16
        autocast on CPU."""
        return chunked(quick_pads(frozen_copy(module, dtype)), int(CHUNK_SECONDS * SAMPLE_RATE))

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        frames, mask = pad_tokens([p.to(self.position.device) for p in prepared])
        return self.proj(frames + self.position[: frames.shape[1]]), mask

