"""A corpus of bad inputs to the Python API: each one is refused before any model loads, with a typed
bark-omni error whose message is one short line (no torch internals, long inputs quoted shortened)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bark_omni
from bark_omni.api import build_request, run, run_batch
from bark_omni.errors import BarkOmniError, InvalidInputError, MissingPluginError, ModelNotFoundError, PromptError

MAX_MESSAGE = 200
INF, NAN = math.inf, math.nan


def check_message(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message, message
    assert len(message) <= MAX_MESSAGE, f"{len(message)} chars: {message}"
    assert "Traceback" not in message and "Error(s) in loading" not in message
    return message


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if a bad input gets as far as loading models."""
    import bark_omni.models

    def refuse(*args, **kwargs):
        raise AssertionError("a bad input reached model loading")

    monkeypatch.setattr(bark_omni.models, "load_models", refuse)


def _ragged():
    return {"semantic_prompt": [[1, 2], [3]], "coarse_prompt": np.zeros((2, 3), np.int64),
            "fine_prompt": np.zeros((8, 3), np.int64)}


def _prompt(**override):
    prompt = {"semantic_prompt": np.arange(100) % 10_000, "coarse_prompt": np.zeros((2, 150), np.int64),
              "fine_prompt": np.zeros((8, 150), np.int64)}
    prompt.update(override)
    return prompt


CUDA_MISSING = "cuda" if not __import__("torch").cuda.is_available() else "cuda:999"

