"""Training-time augmentations of adapter inputs. Every random choice comes from the generator passed in
(seeded per sample and step), so augmentation is reproducible across resumes and numbers of processes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .config import AugmentConfig

TARGET_LUFS = -23.0
_MIN_LOUDNESS_S = 0.4  # pyloudnorm's gating block


def _peak_safe(wav: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
    return wav * (0.99 / peak) if peak > 0.99 else wav


def loudness_jitter(wav: np.ndarray, sr: int, rng: np.random.Generator, db: float) -> np.ndarray:
    """Normalise to a loudness drawn in ``TARGET_LUFS ± db`` (ITU-R BS.1770 via pyloudnorm); clips too short
    to measure get the same gain on their RMS level instead."""
    import pyloudnorm as pyln

    target = TARGET_LUFS + rng.uniform(-db, db)
    if len(wav) > _MIN_LOUDNESS_S * sr:
        loudness = pyln.Meter(sr).integrated_loudness(wav.astype(np.float64))
        if np.isfinite(loudness):
            return _peak_safe(pyln.normalize.loudness(wav.astype(np.float64), loudness, target).astype(np.float32))
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if len(wav) else 0.0
    if rms == 0.0:
        return wav
    return _peak_safe((wav * (10 ** ((target - 20 * np.log10(rms)) / 20))).astype(np.float32))


def synthetic_rir(sr: int, rng: np.random.Generator) -> np.ndarray:
    """A room as exponentially decaying noise after a direct path, RT60 drawn in 0.15..0.8 s."""
    rt60 = rng.uniform(0.15, 0.8)
    t = np.arange(int(rt60 * sr)) / sr
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * 0.3
    ir[0] = 1.0
    return (ir / np.sqrt(np.sum(ir ** 2))).astype(np.float32)


@lru_cache(maxsize=8)
def _rir_files(directory: str) -> tuple[Path, ...]:
    return tuple(sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in (".wav", ".flac")))


def reverberate(wav: np.ndarray, sr: int, rng: np.random.Generator, rir_dir: str | None = None) -> np.ndarray:
    """Convolve with a room impulse response (a file from ``rir_dir`` or a synthetic room), same length and
    RMS level as the input."""
    from scipy.signal import fftconvolve

    files = _rir_files(rir_dir) if rir_dir else ()
    if files:
        from bark_omni.audio import resample

        from .media import load_audio

        ir, ir_sr = load_audio(files[int(rng.integers(len(files)))])
        ir = resample(ir, ir_sr, sr)
    else:
        ir = synthetic_rir(sr, rng)
    wet = fftconvolve(wav, ir)[: len(wav)].astype(np.float32)
    dry_rms, wet_rms = np.sqrt(np.mean(wav ** 2)), np.sqrt(np.mean(wet ** 2))
    return _peak_safe(wet * (dry_rms / wet_rms) if wet_rms > 0 else wet)


def time_stretch(wav: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Phase-vocoder stretch by a rate in ``[1 - amount, 1 + amount]`` (pitch unchanged)."""
    import librosa

    rate = rng.uniform(1 - amount, 1 + amount)
    return librosa.effects.time_stretch(wav, rate=rate).astype(np.float32)


def augment_audio(wav: np.ndarray, sr: int, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    if cfg.stretch > 0:
        wav = time_stretch(wav, rng, cfg.stretch)
    if cfg.rir_prob > 0 and rng.random() < cfg.rir_prob:
        wav = reverberate(wav, sr, rng, cfg.rir_dir)
    if cfg.loudness_db > 0:
        wav = loudness_jitter(wav, sr, rng, cfg.loudness_db)
    return wav


def augment_image(image: Image.Image, rng: np.random.Generator, cfg: AugmentConfig) -> Image.Image:
    """Random crop (resized back), horizontal flip, brightness / contrast / saturation jitter."""
    from PIL import Image as PILImage
    from PIL import ImageEnhance, ImageOps

    w, h = image.size
    if cfg.crop > 0:
        keep = rng.uniform(1 - cfg.crop, 1.0)
        cw, ch = max(1, int(round(w * keep))), max(1, int(round(h * keep)))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), PILImage.BILINEAR)
    if cfg.flip > 0 and rng.random() < cfg.flip:
        image = ImageOps.mirror(image)
    if cfg.colour > 0:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            image = enhancer(image).enhance(rng.uniform(1 - cfg.colour, 1 + cfg.colour))
    return image


def audio_enabled(cfg: AugmentConfig) -> bool:
    return cfg.loudness_db > 0 or cfg.rir_prob > 0 or cfg.stretch > 0


def image_enabled(cfg: AugmentConfig) -> bool:
    return cfg.crop > 0 or cfg.flip > 0 or cfg.colour > 0
