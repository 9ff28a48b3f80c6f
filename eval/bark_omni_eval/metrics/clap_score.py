"""CLAP score: cosine similarity between CLAP's embedding of the audio and of its caption (LAION-CLAP weights
through transformers, local files only; a clear skip otherwise)."""

from __future__ import annotations

import numpy as np

from ..audio import resample, to_mono
from ..embedders.clap import DEFAULT_CLAP, ClapEmbedder
from ..errors import MetricUnavailable
from ..text_norm import normalize_transcript


def compute(audio: np.ndarray, sample_rate: int, caption: str | None, clap_model: str = DEFAULT_CLAP,
            device: str = "cpu") -> dict[str, float]:
    """Agreement of the audio with its caption (the prompt's ``caption``, else its words), in [-1, 1]."""
    text = normalize_transcript(caption or "")
    if not text:
        raise MetricUnavailable("the prompt has no caption or words for CLAP to compare the audio with")
    embedder = ClapEmbedder(clap_model, device)
    audio_vector = embedder.embed(resample(to_mono(audio), sample_rate, embedder.sample_rate))[0]
    text_vector = embedder.embed_text([text])[0]
    return {"clap_score": float(np.dot(audio_vector, text_vector))}
