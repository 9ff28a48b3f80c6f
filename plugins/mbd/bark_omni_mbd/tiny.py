"""MBD bands built with audiocraft's own builders at any size, with seeded random weights.

``TINY_UNET`` gives a few-thousand-parameter MBD for tests; ``configs.UNET`` the real layout for benchmarks. The
energy processors are fitted on seeded noise, as audiocraft fits them on the first training batches, so that
their statistics are defined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .configs import N_BANDS, SAMPLE_RATE, TINY_UNET, band_config

TINY_SEED = 1234


def build_bands(unet: dict[str, Any] = TINY_UNET, seed: int = TINY_SEED) -> list[tuple[Any, Any, Any]]:
    """``(cfg, model, processor)`` for each of the four bands."""
    import torch

    from .audiocraft_support import require_audiocraft

    ac = require_audiocraft()
    bands = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for idx in range(N_BANDS):
            cfg = band_config(idx, unet)
            model = ac.builders.get_diffusion_model(cfg).eval()
            processor = ac.builders.get_processor(cfg=cfg.processor, sample_rate=SAMPLE_RATE)
            processor.project_sample(0.1 * torch.randn(4, 1, SAMPLE_RATE // 5))  # fits the band statistics
            bands.append((cfg, model, processor))
    return bands


def write_tiny_mbd(path: Path, seed: int = TINY_SEED) -> Path:
    """A tiny MBD package at ``path`` (an ``mbd_comp_8.pt`` in audiocraft's format)."""
    from .package import write_mbd_package

    return write_mbd_package(path, build_bands(TINY_UNET, seed))
