"""transformers' ``EncodecModel`` weights -> the ``encodec`` package's 24 kHz ``EncodecModel`` (what Bark decodes with).

The two differ only in names: ``encoder.layers.N`` is ``encoder.model.N``, a convolution's parameters sit one
level deeper (``conv.conv`` or, for transposed convolutions, ``convtr.convtr``), the quantizer is
``quantizer.vq.layers.N._codebook``, and weight norm is stored either the old way (``weight_g``/``weight_v``) or
as parametrizations (``parametrizations.weight.original0``/``original1``, same tensors). Every key must land on
a key of the target model.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import torch

from bark_omni.errors import CheckpointError

# what Bark's EnCodec is; a transformers codec config that differs cannot be the 24 kHz model
EXPECTED_CONFIG = {"model_type": "encodec", "sampling_rate": 24_000, "audio_channels": 1, "codebook_size": 1024,
                   "hidden_size": 128, "num_filters": 32, "upsampling_ratios": [8, 5, 4, 2], "norm_type": "weight_norm"}
WEIGHT_NORM = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}
CONV_KEY = re.compile(r"(?P<path>(encoder|decoder)\.layers\.[\d.a-z_]*?)\.conv\.(?P<param>bias|weight|weight_g|weight_v|"
                      r"parametrizations\.weight\.original[01])")
LSTM_KEY = re.compile(r"(?P<part>encoder|decoder)\.layers\.(?P<index>\d+)\.lstm\.(?P<param>\w+)")
CODEBOOK_KEY = re.compile(r"quantizer\.layers\.(?P<index>\d+)\.codebook\.(?P<param>inited|cluster_size|embed|embed_avg)")


def check_codec_config(codec_config: dict[str, Any], source: str) -> None:
    for key, want in EXPECTED_CONFIG.items():
        if key in codec_config and codec_config[key] != want:
            raise CheckpointError(f"{source}: codec_config.{key} is {codec_config[key]!r}, but Bark's EnCodec is the "
                                  f"24 kHz model ({key}={want!r}); this codec cannot decode Bark's tokens")


def _candidates(key: str) -> list[str]:
    """Where ``key`` may live in the encodec package's model (the caller picks the one that exists)."""
    match = CONV_KEY.fullmatch(key)
    if match:
        path = match["path"].replace(".layers.", ".model.", 1)
        param = WEIGHT_NORM.get(match["param"], match["param"])
        return [f"{path}.conv.conv.{param}", f"{path}.convtr.convtr.{param}"]
    match = LSTM_KEY.fullmatch(key)
    if match:
        return [f"{match['part']}.model.{match['index']}.lstm.{match['param']}"]
    match = CODEBOOK_KEY.fullmatch(key)
    if match:
        return [f"quantizer.vq.layers.{match['index']}._codebook.{match['param']}"]
    return []


def rename_encodec_keys(state: dict[str, torch.Tensor], target_keys: set[str], source: str) -> dict[str, torch.Tensor]:
    renamed: dict[str, torch.Tensor] = {}
    unmatched = []
    for key, value in state.items():
        target = next((c for c in _candidates(key) if c in target_keys), None)
        if target is None:
            unmatched.append(f"codec_model.{key}")
        else:
            renamed[target] = value
    if unmatched:
        raise CheckpointError(f"{source}: no EnCodec 24 kHz counterpart for {unmatched[:5]}"
                              f"{f' and {len(unmatched) - 5} more' if len(unmatched) > 5 else ''}")
    missing = sorted(target_keys - set(renamed))
    if missing:
        raise CheckpointError(f"{source}: the codec lacks {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return renamed


@functools.lru_cache(maxsize=1)
def encodec_24khz_layout() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Key -> (shape, dtype) of the encodec package's 24 kHz model (built once per process)."""
    from bark_omni.checkpoints import encodec_24khz

    return {k: (tuple(v.shape), v.dtype) for k, v in encodec_24khz().state_dict().items()}


def load_encodec(state: dict[str, torch.Tensor], codec_config: dict[str, Any], source: str) -> Any:
    """The ``encodec`` package's 24 kHz model (6 kbps, frozen) holding transformers' codec weights."""
    from bark_omni.checkpoints import encodec_24khz

    check_codec_config(codec_config, source)
    layout = encodec_24khz_layout()
    renamed = rename_encodec_keys(state, set(layout), source)
    for key, value in renamed.items():
        if tuple(value.shape) != layout[key][0]:
            raise CheckpointError(f"{source}: codec key {key} has shape {tuple(value.shape)}, EnCodec 24 kHz expects "
                                  f"{layout[key][0]}")
    return encodec_24khz({k: v.to(layout[k][1]) for k, v in renamed.items()})