# (id, keyword arguments of generate_audio, the error class, a fragment the message must contain)
CASES = [
    # coarse window and history (a window of 0 used to hang)
    ("window-0", {"sliding_window_len": 0}, InvalidInputError, "sliding_window_len"),
    ("window-neg", {"sliding_window_len": -1}, InvalidInputError, "sliding_window_len"),
    ("window-float", {"sliding_window_len": 1.5}, InvalidInputError, "sliding_window_len"),
    ("window-str", {"sliding_window_len": "60"}, InvalidInputError, "sliding_window_len"),
    ("window-bool", {"sliding_window_len": True}, InvalidInputError, "sliding_window_len"),
    ("window-huge", {"sliding_window_len": 10**9}, InvalidInputError, "sliding_window_len"),
    ("history-low", {"max_coarse_history": 59}, InvalidInputError, "max_coarse_history"),
    ("history-high", {"max_coarse_history": 631}, InvalidInputError, "max_coarse_history"),
    ("history-str", {"max_coarse_history": "630"}, InvalidInputError, "max_coarse_history"),
    ("history-none", {"max_coarse_history": None}, InvalidInputError, "max_coarse_history"),
    # seed
    ("seed-huge", {"seed": 2**70}, InvalidInputError, "seed"),
    ("seed-neg", {"seed": -1}, InvalidInputError, "seed"),
    ("seed-bool", {"seed": True}, InvalidInputError, "seed"),
    ("seed-float", {"seed": 1.5}, InvalidInputError, "seed"),
    ("seed-str", {"seed": "1"}, InvalidInputError, "seed"),
    ("seed-nan", {"seed": NAN}, InvalidInputError, "seed"),
    # temperatures
    ("text-temp-inf", {"text_temp": INF}, InvalidInputError, "text_temp"),
    ("text-temp-nan", {"text_temp": NAN}, InvalidInputError, "text_temp"),
    ("text-temp-0", {"text_temp": 0}, InvalidInputError, "text_temp"),
    ("text-temp-neg", {"text_temp": -1}, InvalidInputError, "text_temp"),
    ("text-temp-str", {"text_temp": "hot"}, InvalidInputError, "text_temp"),
    ("text-temp-none", {"text_temp": None}, InvalidInputError, "text_temp"),
    ("text-temp-bool", {"text_temp": True}, InvalidInputError, "text_temp"),
    ("wave-temp-inf", {"waveform_temp": INF}, InvalidInputError, "waveform_temp"),
    ("wave-temp-nan", {"waveform_temp": NAN}, InvalidInputError, "waveform_temp"),
    ("wave-temp-0", {"waveform_temp": 0.0}, InvalidInputError, "waveform_temp"),
    ("wave-temp-str", {"waveform_temp": "x"}, InvalidInputError, "waveform_temp"),
    ("fine-temp-inf", {"fine_temp": INF}, InvalidInputError, "fine_temp"),
    ("fine-temp-nan", {"fine_temp": NAN}, InvalidInputError, "fine_temp"),
    ("fine-temp-0", {"fine_temp": 0}, InvalidInputError, "fine_temp"),
    ("fine-temp-neg", {"fine_temp": -0.5}, InvalidInputError, "fine_temp"),
    ("fine-temp-str", {"fine_temp": "x"}, InvalidInputError, "fine_temp"),
    # top-k / top-p
    ("top-k-0", {"top_k": 0}, InvalidInputError, "top_k"),
    ("top-k-neg", {"top_k": -1}, InvalidInputError, "top_k"),
    ("top-k-over-vocab", {"top_k": 10**6}, InvalidInputError, "top_k"),
    ("top-k-float", {"top_k": 2.5}, InvalidInputError, "top_k"),
    ("top-k-str", {"top_k": "5"}, InvalidInputError, "top_k"),
    ("top-k-bool", {"top_k": True}, InvalidInputError, "top_k"),
    ("top-p-0", {"top_p": 0}, InvalidInputError, "top_p"),
    ("top-p-neg", {"top_p": -0.1}, InvalidInputError, "top_p"),
    ("top-p-over-1", {"top_p": 1.5}, InvalidInputError, "top_p"),
    ("top-p-nan", {"top_p": NAN}, InvalidInputError, "top_p"),
    ("top-p-str", {"top_p": "0.9"}, InvalidInputError, "top_p"),
    # early stop and duration
    ("eos-str", {"min_eos_p": "x"}, InvalidInputError, "min_eos_p"),
    ("eos-nan", {"min_eos_p": NAN}, InvalidInputError, "min_eos_p"),
    ("eos-neg", {"min_eos_p": -0.1}, InvalidInputError, "min_eos_p"),
    ("eos-over-1", {"min_eos_p": 2}, InvalidInputError, "min_eos_p"),
    ("duration-str", {"max_gen_duration_s": "5"}, InvalidInputError, "max_gen_duration_s"),
    ("duration-0", {"max_gen_duration_s": 0}, InvalidInputError, "max_gen_duration_s"),
    ("duration-neg", {"max_gen_duration_s": -1}, InvalidInputError, "max_gen_duration_s"),
    ("duration-inf", {"max_gen_duration_s": INF}, InvalidInputError, "max_gen_duration_s"),
    ("early-stop-str", {"allow_early_stop": "yes"}, InvalidInputError, "allow_early_stop"),
    ("early-stop-int", {"allow_early_stop": 1}, InvalidInputError, "allow_early_stop"),
    # device
    ("device-unparsable", {"device": "quantum-cpu"}, InvalidInputError, "device"),
    ("device-unavailable", {"device": CUDA_MISSING}, InvalidInputError, "not available"),
    ("device-int", {"device": 5}, InvalidInputError, "device"),
    ("device-empty", {"device": ""}, InvalidInputError, "device"),
    # priorities
    ("priorities-list", {"priorities": [2.0]}, InvalidInputError, "priorities"),
    ("priorities-str", {"priorities": "image"}, InvalidInputError, "priorities"),
    ("priorities-unknown", {"priorities": {"bogus": 1}}, InvalidInputError, "unknown modality"),
    ("priorities-inf", {"priorities": {"image": INF}}, InvalidInputError, "finite"),
    ("priorities-nan", {"priorities": {"image": NAN}}, InvalidInputError, "finite"),
    ("priorities-neg", {"priorities": {"image": -1}}, InvalidInputError, ">= 0"),
    ("priorities-str-value", {"priorities": {"image": "2"}}, InvalidInputError, "priority"),
    ("priorities-bool", {"priorities": {"image": True}}, InvalidInputError, "priority"),
    # control events
    ("control-int", {"control_events": 5}, InvalidInputError, "control_events"),
    ("control-dict", {"control_events": {"time_s": 1, "kind": "beat"}}, InvalidInputError, "control_events"),
    ("control-bytes", {"control_events": b"[]"}, InvalidInputError, "control_events"),
    ("control-item-int", {"control_events": [5]}, InvalidInputError, "control_events[0]"),
    ("control-item-no-time", {"control_events": [{"kind": "beat"}]}, InvalidInputError, "control_events[0]"),
    ("control-time-str", {"control_events": [{"time_s": "x", "kind": "beat"}]}, InvalidInputError, "time_s"),
    ("control-time-inf", {"control_events": [{"time_s": INF, "kind": "beat"}]}, InvalidInputError, "time_s"),
    ("control-kind-int", {"control_events": [{"time_s": 1, "kind": 5}]}, InvalidInputError, "kind"),
    ("control-kind-unknown", {"control_events": [{"time_s": 1, "kind": "nope"}]}, InvalidInputError, "unknown kind"),
    ("control-value-out-of-range", {"control_events": [{"time_s": 1, "kind": "beat", "value": 5}]}, InvalidInputError,
     "beat"),
    ("control-missing-file", {"control_events": "/nonexistent/events.json"}, InvalidInputError, "does not exist"),
    # voice prompts
    ("prompt-ragged", {"history_prompt": _ragged()}, PromptError, "ragged"),
    ("prompt-wrong-keys", {"history_prompt": {"semantic": [1], "coarse": [1]}}, PromptError, "lacks"),
    ("prompt-float", {"history_prompt": _prompt(fine_prompt=np.zeros((8, 150), np.float32))}, PromptError, "integers"),
    ("prompt-ndim", {"history_prompt": _prompt(semantic_prompt=np.zeros((2, 50), np.int64))}, PromptError, "1-D"),
    ("prompt-3d", {"history_prompt": _prompt(coarse_prompt=np.zeros((2, 150, 1), np.int64))}, PromptError, "shape"),
    ("prompt-unknown-preset", {"history_prompt": "v2/en_speaker_42"}, PromptError, "unknown voice preset"),
    ("prompt-missing-npz", {"history_prompt": "/nonexistent/voice.npz"}, PromptError, "does not exist"),
    ("prompt-int", {"history_prompt": 12}, PromptError, "preset name"),
    ("prompt-list", {"history_prompt": [1, 2, 3]}, PromptError, "preset name"),
    ("prompt-empty", {"history_prompt": ""}, PromptError, "empty"),
    ("prompt-huge-name", {"history_prompt": "x" * 100_000}, PromptError, "chars"),
    # text
    ("text-int", {"text": 5}, InvalidInputError, "text must be a string"),
    ("text-bytes", {"text": b"hello"}, InvalidInputError, "text must be a string"),
    ("text-list", {"text": ["hello"]}, InvalidInputError, "text must be a string"),
    ("text-surrogate", {"text": "hello \ud800 world"}, InvalidInputError, "invalid unicode"),
    ("text-huge", {"text": "word " * 100_000}, InvalidInputError, "split it"),
    ("style-huge", {"text": "hi", "style_text": "calm " * 100_000}, InvalidInputError, "split it"),
    ("text-none", {"text": None}, InvalidInputError, "nothing to generate"),
    ("style-int", {"text": "hi", "style_text": 5}, InvalidInputError, "style_text"),
    ("style-surrogate", {"text": "hi", "style_text": "calm \udc80"}, InvalidInputError, "invalid unicode"),
    ("audio-missing", {"reference_audio": "/nonexistent/ref.wav"}, InvalidInputError, "does not exist"),
    ("image-missing", {"image": "/nonexistent/cat.png"}, InvalidInputError, "does not exist"),
    # unknown keywords and call options
    ("kwarg-unknown", {"bogus": 1}, InvalidInputError, "unknown argument"),
    ("kwarg-misspelt", {"top_kk": 5}, InvalidInputError, "did you mean top_k"),
    ("kwarg-huge-name", {"x" * 500: 1}, InvalidInputError, "unknown argument"),
    ("decoder-unknown", {"decoder": "nope"}, MissingPluginError, "nope"),
    ("decoder-int", {"decoder": 5}, InvalidInputError, "decoder"),
    ("decoder-empty", {"decoder": ""}, InvalidInputError, "decoder"),
    ("decoder-options-list", {"decoder_options": [1]}, InvalidInputError, "decoder_options"),
    ("decoder-options-str", {"decoder_options": "steps=3"}, InvalidInputError, "decoder_options"),
    ("decoder-options-int-keys", {"decoder_options": {1: 2}}, InvalidInputError, "decoder_options"),
    ("model-int", {"model": 5}, InvalidInputError, "model"),
    ("adapters-missing", {"adapters": "/nonexistent/adapters"}, InvalidInputError, "does not exist"),
    ("silent-str", {"silent": "no"}, InvalidInputError, "silent"),
    ("output-full-str", {"output_full": "yes"}, InvalidInputError, "output_full"),
    ("progress-int", {"progress": 5}, InvalidInputError, "progress"),
]


