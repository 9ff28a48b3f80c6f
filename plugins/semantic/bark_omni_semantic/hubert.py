"""HuBERT features at 16 kHz, and the semantic tokenizer that turns them into Bark semantic ids.

Real use: transformers' ``HubertModel`` with facebook/hubert-base-ls960 (768 wide, 50 frames/s, close to Bark's
49.9 Hz semantic rate), hidden states of layer ``LAYER`` (9, as the community quantizers were trained), read from
the local Hugging Face cache; ``allow_download=True`` (``bark-omni semantic download``) fetches them. For the tiny
Bark (tests, offline demos) ``tiny_hubert_dir`` writes a random 2-layer HuBERT with the same 320-sample hop
(``save_pretrained``), loaded back through the same ``from_pretrained`` path as the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.errors import ModelNotFoundError

HUBERT_NAME = "facebook/hubert-base-ls960"
HUBERT_RATE = 16_000
LAYER = 9
TINY_HUBERT_SEED = 2468
TINY_HUBERT = {
    "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
    "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2,
    "hidden_dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "feat_proj_dropout": 0.0,
    "layerdrop": 0.0, "mask_time_prob": 0.0,
}
TINY_LAYER = 2


def tiny_hubert_dir() -> Path:
    """A tiny random HuBERT (seeded) in bark-omni's cache, written with ``save_pretrained`` on first use."""
    import torch
    from transformers import HubertConfig, HubertModel

    from bark_omni.paths import bark_omni_cache_dir

    target = bark_omni_cache_dir() / "tiny-hubert-v1"
    if (target / "config.json").is_file():
        return target
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_HUBERT_SEED)
        model = HubertModel(HubertConfig(**TINY_HUBERT))
    staging = target.with_name(target.name + f".tmp{id(model)}")
    model.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:  # another process wrote it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_hubert(source: str | Path, device: str, allow_download: bool = False) -> Any:
    """``HubertModel`` from a folder or a hub id (local cache only unless ``allow_download``), eval, frozen."""
    from transformers import HubertModel

    try:
        model = HubertModel.from_pretrained(str(source), local_files_only=not allow_download)
    except OSError:
        raise ModelNotFoundError(f"no local HuBERT weights for {source}; fetch them once online with "
                                 "`bark-omni semantic download` (or pass a folder)") from None
    return model.to(device).eval().requires_grad_(False)


def hubert_features(model: Any, samples: np.ndarray, sample_rate: int, layer: int) -> Any:
    """Hidden states of ``layer`` for mono samples: a (T, hidden) float tensor at 50 frames/s."""
    import torch

    from bark_omni.audio import resample

    wav = torch.from_numpy(np.ascontiguousarray(resample(samples, sample_rate, HUBERT_RATE)))
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(wav[None].to(device), output_hidden_states=True)
    return out.hidden_states[layer][0].float()


@dataclass
class SemanticTokenizer:
    """HuBERT + a quantizer head: ``tokenizer(samples, sample_rate) -> np.ndarray`` of Bark semantic ids."""

    hubert: Any
    head: Any
    layer: int

    def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        import torch

        features = hubert_features(self.hubert, np.asarray(samples, dtype=np.float32), sample_rate, self.layer)
        head_device = next(self.head.parameters()).device
        with torch.inference_mode():
            logits = self.head(features[None].to(head_device))[0]
        return logits.argmax(dim=-1).cpu().numpy().astype(np.int64)
