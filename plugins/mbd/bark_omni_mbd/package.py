"""audiocraft's MultiBandDiffusion package (``mbd_comp_8.pt``): read safely, written for tests, built into models.

The package is a torch pickle ``{"sample_rate", "n_bands", 0: {"cfg", "model_state", "processor_state"}, 1: ...}``
whose ``cfg`` is an OmegaConf ``DictConfig``. audiocraft's own loader unpickles it without restriction; we read it
through ``bark_omni.safe_load.safe_torch_load`` (``weights_only=True``) with exactly the OmegaConf container classes
added to the allowlist, so a file that asks for anything else is refused before any of it runs.
"""

from __future__ import annotations

import collections
import functools
import os
import tempfile
import typing
from pathlib import Path
from typing import Any, Sequence

from bark_omni.errors import CheckpointError

from .configs import N_Q, SAMPLE_RATE

CODEC_DIM = 128  # EnCodec 24 kHz latent channels: what the U-Net's conditioning layer must take


def omegaconf_globals() -> list[Any]:
    """The classes a pickled ``DictConfig`` names: OmegaConf's containers and value nodes, and plain types."""
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode

    return [DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, BooleanNode, FloatNode, IntegerNode,
            StringNode, typing.Any, dict, list, int, float, str, bool, collections.defaultdict]


def read_mbd_package(path: Path) -> dict[Any, Any]:
    """Load and check the package's structure; typed errors for unsafe, unreadable or foreign files."""
    import torch
    from bark_omni.safe_load import safe_torch_load

    with torch.serialization.safe_globals(omegaconf_globals()):
        pkg = safe_torch_load(path)
    if not isinstance(pkg, dict) or not isinstance(pkg.get("n_bands"), int) or "sample_rate" not in pkg:
        raise CheckpointError(f"{path} is not an audiocraft MultiBandDiffusion package (no n_bands/sample_rate); "
                              f"use mbd_comp_8.pt from facebook/multiband-diffusion")
    if pkg["sample_rate"] != SAMPLE_RATE:
        raise CheckpointError(f"{path} is a MultiBandDiffusion for {pkg['sample_rate']} Hz audio; Bark's EnCodec needs "
                              f"the 24 kHz one, mbd_comp_8.pt")
    for band in range(pkg["n_bands"]):
        entry = pkg.get(band)
        if not isinstance(entry, dict) or not {"cfg", "model_state", "processor_state"} <= set(entry):
            raise CheckpointError(f"{path}: band {band} lacks cfg/model_state/processor_state; is the file complete?")
        cfg = entry["cfg"]
        if cfg.diffusion_unet.get("codec_dim") != CODEC_DIM:
            raise CheckpointError(f"{path}: band {band} is not conditioned on EnCodec 24 kHz latents "
                                  f"(codec_dim={cfg.diffusion_unet.get('codec_dim')}, expected {CODEC_DIM})")
        n_q = cfg.get("n_q")
        if n_q is not None and n_q != N_Q:
            raise CheckpointError(f"{path} was trained on {n_q} codebooks; Bark makes {N_Q}: use mbd_comp_{N_Q}.pt")
    return pkg


def diffusion_processes(pkg: dict[Any, Any], device: str) -> list[Any]:
    """One audiocraft ``DiffusionProcess`` per band, built by audiocraft's builders from the package."""
    from .audiocraft_support import require_audiocraft

    ac = require_audiocraft()
    processes = []
    for band in range(pkg["n_bands"]):
        cfg = pkg[band]["cfg"]
        model = ac.builders.get_diffusion_model(cfg)
        processor = ac.builders.get_processor(cfg=cfg.processor, sample_rate=pkg["sample_rate"])
        try:
            model.load_state_dict(pkg[band]["model_state"])
            processor.load_state_dict(pkg[band]["processor_state"])
        except RuntimeError as exc:
            raise CheckpointError(f"band {band}'s weights do not fit its configuration: {str(exc).splitlines()[0]}") from None
        model = model.to(device).eval().requires_grad_(False)
        schedule = ac.NoiseSchedule(**cfg.schedule, sample_processor=processor.to(device), device=device)
        processes.append(ac.DiffusionProcess(model=model, noise_schedule=schedule))
    return processes


@functools.lru_cache(maxsize=2)
def _cached_processes(path: str, mtime_ns: int, size: int, device: str) -> list[Any]:
    return diffusion_processes(read_mbd_package(Path(path)), device)


def load_diffusion_processes(path: Path, device: str) -> list[Any]:
    """The bands of the package at ``path`` on ``device``, loaded once per process (a real one is ~2.6 GB)."""
    stat = Path(path).stat()
    return _cached_processes(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, str(device))


def write_mbd_package(path: Path, bands: Sequence[tuple[Any, Any, Any]], sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``(cfg, model, processor)`` bands in audiocraft's package layout, atomically (for tests and tools)."""
    import torch

    pkg: dict[Any, Any] = {"sample_rate": sample_rate, "n_bands": len(bands)}
    for index, (cfg, model, processor) in enumerate(bands):
        pkg[index] = {"cfg": cfg, "model_state": model.state_dict(), "processor_state": processor.state_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(pkg, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
