"""Loudness: integrated LUFS (ITU-R BS.1770-4 via pyloudnorm) and true peak (4x oversampled), robust to short
clips and silence so that a suite never dies on an odd generation."""

from __future__ import annotations

import numpy as np

from ..audio import resample, to_mono

SILENCE_LUFS = -70.0  # BS.1770's absolute gate: anything quieter reads as silence
SILENCE_DB = -120.0  # floor reported for the peak of digital silence
GATE_BLOCK_S = 0.4


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS. Clips shorter than one 400 ms gating block are measured as one block of
    their own length; silence (or anything under the absolute gate) reads ``SILENCE_LUFS``."""
    import pyloudnorm

    audio = to_mono(audio).astype(np.float64)
    if len(audio) == 0 or not np.any(audio):
        return SILENCE_LUFS
    block = min(GATE_BLOCK_S, len(audio) / sample_rate)
    value = pyloudnorm.Meter(sample_rate, block_size=block).integrated_loudness(audio)
    return float(value) if np.isfinite(value) and value > SILENCE_LUFS else SILENCE_LUFS


def true_peak_db(audio: np.ndarray, sample_rate: int, oversample: int = 4) -> float:
    """True peak in dBTP: the sample peak after ``oversample``x polyphase upsampling (BS.1770-4, annex 2)."""
    audio = to_mono(audio).astype(np.float64)
    if len(audio) == 0 or not np.any(audio):
        return SILENCE_DB
    factor = oversample if sample_rate < 96_000 else 1
    upsampled = resample(audio, sample_rate, sample_rate * factor, np.float64) if len(audio) > 1 else audio
    peak = max(float(np.max(np.abs(upsampled))), float(np.max(np.abs(audio))))
    return max(SILENCE_DB, 20.0 * np.log10(peak))


def compute(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the generated audio."""
    return {"lufs": integrated_loudness(audio, sample_rate), "true_peak_dbtp": true_peak_db(audio, sample_rate)}
