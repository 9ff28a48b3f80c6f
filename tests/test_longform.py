"""Long-form generation: splitting, joining, voice carry-over, batching, control events, replay."""

from __future__ import annotations

import numpy as np
import pytest

from bark_omni.errors import InvalidInputError
from bark_omni.longform import (LongFormOptions, estimated_seconds, join_audio, segment_events, split_segments,
                                split_sentences, take_events)

TEXT = "Good morning to you. The sun is up. Birds are singing now."  # 12 words, three sentences


def test_sentences_are_split_offline_by_a_segmenter():
    assert split_sentences("Dr. Smith arrived at 3.5 p.m. today. Was he late? No!") == [
        "Dr. Smith arrived at 3.5 p.m. today.", "Was he late?", "No!"]
    assert split_sentences("你好。今天天气很好！", "zh") == ["你好。", "今天天气很好！"]


def test_segments_pack_whole_sentences_up_to_max_words():
    assert split_segments(TEXT, LongFormOptions(max_words=12)) == [TEXT]  # fits: Bark's single generation
    assert split_segments(TEXT, LongFormOptions(max_words=8)) == ["Good morning to you. The sun is up.",
                                                                  "Birds are singing now."]
    assert split_segments(TEXT, LongFormOptions(max_words=8, split=False)) == [TEXT]
    long_sentence = " ".join(["word"] * 25) + "."
    pieces = split_segments(long_sentence, LongFormOptions(max_words=10))
    assert [len(p.split()) for p in pieces] == [10, 10, 5]
    assert " ".join(pieces) == long_sentence


@pytest.mark.parametrize("bad", [{"max_words": 0}, {"silence_s": -1}, {"crossfade_s": float("nan")},
                                 {"stable_mode_interval": -2}, {"language": "english!"}, {"batch_size": True}])
def test_bad_options_are_typed_errors(bad):
    with pytest.raises(InvalidInputError) as info:
        LongFormOptions(**bad)
    assert "\n" not in str(info.value)


def test_join_with_silence_and_crossfade():
    a, b = np.ones(10, np.float32), np.full(6, 2.0, np.float32)
    audio, starts = join_audio([a, b], sample_rate=10, silence_s=0.5, crossfade_s=0.0)
    assert starts == [0, 15] and len(audio) == 21 and not audio[10:15].any()
    audio, starts = join_audio([a, b], sample_rate=10, silence_s=0.0, crossfade_s=0.4)
    assert starts == [0, 6] and len(audio) == 12
    assert audio[5] == 1.0 and audio[6] == 1.0 and audio[9] == 2.0 and 1.0 < audio[8] < 2.0


def test_control_events_go_to_the_segment_covering_their_time():
    events = [{"time_s": 0.5, "kind": "beat"}, {"time_s": 3.0, "kind": "beat"}, (4.5, "beat", 1.0)]
    texts = ["one two three four five", "six seven", "eight"]  # estimated 2.0 s and 0.8 s
    shifted, taken, rest = segment_events(events, 0.0, texts, 0, None, 0.25)  # [0, 2.25)
    assert shifted == [{"time_s": 0.5, "kind": "beat"}] and taken == events[:1] and rest == events[1:]
    shifted, taken, rest = segment_events(rest, 2.5, texts, 1, None, 0.25)  # [2.5, 3.55)
    assert shifted == [{"time_s": 0.5, "kind": "beat"}] and rest == [(4.5, "beat", 1.0)]
    assert segment_events(rest, 4.0, texts, 2, None, 0.25)[0] == [(0.5, "beat", 1.0)]  # the last takes the rest
    assert segment_events([], 0.0, texts, 0, None, 0.25)[0] is None
    assert segment_events(events, 0.0, texts, 0, 0.3, 0.1)[1] == []  # capped by max_gen_duration_s: [0, 0.4)


def test_each_event_is_taken_once_and_leftovers_land_at_the_next_start():
    pending = [{"time_s": 0.2, "kind": "beat"}, (1.0, "beat", None), {"time_s": 3.0, "kind": "beat"}]
    assert estimated_seconds("one two three four five", 0.3) == 0.3 and estimated_seconds("a b c d e") == 2.0
    taken, rest = take_events(pending, 0.0, 0.55)  # segment 0: up to its estimated end plus the silence
    assert taken == pending[:1] and rest == pending[1:]
    # 1.0 s fell past segment 0's estimate but before segment 1's start: segment 1 takes it, at its start
    shifted, taken, rest = segment_events(rest, 1.2, ["a", "b", "c"], 1, None, 0.25)  # [1.2, 1.85)
    assert taken == [(1.0, "beat", None)] and shifted == [(0.0, "beat", None)]
    assert take_events(rest, 2.5, None) == ([{"time_s": 3.0, "kind": "beat"}], [])


