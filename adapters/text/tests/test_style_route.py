"""The training-free style route: style words -> Bark's cues, a text treatment, a speaker tag and a preset."""

from __future__ import annotations

import warnings

import numpy as np

import bark_omni
import bark_omni_text.plugin as text_plugin
from bark_omni.modality import ModalityBundle
from bark_omni.options import GenerationOptions
from bark_omni.routes import RouteWarning
from bark_omni_text.style import apply_style, style_words

TEXT = "I found it. It was here all along!"


def generate(host, tiny_models, monkeypatch, history_prompt=None, **inputs):
    from bark_omni import loop

    fed, encode = [], loop.encode_text
    monkeypatch.setattr(loop, "encode_text", lambda tokenizer, text: fed.append(encode(tokenizer, text)) or fed[-1])
    request = bark_omni.build_request(TEXT, history_prompt, modalities=ModalityBundle(**inputs), seed=4,
                                      model=tiny_models.source, options=GenerationOptions.from_kwargs(max_gen_duration_s=0.2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bark_omni.run(request, host=host, device="cpu")
    return result, fed[0], [str(w.message) for w in caught if issubclass(w.category, RouteWarning)]


def test_style_words_become_bark_cues_and_treatments():
    entries, unknown = style_words("whispering, sad woman with a robotic tone")
    assert [e.name for e in entries] == ["soft", "sad", "woman"] and unknown == ["robotic"]
    assert apply_style(TEXT, entries) == "[WOMAN] [sighs] i found it... it was here all along..."
    assert apply_style("Go home now.", style_words("excited")[0]) == "Go HOME now!"
    assert apply_style(TEXT, style_words("singing")[0]) == f"♪ {TEXT} ♪"


def test_route_changes_tokens_picks_a_preset_and_records_itself(make_host, tiny_models, monkeypatch):
    host = make_host(text_plugin)
    plain, plain_ids, _ = generate(host, tiny_models, monkeypatch)
    result, ids, warned = generate(host, tiny_models, monkeypatch, style_text="sad female, robotic")
    assert not np.array_equal(ids, plain_ids), "the cues reach Bark's text stage"
    assert not np.array_equal(result.coarse, plain.coarse), "the woman's preset voices the acoustic stages"
    (record,) = result.routes
    assert (record["modality"], record["route"], record["details"]["preset"]) == ("style_text", "style-cues", "v2/en_speaker_9")
    assert warned and "robotic" in warned[0]
    kept, _, _ = generate(host, tiny_models, monkeypatch, history_prompt="v2/en_speaker_1", style_text="female")
    assert "caller" in kept.routes[0]["notes"][0], "the caller's voice prompt wins at priority 1"
