"""Clips for the metrics and noise at a given SNR; reading, mixing to mono and resampling come from the core's
audio toolbox (``bark_omni.audio``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bark_omni.audio import read_audio, resample, to_mono
from bark_omni.errors import InvalidInputError

__all__ = ["Clip", "add_noise", "as_clip", "read_clip", "resample", "to_mono"]


@dataclass(frozen=True)
class Clip:
    """A mono waveform and its sample rate: what set-level metrics (FAD) and references are made of."""

    audio: np.ndarray
    sample_rate: int
    name: str = ""

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


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
    audio, rate = read_audio(Path(path))
    return Clip(audio, rate, name=Path(path).stem)


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
