"""Text normalisation, audio helpers and loudness on signals whose answer is known."""

import numpy as np
import pytest

from bark_omni.errors import InvalidInputError
from bark_omni_eval.audio import add_noise, as_clip, read_clip, resample, to_mono
from bark_omni_eval.metrics.loudness import SILENCE_DB, SILENCE_LUFS, compute, integrated_loudness, true_peak_db
from bark_omni_eval.text_norm import normalize_transcript


@pytest.mark.parametrize("text, expected", [
    ("♪ Hello, WORLD! [laughs] It's — fine...", "hello world it's fine"),
    ("[music] ♪ la la la ♪", "la la la"),
    ("Well (sighs) OK-then [clears throat]", "well ok then"),
    ("'quoted' words", "quoted words"),
    ("[laughs] ♪", ""),
])
def test_normalize_strips_bark_cues(text, expected):
    assert normalize_transcript(text) == expected


def test_to_mono_and_resample():
    stereo = np.stack([np.ones(100), np.zeros(100)], axis=1)
    assert np.allclose(to_mono(stereo), 0.5)
    assert np.allclose(to_mono(stereo.T), 0.5)
    assert len(resample(np.zeros(24_000, np.float32), 24_000, 16_000)) == 16_000
    with pytest.raises(InvalidInputError):
        to_mono(np.array([0.0, np.nan]))


def test_add_noise_hits_the_asked_snr():
    t = np.arange(48_000) / 16_000
    clean = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    noisy = add_noise(clean, 10.0, seed=0)
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert abs(snr - 10.0) < 0.2
    with pytest.raises(InvalidInputError, match="silent"):
        add_noise(np.zeros(10), 10.0)


def test_clip_inputs(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(800, np.float32), 8000)
    assert read_clip(tmp_path / "a.wav").sample_rate == 8000
    assert as_clip((np.zeros(5), 16000)).seconds == pytest.approx(5 / 16000)
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_clip(tmp_path / "missing.wav")
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_clip(tmp_path / "bad.wav")


def _sine(amplitude, seconds, rate=48_000, freq=997.0, phase=0.0):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def test_loudness_calibration_sine():
    # BS.1770: a 997 Hz sine at 0 dBFS peak reads -3.01 LKFS, so at -20 dBFS it reads about -23.0
    lufs = integrated_loudness(_sine(0.1, 3.0), 48_000)
    assert lufs == pytest.approx(-23.0, abs=0.15)
    louder = integrated_loudness(_sine(0.2, 3.0), 48_000)
    assert louder - lufs == pytest.approx(20 * np.log10(2), abs=0.05)
    assert true_peak_db(_sine(0.1, 3.0), 48_000) == pytest.approx(-20.0, abs=0.05)


def test_true_peak_sees_between_samples():
    # at fs/4 with a 45 degree phase every sample sits at 0.707 of the peak; the true peak is the full amplitude
    audio = _sine(0.5, 1.0, rate=48_000, freq=12_000, phase=np.pi / 4)
    sample_peak = 20 * np.log10(np.max(np.abs(audio)))
    assert sample_peak == pytest.approx(20 * np.log10(0.5 * np.sqrt(0.5)), abs=0.01)
    assert true_peak_db(audio, 48_000) > sample_peak + 2.5


def test_loudness_short_clips_and_silence():
    short = compute(_sine(0.1, 0.2), 48_000)  # under one 400 ms gating block
    assert short["lufs"] == pytest.approx(-23.0, abs=0.3)
    assert np.isfinite(compute(_sine(0.1, 0.01), 48_000)["lufs"])
    assert compute(np.zeros(48_000, np.float32), 48_000) == {"lufs": SILENCE_LUFS, "true_peak_dbtp": SILENCE_DB}
    assert compute(np.zeros(0, np.float32), 48_000)["lufs"] == SILENCE_LUFS
    assert compute(_sine(1e-6, 1.0), 48_000)["lufs"] == SILENCE_LUFS  # under the absolute gate
