"""Everyday transformations a watermark should survive, named so that reports read plainly."""

from __future__ import annotations

import io
from typing import Callable

import numpy as np

from .audio import add_noise, resample, to_mono

Attack = Callable[[np.ndarray, int], np.ndarray]


def _lowpass(audio: np.ndarray, rate: int, cutoff: float = 4000.0) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, cutoff, fs=rate, output="sos"), audio).astype(np.float32)


def _resample_trip(audio: np.ndarray, rate: int, via: int = 16_000) -> np.ndarray:
    back = resample(resample(audio, rate, via), via, rate)
    return np.pad(back, (0, max(0, len(audio) - len(back))))[: len(audio)]


def _speed(audio: np.ndarray, rate: int, factor: float = 1.02) -> np.ndarray:
    """Play ``factor`` times faster (pitch moves too), as a re-clocked recording does."""
    positions = np.arange(0, len(audio) - 1, factor)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def _mp3(audio: np.ndarray, rate: int) -> np.ndarray:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="MP3", subtype="MPEG_LAYER_III")
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return to_mono(decoded)


def mp3_supported() -> bool:
    import soundfile as sf

    return "MP3" in sf.available_formats()


ATTACKS: dict[str, Attack] = {
    "none": lambda audio, rate: audio,
    "noise_20db": lambda audio, rate: add_noise(audio, 20.0, seed=1),
    "gain_-6db": lambda audio, rate: (audio * 10 ** (-6 / 20)).astype(np.float32),
    "lowpass_4khz": _lowpass,
    "resample_16khz": _resample_trip,
    "crop_first_quarter": lambda audio, rate: audio[len(audio) // 4:],
    "speed_+2%": _speed,
    "mp3": _mp3,
}


def available_attacks() -> list[str]:
    return [name for name in ATTACKS if name != "mp3" or mp3_supported()]
