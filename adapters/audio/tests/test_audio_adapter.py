"""The reference-audio adapter: conformance, any rate/layout in, clear errors for unusable audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from bark_omni.errors import InvalidInputError
from bark_omni.testing import check_adapter_conformance
from bark_omni_audio.loading import load_reference_audio
from bark_omni_audio import plugin
from bark_omni_audio.plugin import build

LOAD = dict(min_seconds=1.0, max_seconds=10.0, target_lufs=-23.0)


def tone(seconds: float, rate: int, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def loudness(samples: np.ndarray) -> float:
    import pyloudnorm

    return pyloudnorm.Meter(24_000).integrated_loudness(samples.astype(np.float64))


def test_conformance(make_host, tiny_models, tmp_path):
    path = tmp_path / "voice.wav"
    sf.write(path, tone(1.2, 16_000), 16_000)
    check_adapter_conformance(make_host(plugin).adapters["audio"], tiny_models, samples=[(tone(1.0, 24_000), 24_000), str(path)],
                              garbage=[np.zeros(48_000), (tone(0.3, 24_000), 24_000), str(tmp_path / "missing.wav")])


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_any_rate_becomes_24k_at_target_loudness(rate):
    out = load_reference_audio((tone(2.0, rate, amplitude=0.02), rate), **LOAD)
    assert out.dtype == np.float32 and abs(len(out) - 48_000) <= 2
    assert abs(loudness(out) - (-23.0)) < 0.5
    assert np.max(np.abs(out)) <= 1.0


def test_channels_are_mixed_in_either_layout(tmp_path):
    left, right = tone(2.0, 24_000, 220), tone(2.0, 24_000, 330)
    frames_first = load_reference_audio((np.stack([left, right], axis=1), 24_000), **LOAD)
    channels_first = load_reference_audio((np.stack([left, right], axis=0), 24_000), **LOAD)
    np.testing.assert_allclose(frames_first, channels_first, atol=1e-6)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 24_000)
    np.testing.assert_allclose(load_reference_audio(str(path), **LOAD), frames_first, atol=1e-3)


def test_integer_samples_are_scaled():
    as_int16 = (tone(2.0, 24_000) * 32767).astype(np.int16)
    np.testing.assert_allclose(load_reference_audio((as_int16, 24_000), **LOAD),
                               load_reference_audio((tone(2.0, 24_000), 24_000), **LOAD), atol=1e-3)


def test_long_audio_is_cut():
    assert len(load_reference_audio((tone(12.0, 24_000), 24_000), **{**LOAD, "max_seconds": 3.0})) == 72_000


@pytest.mark.parametrize("value, message", [
    ((np.zeros(48_000, np.float32), 24_000), "silent"),
    ((np.full(48_000, 1e-7, np.float32), 24_000), "silent"),
    ((tone(0.5, 24_000), 24_000), "at least 1 s"),
    ((np.array([0.1, np.nan] * 24_000, np.float32), 24_000), "NaN"),
    ((tone(2.0, 24_000), 0), "sample rate"),
    ((tone(2.0, 24_000), "fast"), "sample rate"),
    (tone(2.0, 24_000), "pass \\(array, sample_rate\\)"),
    ((np.zeros((2, 2, 2)), 24_000), "1-D or"),
    ((np.array(["a", "b"]), 24_000), "must be numbers"),
])
def test_unusable_audio_is_a_clear_error(value, message):
    with pytest.raises(InvalidInputError, match=message):
        load_reference_audio(value, **LOAD)


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(InvalidInputError, match="cannot read reference audio"):
        load_reference_audio(str(bad), **LOAD)


def test_frames_come_from_the_frozen_codec(tiny_models):
    adapter = build(tiny_models, d_ctx=16, config={"pool": 5})
    prepared = adapter.prepare((tone(1.6, 24_000), 24_000))
    assert prepared.shape == (24, tiny_models.codec.encoder.dimension)  # 1.6 s at 75 Hz / 5
    assert adapter.frozen_modules()["codec"] is tiny_models.codec
    assert not any("encoder" in k or "quantizer" in k for k in adapter.state_dict())
    with torch.no_grad():
        tokens, mask = adapter([prepared, adapter.prepare((tone(1.0, 24_000), 24_000))])
    assert tokens.shape == (2, 24, 16) and mask.sum(1).tolist() == [24, 15]


def test_encoder_precision_is_a_setting_that_acts(tiny_models, monkeypatch):
    """bf16 (what "auto" picks on a CPU with bf16 arithmetic) gives float32 features within a rounding of the
    float32 encoder's, not the same bits; a bad value fails when the adapter is built."""
    from bark_omni.fusion import encoder_dtype

    voice = (tone(2.0, 24_000, freq=180.0) * (1 + np.sin(np.linspace(0, 12, 48_000)))).astype(np.float32)
    exact = build(tiny_models, d_ctx=16, config={"encoder_precision": "float32"}).prepare((voice, 24_000))
    rounded = build(tiny_models, d_ctx=16, config={"encoder_precision": "bfloat16"}).prepare((voice, 24_000))
    assert rounded.dtype == exact.dtype == torch.float32 and rounded.shape == exact.shape
    assert 0 < float((rounded - exact).norm() / exact.norm()) < 0.05
    with pytest.raises(InvalidInputError, match="encoder_precision must be one of auto, bfloat16, float32"):
        build(tiny_models, d_ctx=16, config={"encoder_precision": "fp8"})
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert encoder_dtype(cpu) is None, "a CPU without bf16 arithmetic would emulate it"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert encoder_dtype(cpu) == torch.bfloat16 and encoder_dtype(torch.device("cuda")) is None


