"""The offline default FAD embedder: statistics of log-mel spectra over half-second segments.

It needs no weights, so FAD always runs (tests, CI, air-gapped machines). It captures spectral envelope and
its short-term variation, not semantics: use it to catch regressions between runs, and VGGish or CLAP
embeddings for distances comparable with published numbers.
"""

from __future__ import annotations

import numpy as np

from ..dsp import log_mel


class LogMelStatsEmbedder:
    """Mean and standard deviation of 64 log-mel bands over 0.48 s segments (hop 0.24 s): 128-d frames."""

    name = "logmel"
    sample_rate = 16_000

    def __init__(self, segment_frames: int = 48, hop_frames: int = 24) -> None:
        self.segment_frames = segment_frames
        self.hop_frames = hop_frames

    def embed(self, audio: np.ndarray) -> np.ndarray:
        mel = log_mel(audio, self.sample_rate)
        if len(mel) <= self.segment_frames:
            segments = [mel]
        else:
            starts = range(0, len(mel) - self.segment_frames + 1, self.hop_frames)
            segments = [mel[s:s + self.segment_frames] for s in starts]
        return np.stack([np.concatenate([s.mean(axis=0), s.std(axis=0)]) for s in segments]).astype(np.float64)
