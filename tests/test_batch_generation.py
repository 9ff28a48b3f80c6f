"""Batched generation: each row of a batch gives the tokens it gives alone (rows ending at different times,
different voice prompts, every stage), and the public ``generate_batch``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni import loop as gen
from bark_omni.errors import InvalidInputError

TEXTS = ["Hello there.", "Another, rather longer sentence to say.", "Third.", "x"]


def seeded(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


@pytest.fixture(scope="module")
def text_tokens(tiny_models):
    return [gen.encode_text(tiny_models.tokenizer, t) for t in TEXTS]


def test_semantic_rows_ending_at_different_times_match_batch_one(tiny_models, text_tokens):
    history = np.random.default_rng(0).integers(0, 10_000, 300)
    histories = [None, history, None, history[:40]]
    options = dict(min_eos_p=2e-4, max_gen_duration_s=2.0)  # a low end threshold: rows stop at different steps
    batch = gen.generate_semantic_batch(tiny_models.text, text_tokens, histories, generators=seeded(0, 1, 2, 3), **options)
    alone = [gen.generate_semantic(tiny_models.text, t, h, generator=g, **options)
             for t, h, g in zip(text_tokens, histories, seeded(0, 1, 2, 3))]
    assert len({len(row) for row in alone}) > 1, "the rows must end at different times for this test to mean anything"
    for b, a in zip(batch, alone):
        np.testing.assert_array_equal(b, a)


def test_takes_of_one_text_share_one_prefill_and_match_batch_one(tiny_models, text_tokens, monkeypatch):
    """Rows with the same input run the prefill once (a batch of one, so its first logits are batch 1's bit for
    bit) and each row still draws with its own generator."""
    widths = []
    step = gen.gpt_step
    monkeypatch.setattr(gen, "gpt_step", lambda model, emb, *a, **k: widths.append(emb.shape[:2]) or step(model, emb, *a, **k))
    texts = [text_tokens[1], text_tokens[0], text_tokens[1], text_tokens[1]]
    options = dict(min_eos_p=2e-4, max_gen_duration_s=1.0)
    batch = gen.generate_semantic_batch(tiny_models.text, texts, generators=seeded(0, 1, 2, 3), **options)
    assert widths[0] == (2, 257) and widths[1][1] == 1  # two distinct inputs in the prefill, then 4 rows per step
    alone = [gen.generate_semantic(tiny_models.text, t, generator=g, **options) for t, g in zip(texts, seeded(0, 1, 2, 3))]
    assert not np.array_equal(alone[0], alone[2]), "different seeds of one text must differ for this to mean anything"
    for b, a in zip(batch, alone):
        np.testing.assert_array_equal(b, a)


def test_batched_logits_agree_with_batch_one_within_rounding(tiny_models, text_tokens):
    """What holds when BLAS picks another kernel for several rows: the same logits up to float rounding."""
    prefix = torch.from_numpy(np.stack([gen._semantic_prefix(t, None) for t in text_tokens]))
    wte = tiny_models.text.transformer.wte
    with torch.inference_mode():
        emb = torch.cat([wte(prefix[:, :256]) + wte(prefix[:, 256:512]), wte(prefix[:, 512:])], dim=1)
        step = torch.randint(0, 10_000, (len(TEXTS), 1), generator=torch.Generator().manual_seed(0))
        cache = gen.KVCache(tiny_models.text, batch=len(TEXTS))
        gen.gpt_step(tiny_models.text, emb, cache, slice(0, 10_001))
        batched = gen.gpt_step(tiny_models.text, wte(step), cache, slice(0, 10_001))
        for i in range(len(TEXTS)):
            one = gen.KVCache(tiny_models.text)
            gen.gpt_step(tiny_models.text, emb[i:i + 1], one, slice(0, 10_001))
            alone = gen.gpt_step(tiny_models.text, wte(step[i:i + 1]), one, slice(0, 10_001))
            torch.testing.assert_close(batched[i:i + 1], alone, rtol=1e-5, atol=1e-5)


def test_coarse_rows_with_different_lengths_and_voice_prompts_match_batch_one(tiny_models):
    from bark_omni.prompts import load_history_prompt

    rng = np.random.default_rng(1)
    semantics = [rng.integers(0, 10_000, n) for n in (30, 75, 12, 50)]
    prompt = load_history_prompt("v2/en_speaker_6")
    voiced = gen.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"])
    histories = [None, voiced, None, voiced]  # two window layouts: run as two sub-batches
    options = dict(sliding_window_len=20, max_coarse_history=120, top_k=50)
    batch = gen.generate_coarse_batch(tiny_models.coarse, semantics, histories, generators=seeded(4, 5, 6, 7), **options)
    alone = [gen.generate_coarse(tiny_models.coarse, s, h, generator=g, **options)
             for s, h, g in zip(semantics, histories, seeded(4, 5, 6, 7))]
    for b, a in zip(batch, alone):
        assert b.shape == a.shape
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("temp", [0.5, None])
def test_fine_rows_with_different_window_counts_match_batch_one(tiny_models, temp):
    rng = np.random.default_rng(2)
    coarses = [rng.integers(0, 1024, (2, n)) for n in (40, 1100, 300)]
    histories = [None, None, rng.integers(0, 1024, (8, 600))]
    batch = gen.generate_fine_batch(tiny_models.fine, coarses, histories, temp=temp, generators=seeded(8, 9, 10))
    alone = [gen.generate_fine(tiny_models.fine, c, h, temp=temp, generator=g)
             for c, h, g in zip(coarses, histories, seeded(8, 9, 10))]
    for b, a in zip(batch, alone):
        np.testing.assert_array_equal(b, a)


def test_generate_batch_rows_equal_generate_audio(tiny_models):
    rows = [{"text": "Hello there.", "seed": 2}, {"text": "Hi again.", "seed": 4, "history_prompt": "v2/en_speaker_6"}]
    host = bark_omni.Host(strict=True, allow=[])  # the essential plugins only
    shared = dict(model=tiny_models.source, silent=True, output_full=True, host=host, max_gen_duration_s=0.3)
    batch = bark_omni.generate_batch(rows, **shared)
    for row, (full, audio) in zip(rows, batch):
        want_full, want_audio = bark_omni.generate_audio(**row, **shared)
        for key in want_full:
            np.testing.assert_array_equal(full[key], want_full[key], err_msg=key)
        np.testing.assert_array_equal(audio, want_audio)


@pytest.mark.parametrize("rows, kwargs, message", [
    ([], {}, "non-empty list"),
    ("just a string", {}, "non-empty list"),
    ([{"text": "hi", "colour": "red"}], {}, "unknown argument\\(s\\) 'colour'"),
    ([3], {}, "row 0 must be a text or a dict"),
    (["hi"], {"seed": 3}, "seed belong in each row"),
    (["hi", {"text": "there", "seed": True}], {}, "seed must be an integer in 0"),
])
def test_generate_batch_bad_input_is_a_clear_error(rows, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        bark_omni.generate_batch(rows, model="tiny", silent=True, **kwargs)