@pytest.mark.parametrize("left,right", [(0, 0), (3, 3), (6, 0), (0, 5), (4, 7)])
def test_reflect_pad_is_torchs_reflect_padding(left, right):
    from bark_omni_audio.encoder import reflect_pad

    x = torch.randn(2, 3, 20)
    assert torch.equal(reflect_pad(x, left, right), torch.nn.functional.pad(x, (left, right), mode="reflect"))


def test_runner_is_encodecs_encoder_bit_for_bit_and_leaves_barks_codec_alone(tiny_models):
    """The adapter's runner (weight norms folded, reflect pads by concatenation) gives EnCodec's own encoder's
    output exactly: at float32, and under bf16 autocast against the original under the same autocast; Bark's codec
    keeps its modules and weight norms; the runner is built once per dtype."""
    from encodec.modules.conv import SConv1d

    from bark_omni_audio.encoder import PaddedConv

    encoder = tiny_models.codec.encoder
    adapter = build(tiny_models, d_ctx=16, config={})
    x = torch.from_numpy(tone(1.3, 24_000, freq=170.0))[None, None]
    for dtype in (None, torch.bfloat16):
        runner = adapter.runner(encoder, dtype)
        assert sum(isinstance(m, PaddedConv) for m in runner.modules()) == 18
        assert not any(isinstance(m, SConv1d) for m in runner.modules())
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            assert torch.equal(runner(x), encoder(x))
    assert sum(isinstance(m, SConv1d) for m in encoder.modules()) == 18
    assert all(hasattr(m, "weight_g") for m in encoder.modules() if isinstance(m, torch.nn.Conv1d))
    short = torch.randn(1, 1, 5)  # shorter than the first convolution's padding: encodec's own path
    with torch.no_grad():
        assert torch.equal(adapter.runner(encoder, None)(short), encoder(short))
    adapter = build(tiny_models, d_ctx=16, config={"encoder_precision": "bfloat16"})
    first = adapter.prepare((tone(1.5, 24_000), 24_000))
    (held,) = adapter._runners.values()
    assert torch.equal(adapter.prepare((tone(1.5, 24_000), 24_000)), first) and adapter._runners == {next(iter(adapter._runners)): held}


@pytest.mark.parametrize("samples", [40_321, 24_000 * 3 + 7])
def test_chunked_encoder_gives_the_one_pass_frames_and_needs_its_margin(tiny_models, samples):
    """Run over pieces (here of 4,800 samples, so 8-15 of them) with their margins, EnCodec's convolutions give the
    frames of one pass over the whole recording; without the margin, the frames after each piece's start differ."""
    from bark_omni.fusion import frozen_copy
    from bark_omni_audio.encoder import Chunked, chunked, quick_pads

    encoder = tiny_models.codec.encoder
    runner = chunked(quick_pads(frozen_copy(encoder, None)), 4_800)
    assert isinstance(runner, Chunked) and (runner.hop, runner.chunk) == (320, 4_800) and runner.margin > 0
    calls = []
    runner.head.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[-1]))
    x = torch.from_numpy(tone(samples / 24_000, 24_000, freq=170.0) + 0.05 * np.random.default_rng(0).standard_normal(samples).astype(np.float32))[None, None]
    with torch.no_grad():
        expected, got = encoder(x), runner(x)
        assert len(calls) == samples // 4_800 and max(calls) < 2 * 4_800 + runner.margin
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
        runner.margin = 0
        blind = runner(x)
    assert float((blind - expected).abs().max()) > 1e-3 * float(expected.abs().max())


def test_chunking_leaves_encoders_it_cannot_cut_alone(tiny_models):
    """A non-causal encoder's frames read the samples after them too: it keeps its one pass."""
    from bark_omni.fusion import frozen_copy
    from bark_omni_audio.encoder import Chunked, PaddedConv, chunked, quick_pads

    runner = quick_pads(frozen_copy(tiny_models.codec.encoder, None))
    for conv in runner.modules():
        if isinstance(conv, PaddedConv):
            conv.causal = False
    assert not isinstance(chunked(runner, 4_800), Chunked)
    assert isinstance(chunked(quick_pads(frozen_copy(tiny_models.codec.encoder, None)), 4_800), Chunked)