def test_control_events_timed_in_later_segments_reach_them_shifted(plain_host):
    """Events timed inside segments 2 and 3 of the joined output go to those segments only, at times relative to
    their starts (cues before the words nearest them); segment 1 is generated as without events."""
    import warnings

    pytest.importorskip("bark_omni_control")
    from bark_omni.api import run
    from bark_omni.modality import ModalityBundle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = run(_request(TEXT, "v2/en_speaker_6", 5, max_words=5), host=plain_host).extras["segments"]
        s1, s2 = plain[1]["start_s"], plain[2]["start_s"]
        events = [{"time_s": s1 + 0.05, "kind": "sfx", "value": "laughs"}, {"time_s": s1 + 0.1, "kind": "beat"},
                  {"time_s": s2 + 0.1, "kind": "sfx", "value": "sighs"}]
        request = _request(TEXT, "v2/en_speaker_6", 5, max_words=5)
        import dataclasses

        request = dataclasses.replace(request, modalities=ModalityBundle(control_events=events))
        steered = run(request, host=plain_host).extras["segments"]
    assert [s["start_s"] for s in steered] == [s["start_s"] for s in plain]
    assert "control_events_s" not in steered[0] and "routes" not in steered[0]
    assert steered[0]["tokens_sha256"] == plain[0]["tokens_sha256"]
    assert steered[1]["control_events_s"] == [round(s1 + 0.05, 4), round(s1 + 0.1, 4)]
    assert steered[2]["control_events_s"] == [round(s2 + 0.1, 4)]
    (route1,), (route2,) = steered[1]["routes"], steered[2]["routes"]
    assert [(p["cue"], p["time_s"]) for p in route1["details"]["placed"]] == [("laughs", pytest.approx(0.05, abs=1e-3))]
    assert [(u["kind"], u["time_s"]) for u in route1["details"]["unexpressed"]] == [("beat", pytest.approx(0.1, abs=1e-3))]
    assert [(p["cue"], p["time_s"]) for p in route2["details"]["placed"]] == [("sighs", pytest.approx(0.1, abs=1e-3))]
    assert route1["details"]["placed"][0]["word"] == "The" and route2["details"]["placed"][0]["word"] == "Birds"


@pytest.fixture(scope="module")
def plain_host():
    import warnings

    from bark_omni.host import Host

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Host(block=["watermark", "guardrails"])


def _request(text, history, seed, **longform):
    from bark_omni.api import build_request
    from bark_omni.options import GenerationOptions

    options = GenerationOptions.from_kwargs(max_gen_duration_s=0.3, allow_early_stop=False)
    return build_request(text, history, options=options, seed=seed, model="tiny", longform=longform or None)


def test_long_text_runs_segment_by_segment_with_the_voice_carried_over(plain_host):
    import warnings

    from bark_omni.api import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(_request(TEXT, "v2/en_speaker_6", 7, max_words=5, stable_mode_interval=0), host=plain_host)
        segments = result.extras["segments"]
        assert [s["text"] for s in segments] == ["Good morning to you.", "The sun is up.", "Birds are singing now."]
        assert [s["seed"] for s in segments] == [7, 8, 9]
        assert [s["voice"] for s in segments] == ["base", "previous", "previous"]
        for before, after in zip(segments, segments[1:]):  # a quarter second of silence between segments
            gap = result.audio[before["start_sample"] + before["samples"]:after["start_sample"]]
            assert len(gap) == 6000 and not gap.any()
        # segment 0 is the short request alone; segment 1 continues from segment 0's full generation
        first = run(_request("Good morning to you.", "v2/en_speaker_6", 7), host=plain_host)
        n0 = segments[0]["samples"]
        np.testing.assert_array_equal(result.audio[:n0], first.audio)
        second = run(_request("The sun is up.", first.full_generation, 8), host=plain_host)
        start = segments[1]["start_sample"]
        np.testing.assert_array_equal(result.audio[start:start + segments[1]["samples"]], second.audio)
        assert len(result.semantic) == sum(s["tokens"]["semantic"] for s in segments)


def test_base_voice_segments_run_as_a_batch_with_the_same_tokens(plain_host):
    import warnings

    from bark_omni.api import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = run(_request(TEXT, "v2/en_speaker_6", 3, max_words=5, stable_mode_interval=1), host=plain_host)
        alone = run(_request(TEXT, "v2/en_speaker_6", 3, max_words=5, stable_mode_interval=1, batch_size=1),
                    host=plain_host)
    assert [s["voice"] for s in batched.extras["segments"]] == ["base"] * 3
    for name in ("semantic", "coarse", "fine"):
        np.testing.assert_array_equal(getattr(batched, name), getattr(alone, name))


def test_replay_reproduces_a_long_form_file(tmp_path, plain_host):
    import warnings

    pytest.importorskip("bark_omni_provenance")
    from bark_omni.api import run
    from bark_omni_provenance.replay import replay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(_request(TEXT, "v2/en_speaker_6", 11, max_words=8, silence_s=0.1), host=plain_host)
        path = result.save(tmp_path / "long.wav")
        report = replay(path.with_name(path.name + ".manifest.json"), host=plain_host)
    assert len(result.extras["segments"]) == 2
    assert report.identical, report.differences
