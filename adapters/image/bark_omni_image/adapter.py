"""The image adapter: a frozen CLIP vision tower, then a trainable projection into context tokens.

``tokens="pooled"`` (default) projects CLIP's image embedding into ``n_tokens`` context tokens: the embedding is
what CLIP aligns with text, so it carries the scene ("a rainy street", "a cathedral") compactly.
``tokens="patches"`` projects every patch token instead (49 for ViT-B-32), for spatial detail.

Before the projection, each feature dimension is standardised with running statistics of the images seen in
training (``FeatureStandardiser``): a frozen encoder's features share a large component across all images
(99% of the energy for the tiny CLIP on the proof tasks, and CLIP's embeddings sit in a narrow cone too), which
a per-image LayerNorm keeps; left in, it makes the image's tokens nearly the same for every image, and the
projection learns that constant first (docs/fusion.md).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from bark_omni.errors import InvalidInputError
from bark_omni.fusion import Adapter, pad_tokens

from . import ADAPTER_KIND, ADAPTER_VERSION
from .encoder import TINY, build_encoder
from .loading import load_image

REAL_DEFAULT = {"encoder": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"}
TINY_DEFAULT = {"encoder": TINY, "pretrained": None}
TOKEN_MODES = ("pooled", "patches")


def default_encoder(models: Any) -> dict[str, Any]:
    """The tiny CLIP for bark-omni's tiny Bark (tests, offline demos; known by its weights' fingerprint); real CLIP
    for every other model."""
    from bark_omni.tiny import is_tiny_model

    return dict(TINY_DEFAULT if is_tiny_model(models) else REAL_DEFAULT)


class FeatureStandardiser(nn.Module):
    """Per-dimension ``(x - mean) / std`` with running statistics (buffers, saved with the adapter, never trained
    by the optimiser): in training each batch updates them first (a cumulative average over the first batches,
    then an exponential one with ``momentum``), so any batch size works, a single image included."""

    def __init__(self, dim: int, momentum: float = 0.02, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("seen", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.update(x.detach().reshape(-1, x.shape[-1]))
        return (x - self.mean) * torch.rsqrt(self.var + self.eps)

    @torch.no_grad()
    def update(self, rows: torch.Tensor) -> None:
        n = rows.shape[0]
        w = max(self.momentum, n / (float(self.seen) + n))
        mean = rows.float().mean(0)
        var = rows.float().var(0, unbiased=False) if n > 1 else self.var
        first = float(self.seen) == 0
        self.var.copy_(var if first and n > 1 else (1 - w) * self.var + w * (var + (1 - w) * (mean - self.mean) ** 2))
        self.mean.copy_(mean if first else (1 - w) * self.mean + w * mean)
        self.seen.add_(n)


class ImageAdapter(Adapter):
    """``prepare(path | PIL image | array)`` -> CLIP features; ``forward`` -> (B, N, d_ctx) tokens and mask.

    Config: ``encoder`` (an open_clip model name, or "tiny"), ``pretrained`` (open_clip's weight tag, read from
    the local cache only), ``tokens`` ("pooled" or "patches"), ``n_tokens`` (pooled mode, default 4),
    ``stages`` (default semantic only), ``encoder_precision`` ("auto": bf16 on a CPU with bf16 arithmetic;
    "float32"; "bfloat16").
    """

    modality = "image"
    kind = ADAPTER_KIND
    version = ADAPTER_VERSION

    def __init__(self, models: Any, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        defaults = default_encoder(models) if "encoder" not in config else {}
        super().__init__(d_ctx, {"tokens": "pooled", "n_tokens": 4, **defaults, **config})
        cfg = self.config
        if cfg["tokens"] not in TOKEN_MODES:
            raise InvalidInputError(f"image adapter: tokens must be one of {', '.join(TOKEN_MODES)}, got {cfg['tokens']!r}")
        encoder = build_encoder(cfg["encoder"], cfg.get("pretrained"), models.device)
        self.hold_frozen("visual", encoder.visual)
        self._transform = encoder.transform
        if cfg["tokens"] == "patches":
            if encoder.token_dim is None:
                raise InvalidInputError(f"open_clip {cfg['encoder']} gives no patch tokens; use tokens='pooled'")
            self.standardise = FeatureStandardiser(encoder.token_dim)
            self.proj = nn.Sequential(nn.LayerNorm(encoder.token_dim), nn.Linear(encoder.token_dim, d_ctx))
        else:
            self.n_tokens = int(cfg["n_tokens"])
            self.standardise = FeatureStandardiser(encoder.embed_dim)
            self.proj = nn.Sequential(nn.LayerNorm(encoder.embed_dim), nn.Linear(encoder.embed_dim, self.n_tokens * d_ctx))

    def prepare(self, value: Any) -> torch.Tensor:
        image = load_image(value)
        visual = self._frozen["visual"]
        pixels = self._transform(image)[None].to(next(visual.parameters()).device)
        output = self.run_frozen(visual, pixels)
        pooled, patches = output if isinstance(output, tuple) else (output, None)
        return (patches[0] if self.config["tokens"] == "patches" else pooled[0]).detach()

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.proj[1].weight.device
        if self.config["tokens"] == "patches":
            patches, mask = pad_tokens([p.to(device) for p in prepared])
            return self.proj(self.standardise(patches)), mask
        tokens = self.proj(self.standardise(torch.stack([p.to(device) for p in prepared]))).view(len(prepared), self.n_tokens, self.d_ctx)
        return tokens, torch.ones(len(prepared), self.n_tokens, dtype=torch.bool, device=device)
