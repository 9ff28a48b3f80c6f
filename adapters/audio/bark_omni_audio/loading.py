"""Reading a reference recording into what EnCodec expects: mono float32 at 24 kHz, loudness-normalised.

Anything unusable (unreadable file, NaN samples, silence, too short) raises ``InvalidInputError`` with one
line saying what to pass instead, so users hear about it before any generation starts.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bark_omni.audio import read_audio, resample
from bark_omni.constants import SAMPLE_RATE
from bark_omni.errors import InvalidInputError

SILENCE_LUFS = -70.0  # below this integrated loudness (EBU R128's absolute gate) there is nothing to hear


def normalise_loudness(samples: np.ndarray, rate: int, target_lufs: float) -> np.ndarray:
    """Integrated loudness to ``target_lufs`` (so a quiet and a loud take of a voice encode alike), peaks kept
    within [-1, 1]. Silence is an error: there is nothing to take a voice or style from."""
    import pyloudnorm

    loudness = pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64))
    if not np.isfinite(loudness) or loudness < SILENCE_LUFS:
        raise InvalidInputError("reference audio is silent; pass a recording with audible speech or sound")
    with warnings.catch_warnings():  # pyloudnorm warns about clipping; we limit the peak ourselves
        warnings.simplefilter("ignore")
        out = pyloudnorm.normalize.loudness(samples.astype(np.float64), loudness, target_lufs)
    peak = float(np.max(np.abs(out)))
    return (out / max(peak, 1.0)).astype(np.float32)


def load_reference_audio(value: Any, *, min_seconds: float, max_seconds: float, target_lufs: float) -> np.ndarray:
    """Mono float32 at 24 kHz, at most ``max_seconds`` (the start is kept), loudness-normalised."""
    samples, rate = read_audio(value, what="reference audio")
    seconds = len(samples) / rate
    if seconds < min_seconds:
        raise InvalidInputError(f"reference audio is {seconds:.2f} s long; give at least {min_seconds:g} s")
    samples = resample(samples[: int(round(max_seconds * rate))], rate, SAMPLE_RATE)
    return normalise_loudness(samples, SAMPLE_RATE, target_lufs)
