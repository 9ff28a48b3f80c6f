"""LAION-CLAP through transformers, when its weights are in the local Hugging Face cache (or a directory).

One model serves two metrics: audio embeddings for FAD and the text-audio agreement of ``clap_score``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import MetricUnavailable

DEFAULT_CLAP = "laion/clap-htsat-unfused"
CLAP_RATE = 48_000


@functools.lru_cache(maxsize=2)
def load_clap(model: str = DEFAULT_CLAP, device: str = "cpu") -> tuple[Any, Any, Any]:
    """(ClapModel, feature extractor, tokenizer) from local files only; ``MetricUnavailable`` if absent."""
    from ..weights import hf_weights_present

    if not hf_weights_present(model):
        raise MetricUnavailable(
            f"CLAP weights {model!r} are not available locally; fetch them once online with "
            f"`python -c \"from transformers import ClapModel as C; C.from_pretrained('{model}')\"` or pass clap_model= a directory"
        )
    from transformers import AutoFeatureExtractor, AutoTokenizer, ClapModel

    network = ClapModel.from_pretrained(model, local_files_only=True).to(device).eval().requires_grad_(False)
    features = AutoFeatureExtractor.from_pretrained(model, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    return network, features, tokenizer


def _pooled(output: Any) -> Any:
    """transformers 5 returns a model output whose pooler_output is the normalised projection; 4.x a tensor."""
    return output.pooler_output if hasattr(output, "pooler_output") else output


class ClapEmbedder:
    """One 512-d CLAP audio embedding per clip (48 kHz input; CLAP reads up to 10 s)."""

    name = "clap"
    sample_rate = CLAP_RATE

    def __init__(self, clap_model: str = DEFAULT_CLAP, device: str = "cpu") -> None:
        self.device = device
        self.network, self.features, self.tokenizer = load_clap(clap_model, device)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        import torch

        inputs = self.features(audio, sampling_rate=self.sample_rate, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            vector = _pooled(self.network.get_audio_features(**inputs))
        return torch.nn.functional.normalize(vector, dim=-1).double().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import torch

        inputs = self.tokenizer(texts, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            vector = _pooled(self.network.get_text_features(**inputs))
        return torch.nn.functional.normalize(vector, dim=-1).double().cpu().numpy()
