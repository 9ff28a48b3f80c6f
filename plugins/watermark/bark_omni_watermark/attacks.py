"""The edits a watermark must survive, as plain functions ``attack(audio, sr, rng) -> audio`` (same rate).

Used by ``robustness`` and bench/watermark_robustness.py. Codecs go through libsndfile (soundfile's MP3 and
OGG/Opus support), so no ffmpeg is needed.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np

Attack = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = math.gcd(sr, target)
    return resample_poly(x, target // g, sr // g)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.concatenate([y, np.zeros(n - len(y))])


def resample_16k(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    return _fit(_resample(_resample(x, sr, 16000), 16000, sr), len(x))


def _codec(fmt: str, subtype: str, level: float) -> Attack:
    def encode(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        import soundfile as sf

        buf = io.BytesIO()
        extra = {"bitrate_mode": "CONSTANT"} if fmt == "MP3" else {}
        sf.write(buf, np.clip(x, -1, 1), sr, format=fmt, subtype=subtype, compression_level=level, **extra)
        buf.seek(0)
        y, _ = sf.read(buf, dtype="float64")
        return y

    return encode


def white_noise(snr_db: float) -> Attack:
    def add(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        power = float(np.mean(x**2)) / 10 ** (snr_db / 10)
        return x + rng.normal(scale=math.sqrt(power), size=len(x))

    return add


def gain(db: float) -> Attack:
    return lambda x, sr, rng: x * 10 ** (db / 20)


def butterworth(kind: str, cutoff: float, order: int = 8) -> Attack:
    def apply(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        return sosfilt(butter(order, cutoff, kind, fs=sr, output="sos"), x)

    return apply


def crop(fraction: float) -> Attack:
    """Cut ``fraction`` of the clip, split at random between its start and its end."""

    def cut(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        n = int(len(x) * fraction)
        head = int(rng.integers(0, n + 1))
        return x[head : len(x) - (n - head)]

    return cut


def shift(fraction: float) -> Attack:
    """Delay the clip by up to ``fraction`` of its length (silence in front), keeping its length."""

    def delay(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        n = int(rng.integers(1, int(len(x) * fraction) + 1))
        return np.concatenate([np.zeros(n), x])[: len(x)]

    return delay


def speed(factor: float) -> Attack:
    """Play ``factor`` times faster (pitch and tempo together, like sox ``speed``)."""

    def change(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import resample_poly

        up, down = 1000, int(round(1000 * factor))
        g = math.gcd(up, down)
        return resample_poly(x, up // g, down // g)

    return change


ATTACKS: dict[str, Attack] = {
    "none": lambda x, sr, rng: x,
    "resample_16k": resample_16k,
    "mp3_56k": _codec("MP3", "MPEG_LAYER_III", 0.7),
    "opus_32k": _codec("OGG", "OPUS", 0.9),
    "noise_20db": white_noise(20.0),
    "gain_+6db": gain(6.0),
    "gain_-6db": gain(-6.0),
    "lowpass_4k": butterworth("lowpass", 4000.0),
    "highpass_500": butterworth("highpass", 500.0),
    "crop_10pct": crop(0.10),
    "shift_10pct": shift(0.10),
    "speed_+5pct": speed(1.05),
    "speed_-5pct": speed(0.95),
}
