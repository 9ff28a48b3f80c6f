"""The training-free control route: events become Bark's cues at the nearest word, unexpressed ones are reported."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bark_omni
import bark_omni_control.plugin as control_plugin
from bark_omni import hookimpl
from bark_omni.modality import ModalityBundle
from bark_omni.options import GenerationOptions
from bark_omni.routes import RouteWarning
from bark_omni.specs import ControlCue
from bark_omni_control import ControlEvent
from bark_omni_control.cues import BUILTIN_CUES, place_cues, syllables, word_times

TEXT = "Well, I did not expect that. Really, not at all."


def generate(host, tiny_models, monkeypatch, **inputs):
    """(result, the text-stage input ids Bark was fed, route warnings). The tiny Bark's random weights give the
    same semantic tokens for any text, so text routes show their effect on the input ids."""
    from bark_omni import loop

    fed, encode = [], loop.encode_text
    monkeypatch.setattr(loop, "encode_text", lambda tokenizer, text: fed.append(encode(tokenizer, text)) or fed[-1])
    request = bark_omni.build_request(TEXT, modalities=ModalityBundle(**inputs), seed=3, model=tiny_models.source,
                                      options=GenerationOptions.from_kwargs(max_gen_duration_s=0.2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bark_omni.run(request, host=host, device="cpu")
    return result, fed[0], [str(w.message) for w in caught if issubclass(w.category, RouteWarning)]


def test_syllable_model_times_words_and_pauses_at_punctuation():
    assert [syllables(w) for w in ("I", "expect", "really", "time", "table")] == [1, 2, 2, 1, 2]
    starts, end = word_times(["Well,", "I", "did."])
    assert starts[0] == pytest.approx(0.1)
    assert starts[1] == pytest.approx(0.1 + 0.25 + 0.25)  # one syllable at 4/s, then the comma's pause
    assert end == pytest.approx(starts[2] + 0.25 + 0.45)


def test_cues_land_at_the_nearest_word_in_bark_vocabulary():
    events = [ControlEvent(0.0, "sfx", "clears throat"), ControlEvent(1.8, "sfx", "laughs"),
              ControlEvent(2.5, "sfx", "emphasis"), ControlEvent(9.0, "sfx", "sighs"), ControlEvent(0.3, "beat")]
    text, placed, unmatched = place_cues(TEXT, events, BUILTIN_CUES)
    assert text == "[clears throat] Well, I did not expect [laughs] that. REALLY, not at all. [sighs]"
    assert [p["word"] for p in placed] == ["Well,", "that.", "Really,", "<end>"]
    assert [e.kind for e in unmatched] == ["beat"]
    sung, _, _ = place_cues(TEXT, [ControlEvent(2.6, "sfx", "sing")], BUILTIN_CUES)
    assert sung == "Well, I did not expect that. ♪ Really, not at all. ♪"
    paused, _, _ = place_cues(TEXT, [ControlEvent(0.5, "sfx", "pause")], BUILTIN_CUES)
    assert paused.startswith("Well, ... I")  # 0.5 s: nearer "I" (0.6 s) than "Well," (0.1 s)


def test_route_changes_tokens_records_itself_and_reports_unexpressed_events(make_host, tiny_models, monkeypatch):
    host = make_host(control_plugin)
    plain, plain_ids, _ = generate(host, tiny_models, monkeypatch)
    events = [ControlEvent(0.2, "sfx", "laughs"), ControlEvent(1.2, "sfx", "gasps"), ControlEvent(0.8, "beat", 0.5)]
    result, ids, warned = generate(host, tiny_models, monkeypatch, control_events=events)
    assert np.count_nonzero(ids != ids[-1]) > np.count_nonzero(plain_ids != plain_ids[-1])  # cues add words (pads at the end)
    assert not np.array_equal(ids, plain_ids)
    (record,) = result.routes
    assert (record["modality"], record["route"]) == ("control_events", "control-cues")
    assert [p["text"] for p in record["details"]["placed"]] == ["[laughs]", "[gasps]"]
    assert record["details"]["unexpressed"] == [{"time_s": 0.8, "kind": "beat", "value": 0.5}]
    assert warned and "beat" in warned[0] and "beat" in record["notes"][0]
    assert plain.routes == []


class BeatCue:
    @hookimpl
    def register_control_cues(self, register):
        register(ControlCue("beat-dash", "beat", "—"))


def test_plugins_extend_the_mapping(make_host):
    host = make_host(control_plugin, BeatCue())
    text, placed, unmatched = place_cues("one two three", [ControlEvent(0.4, "beat")], list(host.control_cues.values()))
    assert (text, unmatched) == ("one — two three", [])
    assert placed[0]["cue"] == "beat-dash"
