"""Reading a reference recording into what EnCodec expects: mono float32 at 24 kHz, loudness-normalised.

Anything unusable (unreadable file, NaN samples, silence, too short) raises ``InvalidInputError`` with one
line saying what to pass instead, so users hear about it before any generation starts.
"""

from __future__ import annotations

import os
import warnings
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.constants import SAMPLE_RATE
from bark_omni.errors import InvalidInputError

SILENCE_LUFS = -70.0  # below this integrated loudness (EBU R128's absolute gate) there is nothing to hear
MAX_CHANNELS = 64


def read_audio(value: Any) -> tuple[np.ndarray, int]:
    """(samples, sample_rate) from a path, ``(array, rate)`` or ``{"array": ..., "sampling_rate": ...}``."""
    if isinstance(value, (str, os.PathLike)):
        return _read_file(Path(value))
    if isinstance(value, dict) and {"array", "sampling_rate"} <= set(value):
        return _as_array(value["array"]), _as_rate(value["sampling_rate"])
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return _as_array(value[0]), _as_rate(value[1])
    if hasattr(value, "shape"):
        raise InvalidInputError("reference_audio given as an array needs its sample rate: pass (array, sample_rate)")
    raise InvalidInputError(f"reference_audio must be a file path or (array, sample_rate), got {type(value).__name__}")


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not path.is_file():
        raise InvalidInputError(f"reference audio {path} does not exist; pass the path of a WAV, FLAC, OGG or MP3 file")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decoding failure through its own error types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"cannot read reference audio {path} ({reason}); pass a WAV, FLAC, OGG or MP3 file") from None
    return samples, int(rate)


def _as_rate(rate: Any) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer, float)) or not 1000 <= rate <= 768_000 or rate != int(rate):
        raise InvalidInputError(f"sample rate must be a whole number of Hz between 1000 and 768000, got {rate!r}")
    return int(rate)


def _as_array(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    try:
        array = np.asarray(array)
    except Exception:
        raise InvalidInputError("reference audio samples must be a numeric array") from None
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2  # 0 for signed, 128 for uint8
        return ((array.astype(np.float64) - middle) / (info.max - middle + 1)).astype(np.float32)
    if array.dtype.kind != "f":
        raise InvalidInputError(f"reference audio samples must be numbers, got an array of {array.dtype}")
    return array.astype(np.float32, copy=False)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels; accepts (n,), (n, channels) and (channels, n)."""
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2 or samples.size == 0:
        raise InvalidInputError(f"reference audio must be 1-D or (samples, channels), got shape {samples.shape}")
    channel_axis = 1 if samples.shape[1] <= samples.shape[0] else 0
    if samples.shape[channel_axis] > MAX_CHANNELS:
        raise InvalidInputError(f"reference audio has shape {samples.shape}: which axis is channels? pass (samples, channels)")
    return samples.mean(axis=channel_axis)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


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
    samples, rate = read_audio(value)
    samples = to_mono(samples)
    if not np.all(np.isfinite(samples)):
        raise InvalidInputError("reference audio contains NaN or infinite samples; pass a clean recording")
    seconds = len(samples) / rate
    if seconds < min_seconds:
        raise InvalidInputError(f"reference audio is {seconds:.2f} s long; give at least {min_seconds:g} s")
    samples = resample(samples[: int(round(max_seconds * rate))], rate)
    return normalise_loudness(samples, SAMPLE_RATE, target_lufs)
