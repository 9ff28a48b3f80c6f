"""Long-form generation: splitting, joining, voice carry-over, batching, control events, replay."""

from __future__ import annotations

import numpy as np
import pytest

from bark_omni.errors import InvalidInputError
from bark_omni.longform import LongFormOptions, events_for_segment, join_audio, split_segments, split_sentences

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
    assert events_for_segment(events, 0.0, 2.0) == [{"time_s": 0.5, "kind": "beat"}]
    assert events_for_segment(events, 2.5, None) == [{"time_s": 0.5, "kind": "beat"}, (2.0, "beat", 1.0)]
    assert events_for_segment(events, 5.0, None) is None


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
