"""Small audio helpers shared by the metrics: mono float32 arrays, resampling, noise at a given SNR."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from bark_omni.errors import InvalidInputError


@dataclass(frozen=True)
class Clip:
    """A mono waveform and its sample rate: what set-level metrics (FAD) and references are made of."""

    audio: np.ndarray
    sample_rate: int
    name: str = ""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def to_mono(audio: object) -> np.ndarray:
    """A 1-D float32 copy of ``audio``; (samples, channels) and (channels, samples) are averaged to mono."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 2:
        channel_axis = 0 if array.shape[0] < array.shape[1] else 1
        array = array.mean(axis=channel_axis)
    if array.ndim != 1:
        raise InvalidInputError(f"audio must be 1-D (or 2-D with channels), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError("audio contains NaN or infinite samples; check the generator or decoder output")
    return array


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (exact for rational ratios such as 24000 -> 16000)."""
    audio = to_mono(audio)
    if source_rate == target_rate:
        return audio
    from scipy.signal import resample_poly

    g = gcd(int(source_rate), int(target_rate))
    return resample_poly(audio, target_rate // g, source_rate // g).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``audio`` plus white Gaussian noise at ``snr_db`` relative to the signal's mean power."""
    audio = to_mono(audio)
    power = float(np.mean(audio.astype(np.float64) ** 2))
    if power == 0.0:
        raise InvalidInputError("cannot set a signal-to-noise ratio on silent audio")
    noise = np.random.default_rng(seed).standard_normal(len(audio))
    return (audio + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def read_clip(path: str | Path) -> Clip:
    """Read an audio file into a mono ``Clip``; a missing or unreadable file is an ``InvalidInputError``."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"audio file {path} does not exist")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises its own error types
        raise InvalidInputError(f"cannot read {path} as audio ({exc}); use WAV, FLAC or OGG") from None
    return Clip(to_mono(audio), int(rate), name=path.stem)


def as_clip(value: object, default_rate: int | None = None) -> Clip:
    """Accept a ``Clip``, a path, or an ``(array, sample_rate)`` pair."""
    if isinstance(value, Clip):
        return value
    if isinstance(value, (str, Path)):
        return read_clip(value)
    if isinstance(value, tuple) and len(value) == 2:
        return Clip(to_mono(value[0]), int(value[1]))
    if default_rate is not None:
        return Clip(to_mono(value), default_rate)
    raise InvalidInputError("reference audio must be a path, a Clip or an (array, sample_rate) pair")
