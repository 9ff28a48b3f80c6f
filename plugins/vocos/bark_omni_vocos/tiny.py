"""A tiny vocos-encodec-24khz, built from vocos' own classes and written in the Hugging Face layout, for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .weights import BACKBONE_CLASS, BARK_CODEBOOKS, CONFIG_FILE, HEAD_CLASS, HOP_LENGTH, WEIGHTS_FILE

REAL_BACKBONE = dict(input_channels=128, dim=384, intermediate_dim=1152, num_layers=8, adanorm_num_embeddings=4)
TINY_BACKBONE = dict(REAL_BACKBONE, dim=16, intermediate_dim=32, num_layers=1)
BANDWIDTHS = [1.5, 3.0, 6.0, 12.0]


def vocos_config(backbone: dict[str, Any]) -> dict[str, Any]:
    """The published model's config.yaml layout, with the given backbone size."""
    return {
        "feature_extractor": {"class_path": "vocos.feature_extractors.EncodecFeatures",
                              "init_args": {"encodec_model": "encodec_24khz", "bandwidths": BANDWIDTHS,
                                            "train_codebooks": False}},
        "backbone": {"class_path": BACKBONE_CLASS, "init_args": dict(backbone)},
        "head": {"class_path": HEAD_CLASS,
                 "init_args": {"dim": backbone["dim"], "n_fft": 4 * HOP_LENGTH, "hop_length": HOP_LENGTH, "padding": "same"}},
    }


def build_vocos(codec: Any, backbone: dict[str, Any] = TINY_BACKBONE, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, state dict) of a Vocos with seeded random weights whose codebooks are ``codec``'s (as vocos stores them)."""
    import torch
    from vocos import Vocos
    from vocos.feature_extractors import FeatureExtractor
    from vocos.heads import ISTFTHead
    from vocos.models import VocosBackbone

    config = vocos_config(backbone)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Vocos(FeatureExtractor(), VocosBackbone(**config["backbone"]["init_args"]),
                      ISTFTHead(**config["head"]["init_args"]))
    state = dict(model.state_dict())
    layers = codec.quantizer.vq.layers[: 2 * BARK_CODEBOOKS]  # 12 kbps: 16 codebooks, as the real file holds
    state["feature_extractor.codebook_weights"] = torch.cat([layer.codebook for layer in layers]).detach().cpu().clone()
    return config, state


def write_tiny_vocos(directory: Path, codec: Any, seed: int = 0) -> Path:
    import torch

    config, state = build_vocos(codec, TINY_BACKBONE, seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(yaml.safe_dump(config), encoding="utf-8")
    torch.save(state, directory / WEIGHTS_FILE)
    return directory
