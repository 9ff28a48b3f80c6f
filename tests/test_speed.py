"""Speed presets: exact stays Bark's (tests/test_parity.py), the fast ones run, say what they are, keep the frozen
weights untouched, and stay close to exact mode where they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni import loop as gen
from bark_omni.errors import InvalidInputError
from bark_omni.options import GenerationOptions
from bark_omni.speed import PRESETS, speed_preset, stage_models


def test_presets_by_name_and_bad_names_fail_with_the_list():
    assert speed_preset(None).exact and speed_preset("exact").exact
    assert not speed_preset("fast").exact and speed_preset("fastest").skip_fine
    with pytest.raises(InvalidInputError, match="exact, fast, fastest"):
        speed_preset("ludicrous")
    with pytest.raises(InvalidInputError):
        GenerationOptions.from_kwargs(speed=3)


def test_speed_travels_in_the_options_record():
    options = GenerationOptions.from_kwargs(speed="fast", text_temp=0.6)
    assert options.as_dict()["speed"] == "fast"
    assert GenerationOptions.from_kwargs(**options.as_dict()) == options
    assert GenerationOptions().speed == "exact"


def test_int8_variant_is_separate_and_shares_the_embeddings(tiny_models):
    stages = stage_models(tiny_models, PRESETS["fast"])
    assert stages.weights == "int8"
    assert stages is stage_models(tiny_models, PRESETS["fast"])  # built once
    assert stages.text.transformer.wte is tiny_models.text.transformer.wte
    assert type(tiny_models.text.transformer.h[0].attn.c_attn) is torch.nn.Linear  # the frozen model is untouched
    assert type(stages.text.transformer.h[0].attn.c_attn) is not torch.nn.Linear
    assert stage_models(tiny_models, PRESETS["exact"]).text is tiny_models.text


def test_int8_logits_stay_close_to_float(tiny_models):
    stages = stage_models(tiny_models, PRESETS["fast"])
    prefix = torch.randint(0, 10_000, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        logits = [gen.gpt_forward(model, model.transformer.wte(prefix), slice(0, 10_001))
                  for model in (tiny_models.text, stages.text)]
    error = (logits[1] - logits[0]).norm() / logits[0].norm()
    assert 0 < error < 0.05


def test_fine_on_real_length_keeps_coarse_and_equals_exact_past_one_window(tiny_models):
    rng = np.random.default_rng(0)
    short = rng.integers(0, 1024, size=(2, 60))
    fine = gen.generate_fine(tiny_models.fine, short, temp=None, pad_window=False)
    assert fine.shape == (8, 60) and np.array_equal(fine[:2], short) and fine.max() < 1024
    long = rng.integers(0, 1024, size=(2, 1100))  # more than one window: no padding, so nothing to drop
    np.testing.assert_array_equal(gen.generate_fine(tiny_models.fine, long, temp=None, pad_window=False),
                                  gen.generate_fine(tiny_models.fine, long, temp=None))


@pytest.mark.parametrize("speed", ["fast", "fastest"])
def test_generate_audio_with_a_fast_preset(tiny_host, speed):
    result = bark_omni.run(bark_omni.build_request("Quick preview.", seed=2, model="tiny",
                                                   options=GenerationOptions.from_kwargs(max_gen_duration_s=0.4,
                                                                                         speed=speed)),
                           host=tiny_host)
    assert result.extras["speed"] == speed and result.extras["weights"] == "int8"
    assert result.fine.shape[0] == (2 if speed == "fastest" else 8)
    assert result.audio.dtype == np.float32 and len(result.audio) == result.coarse.shape[1] * 320
    assert np.isfinite(result.audio).all()
