"""The edits a watermark must survive, as plain functions ``attack(audio, sr, rng) -> audio`` (same rate).

Used by ``robustness`` and bench/watermark_robustness.py. Codecs go through libsndfile (soundfile's MP3 and
OGG/Opus support), so no ffmpeg is needed.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np
from bark_omni.audio import resample

Attack = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    return resample(x, sr, target, np.float64)


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
        return resample(x, int(round(1000 * factor)), 1000, np.float64)

    return change


def pitch_shift(semitones: float) -> Attack:
    """Shift the pitch, keeping the duration (librosa: phase-vocoder stretch, then resampling)."""

    def shift(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return _fit(librosa.effects.pitch_shift(np.asarray(x, dtype=np.float32), sr=sr, n_steps=semitones), len(x))

    return shift


def tempo(factor: float) -> Attack:
    """Play ``factor`` times faster keeping the pitch (librosa's phase-vocoder time stretch, like sox ``tempo``)."""

    def stretch(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return librosa.effects.time_stretch(np.asarray(x, dtype=np.float32), rate=factor).astype(np.float64)

    return stretch


def reverb(rt60_s: float, wet: float = 0.5) -> Attack:
    """A room: exponentially decaying noise impulse response reaching -60 dB after ``rt60_s``, mixed wet/dry."""

    def room(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import fftconvolve

        t = np.arange(int(rt60_s * sr)) / sr
        ir = rng.normal(size=len(t)) * 10 ** (-3 * t / rt60_s)
        ir[0] = 0.0
        tail = fftconvolve(x, ir / np.sqrt(np.sum(ir**2)))[: len(x)]
        return (1 - wet) * x + wet * tail * np.std(x) / max(np.std(tail), 1e-12)

    return room


def pink_noise(snr_db: float) -> Attack:
    """Add 1/f noise at ``snr_db`` below the signal's power."""

    def add(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        spectrum = np.fft.rfft(rng.normal(size=len(x)))
        f = np.fft.rfftfreq(len(x), 1 / sr)
        spectrum /= np.sqrt(np.maximum(f, 20.0))
        noise = np.fft.irfft(spectrum, n=len(x))
        power = float(np.mean(x**2)) / 10 ** (snr_db / 10)
        return x + noise * math.sqrt(power / max(float(np.mean(noise**2)), 1e-30))

    return add


def speech_mix(snr_db: float) -> Attack:
    """Mix in another talker (espeak-ng, a different sentence and voice) at ``snr_db`` (0: equal power)."""

    def mix(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        from . import speech

        other = np.zeros(0)
        while len(other) < len(x):
            k = int(rng.integers(len(speech.SENTENCES)))
            voice = speech.VOICES[int(rng.integers(len(speech.VOICES)))]
            other = np.concatenate([other, speech.speak(speech.SENTENCES[k], voice, 170, 50, sr)])
        other = other[: len(x)]
        gain_ = math.sqrt(float(np.mean(x**2)) / max(float(np.mean(other**2)), 1e-30) / 10 ** (snr_db / 10))
        return x + gain_ * other

    return mix


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
    "pitch_+1st": pitch_shift(1.0),
    "pitch_-1st": pitch_shift(-1.0),
    "tempo_+10pct": tempo(1.10),
    "tempo_-10pct": tempo(0.90),
    "tempo_+2pct": tempo(1.02),
    "tempo_+5pct": tempo(1.05),
    "reverb_rt60_0.5s": reverb(0.5),
    "opus_16k": _codec("OGG", "OPUS", 0.95),  # about 16 kbps (measured on white noise at 24 kHz)
    "pink_noise_10db": pink_noise(10.0),
    "speech_mix_0db": speech_mix(0.0),
}
ISSUE_15_ATTACKS = ["none", "pitch_+1st", "pitch_-1st", "tempo_+10pct", "tempo_-10pct", "tempo_+2pct", "tempo_+5pct",
                    "reverb_rt60_0.5s", "opus_16k", "pink_noise_10db", "speech_mix_0db"]
"""The attacks an outside test found the v1 mark failing (issue 15), plus no attack."""
