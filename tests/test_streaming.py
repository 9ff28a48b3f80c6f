"""Streaming: chunks as they are ready; the stream's tokens equal the non-streamed ones exactly and its samples
(before post-processing and watermark) within float rounding."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

ATOL = 1e-5  # EnCodec over a prefix vs the whole: convolutions sum in another order (measured ~1.3e-7)


@pytest.fixture(scope="module")
def plain_host():
    from bark_omni.host import Host

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Host(block=["watermark", "guardrails"])


def _request(text, seconds, seed=3, **longform):
    from bark_omni.api import build_request
    from bark_omni.options import GenerationOptions

    options = GenerationOptions.from_kwargs(max_gen_duration_s=seconds, allow_early_stop=False, max_coarse_history=60,
                                            sliding_window_len=200)
    return build_request(text, "v2/en_speaker_6", options=options, seed=seed, model="tiny", longform=longform or None)


def test_skip_ahead_lands_where_the_coarse_stage_leaves_the_generator(tiny_models):
    import torch

    from bark_omni import loop
    from bark_omni.streaming import skip_ahead

    semantic = np.arange(40, dtype=np.int64) * 7 % 10_000
    generator = torch.Generator().manual_seed(5)
    ahead = skip_ahead(generator, int(round(np.floor(40 * loop.SEMANTIC_TO_COARSE_RATIO / 2) * 2)), torch.device("cpu"))
    loop.generate_coarse(tiny_models.coarse, semantic, generator=generator)
    assert torch.equal(ahead.get_state(), generator.get_state())
    global_ahead = skip_ahead(None, 3, torch.device("cpu"))
    assert not torch.equal(global_ahead.get_state(), torch.get_rng_state())  # a copy moved, the global RNG did not


def test_a_segment_longer_than_one_fine_window_streams_in_pieces_with_exact_tokens(plain_host, tiny_models):
    """8 s past the voice prompt needs two fine windows: the first piece comes before the second window."""
    from bark_omni.api import run_batch
    from bark_omni.streaming import segment_audio

    request = _request("Hello there.", 8.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokens: dict[str, np.ndarray] = {}
        pieces = list(segment_audio(request, plain_host, tiny_models, None, "encodec", tokens))
        whole = run_batch([request], host=plain_host, device="cpu", finish=False)[0]
    assert len(pieces) == 2
    for key, name in (("semantic_prompt", "semantic"), ("coarse_prompt", "coarse"), ("fine_prompt", "fine")):
        np.testing.assert_array_equal(tokens[key], getattr(whole, name))
    np.testing.assert_allclose(np.concatenate(pieces), whole.audio, rtol=0, atol=ATOL)


def test_long_form_stream_equals_the_joined_generation(plain_host):
    from bark_omni.api import run
    from bark_omni.streaming import collect, stream_request

    text = "Good morning to you. The sun is up. Birds are singing now."
    request = _request(text, 0.3, seed=4, max_words=5, stable_mode_interval=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunks = list(stream_request(request, host=plain_host))
        whole = run(request, host=plain_host)
    assert chunks[-1].final and len(chunks[-1].samples) == 0 and not any(c.final for c in chunks[:-1])
    assert sorted({c.segment for c in chunks}) == [0, 1, 2]
    silences = [c for c in chunks if c.samples.size and not c.samples.any()]
    assert [len(c.samples) for c in silences] == [6000, 6000]
    np.testing.assert_allclose(collect(iter(chunks)), whole.audio, rtol=0, atol=ATOL)


def test_wav_stream_bytes():
    from bark_omni.streaming import AudioChunk, pcm16, wav_stream_header, write_stream

    class Sink:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += b

        def flush(self):
            pass

    chunks = [AudioChunk(np.array([0.0, 0.5], np.float32), 0, 24000, 0), AudioChunk(np.array([-1.0], np.float32), 2, 24000, 0)]
    sink = Sink()
    assert write_stream(iter(chunks), sink) == 3
    header = wav_stream_header(24000)
    assert sink.data[:4] == b"RIFF" and sink.data[8:16] == b"WAVEfmt " and len(header) == 44
    assert np.frombuffer(sink.data[44:], "<i2").tolist() == [0, 16384, -32767]
    raw = Sink()
    write_stream(iter(chunks), raw, raw=True)
    assert raw.data == pcm16(np.array([0.0, 0.5, -1.0]))
    empty = Sink()
    assert write_stream(iter([]), empty) == 0 and empty.data == b""


def test_cli_stream_pipes_wav_to_stdout(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bark_omni", "generate", "--model", "tiny", "--text", "Hi there.", "--stream",
         "--quiet", "--max-duration", "0.3", "--seed", "1"],
        capture_output=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert done.stdout[:4] == b"RIFF" and len(done.stdout) > 44 + 2 * 320
    assert b"no provenance manifest" in done.stderr
