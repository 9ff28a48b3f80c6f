"""The training-free reference-audio route: the clip becomes a full voice prompt used as history_prompt."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bark_omni
import bark_omni_audio.plugin as audio_plugin
from bark_omni.modality import ModalityBundle
from bark_omni.options import GenerationOptions


def voice(seconds: float = 3.0, rate: int = 24_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 160 * t) * (1.2 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def generate(host, tiny_models, fed=None, **inputs):
    """The result; ``fed`` (a list) receives the semantic histories the text stage was given."""
    request = bark_omni.build_request("Say it like me.", modalities=ModalityBundle(**inputs), seed=6,
                                      model=tiny_models.source, options=GenerationOptions.from_kwargs(max_gen_duration_s=0.2))
    from bark_omni import loop

    original = loop.generate_semantic_batch

    def spy(model, texts, histories, **kwargs):
        (fed if fed is not None else []).extend(histories)
        return original(model, texts, histories, **kwargs)

    loop.generate_semantic_batch = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bark_omni.run(request, host=host, device="cpu")
    finally:
        loop.generate_semantic_batch = original


def test_route_clones_with_a_full_voice_prompt(make_host, tiny_models):
    semantic = pytest.importorskip("bark_omni_semantic.plugin")
    host = make_host(audio_plugin, semantic)
    plain = generate(host, tiny_models)
    fed = []
    result = generate(host, tiny_models, fed, reference_audio=(voice(), 24_000))
    assert fed[0] is not None and 140 <= len(fed[0]) <= 150, "the clip's semantic tokens reach the text stage"
    assert not np.array_equal(result.coarse, plain.coarse), "the acoustic stages follow the clip's voice"
    assert not np.array_equal(result.fine, plain.fine)  # the tiny Bark's text stage is insensitive to any history
    (record,) = result.routes
    assert (record["modality"], record["route"]) == ("reference_audio", "voice-prompt")
    details = record["details"]
    assert details["semantic_tokenizer"] == "hubert-quantizer" and 140 <= details["semantic_tokens"] <= 150
    assert abs(details["coarse_frames"] - 1.5 * details["semantic_tokens"]) <= 1 and record["notes"] == []


def test_without_a_semantic_tokenizer_the_prompt_is_acoustic_only_and_says_so(make_host, tiny_models):
    host = make_host(audio_plugin)
    result = generate(host, tiny_models, reference_audio=(voice(2.0), 24_000))
    (record,) = result.routes
    assert record["details"]["semantic_tokens"] == 0 and "no semantic tokens" in record["notes"][0]
    assert "coarse + fine only" in record["did"]
