"""The core's audio toolbox: one reader, one resampler, one tensor bridge for every adapter and plugin."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from bark_omni.audio import as_float32, load_mono, read_audio, resample, to_mono, to_tensor
from bark_omni.errors import InvalidInputError


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def test_every_source_kind_reads_to_the_same_mono(tmp_path):
    stereo = _tone(16_000, 0.5, channels=2)
    sf.write(tmp_path / "a.flac", stereo, 16_000)
    from_file, rate = read_audio(tmp_path / "a.flac")
    assert rate == 16_000 and from_file.ndim == 1 and from_file.dtype == np.float32
    for source in ((stereo, 16_000), {"array": stereo.T, "sampling_rate": 16_000}, (torch.from_numpy(stereo), 16_000)):
        samples, got_rate = read_audio(source)
        assert got_rate == 16_000
        np.testing.assert_allclose(samples, from_file, atol=1e-4)  # FLAC is 16-bit


def test_integer_pcm_is_scaled():
    assert as_float32(np.array([-32768, 0, 16384], dtype=np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert as_float32(np.array([0, 128, 255], dtype=np.uint8))[1] == 0.0


def test_resample_keeps_duration_and_pitch():
    tone = _tone(44_100, 1.0)
    out = resample(tone, 44_100, 24_000)
    assert len(out) == 24_000 and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 24_000 / len(out) - 440) <= 1
    assert resample(tone, 44_100, 44_100) is not None and len(resample(tone, 44_100, 44_100)) == len(tone)


def test_load_mono_trims_then_resamples():
    out = load_mono((_tone(48_000, 2.0), 48_000), 24_000, max_seconds=1.0)
    assert len(out) == 24_000


def test_tensor_bridge_shapes():
    samples = _tone(24_000, 0.1)
    assert tuple(to_tensor(samples).shape) == (1, 1, len(samples))
    assert tuple(to_tensor(samples, batch=False).shape) == (len(samples),)


@pytest.mark.parametrize("source, match", [
    ("/no/such/file.wav", "does not exist"),
    (np.zeros(100, np.float32), "needs its sample rate"),
    ((np.zeros(100, np.float32), 12.5), "sample rate"),
    ((np.zeros(100, np.float32), True), "sample rate"),
    ((np.array(["a", "b"]), 16_000), "must be numbers"),
    ((np.array([0.0, np.nan], np.float32), 16_000), "NaN"),
    ((np.zeros((0,), np.float32), 16_000), "not empty"),
    ((np.zeros((100, 100), np.float32), 16_000), "which axis"),
    (3.5, "file path"),
])
def test_bad_sources_are_one_line_errors(source, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        read_audio(source, what="reference audio")
    assert "\n" not in str(info.value) and len(str(info.value)) <= 200


def test_unreadable_file(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_audio(tmp_path / "bad.wav")
    with pytest.raises(InvalidInputError):
        to_mono(np.zeros((2, 3, 4), np.float32))
