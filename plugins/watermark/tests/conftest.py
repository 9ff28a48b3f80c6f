"""Shared test audio: a speech-like signal (voiced pulse train with a gliding pitch through moving formants,
in syllables with pauses), so the watermark is tested on something with speech's structure without espeak."""

import numpy as np
import pytest


def speechlike(seconds: float, sample_rate: int = 24000, seed: int = 0, f0: float = 120.0) -> np.ndarray:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = f0 * (1 + np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) / 3 + np.sin(2 * np.pi * 3.1 * t) / 12)
    phase = np.cumsum(f0 / sample_rate)
    source = (np.diff(np.floor(phase), prepend=0) > 0).astype(float) + 0.1 * rng.normal(size=n)
    out = np.zeros(n)
    block = sample_rate // 50
    state = [np.zeros(2) for _ in range(3)]
    for start in range(0, n, block):
        seg = source[start:start + block]
        k = start / sample_rate
        y = seg
        for j, (centre, width) in enumerate(((500 + 200 * np.sin(k * 2.1), 80), (1500 + 400 * np.sin(k * 1.3), 120),
                                              (2600 + 200 * np.cos(k * 0.9), 160))):
            r = np.exp(-np.pi * width / sample_rate)
            a = [1, -2 * r * np.cos(2 * np.pi * centre / sample_rate), r * r]
            y, state[j] = lfilter([1 - r], a, y, zi=state[j])
        out[start:start + block] = y
    envelope = np.clip(np.sin(2 * np.pi * 2.2 * t) * 1.4, 0, 1) ** 0.5
    audio = out * envelope
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


@pytest.fixture(scope="session")
def speech_clip() -> np.ndarray:
    return speechlike(6.0)


@pytest.fixture(scope="session")
def high_voice_clip() -> np.ndarray:
    """5 s at 22.05 kHz of a voice gliding around 260 Hz (sparse harmonics, like espeak's female voices)."""
    return speechlike(5.0, sample_rate=22050, seed=7, f0=260.0)


@pytest.fixture(autouse=True)
def _private_config_dir(tmp_path, monkeypatch):
    """Every test gets its own config folder, so the service key is made there and never in the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("BARK_OMNI_WATERMARK_KEY", "BARK_OMNI_WATERMARK_KEY_FILE", "BARK_OMNI_WATERMARK_PUBLIC_KEY",
                 "BARK_OMNI_WATERMARKER"):
        monkeypatch.delenv(name, raising=False)