@pytest.mark.parametrize("kwargs, error, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generate_audio_refuses_bad_input_up_front(kwargs, error, fragment, tiny_host, no_model_loading):
    arguments = {"text": "Hello there.", "model": "tiny", "host": tiny_host, "silent": True, "seed": 0, **kwargs}
    with pytest.raises(error) as info:
        bark_omni.generate_audio(**arguments)
    assert fragment in check_message(info.value)


def test_long_inputs_are_quoted_shortened(tiny_host, no_model_loading):
    with pytest.raises(InvalidInputError) as info:
        bark_omni.generate_audio("hi", model="tiny", host=tiny_host, silent=True, top_p="z" * 5000)
    message = check_message(info.value)
    assert "zzzz..." in message and "5,000 chars" in message


BATCH_CASES = [
    ("rows-str", dict(rows="hello"), "non-empty list"),
    ("rows-empty", dict(rows=[]), "non-empty list"),
    ("row-int", dict(rows=[5]), "row 0"),
    ("row-unknown-key", dict(rows=[{"text": "hi", "bogus": 1}]), "unknown argument"),
    ("row-arg-shared", dict(rows=["hi"], seed=1), "belong in each row"),
    ("row-bad-seed", dict(rows=["hi", {"text": "yo", "seed": -5}]), "seed"),
    ("row-bad-temp", dict(rows=["hi"], text_temp=INF), "text_temp"),
]


@pytest.mark.parametrize("kwargs, fragment", [c[1:] for c in BATCH_CASES], ids=[c[0] for c in BATCH_CASES])
def test_generate_batch_refuses_bad_input_up_front(kwargs, fragment, tiny_host, no_model_loading):
    with pytest.raises(InvalidInputError) as info:
        bark_omni.generate_batch(model="tiny", host=tiny_host, silent=True, **kwargs)
    assert fragment in check_message(info.value)


def _request(**override):
    return build_request(**{"text": "hi", "model": "tiny", **override})


@pytest.mark.parametrize("call, fragment", [
    (lambda host: run("hello", host=host), "GenerationRequest"),
    (lambda host: run_batch([], host=host), "non-empty list"),
    (lambda host: run_batch("hello", host=host), "non-empty list"),
    (lambda host: run_batch([_request(), 5], host=host), "GenerationRequest"),
    (lambda host: run_batch([_request(), _request(decoder="vocos")], host=host), "share model"),
    (lambda host: run(_request(), host=host, device="quantum-cpu"), "device"),
    (lambda host: run(bark_omni.GenerationRequest(text="hi", options={"top_k": 5}), host=host), "GenerationOptions"),
], ids=["run-str", "batch-empty", "batch-str", "batch-item-int", "batch-mixed-decoder", "run-device",
        "request-dict-options"])
def test_run_and_run_batch_refuse_bad_input(call, fragment, tiny_host, no_model_loading):
    with pytest.raises(InvalidInputError) as info:
        call(tiny_host)
    assert fragment in check_message(info.value)


def test_unknown_model_name_is_one_line(tiny_host):
    with pytest.raises(ModelNotFoundError) as info:
        bark_omni.generate_audio("hi", model="/nonexistent/model-dir", host=tiny_host, silent=True)
    check_message(info.value)
