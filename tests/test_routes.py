"""Training-free routes (bark_omni.routes): order, priorities, voice-prompt conflicts, records, adapters' share."""

from __future__ import annotations

import warnings

import pytest

from bark_omni import hookimpl
from bark_omni.errors import PluginHookError
from bark_omni.modality import ModalityBundle
from bark_omni.routes import RouteWarning, route_requests
from bark_omni.specs import AdapterSpec, GenerationRequest, Route, RouteOutcome


class ToyRoutes:
    """Two modalities: ``tag`` prefixes its value to the text, ``voice`` sets a voice prompt named by its value."""

    @hookimpl
    def register_adapters(self, register):
        for name in ("tag", "voice", "loud"):
            register(AdapterSpec(name=name, modality=name, build=lambda *a, **k: None))

    @hookimpl
    def register_routes(self, register):
        register(Route("tag-prefix", "tag", lambda call: RouteOutcome(did="tagged", text=f"{call.value} {call.text}",
                                                                       details={"p": call.priority}), order=20))
        register(Route("voice-name", "voice", lambda call: RouteOutcome(did="voiced", history_prompt=call.value,
                                                                         notes=("a note",)), order=10))
        register(Route("broken", "loud", lambda call: 1 / 0))


def request(text="hi", prompt=None, **inputs):
    priorities = inputs.pop("priorities", None)
    return GenerationRequest(text=text, history_prompt=prompt, modalities=ModalityBundle(inputs, priorities=priorities))


def routed(host, req, adapters=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = route_requests(host, None, [req], adapters)
    return out.requests[0], out.records[0], [w for w in caught if issubclass(w.category, RouteWarning)]


def test_routes_rewrite_a_copy_and_record_themselves(make_host):
    host = make_host(ToyRoutes())
    original = request(tag="[laughs]", voice="v2/en_speaker_1")
    new, records, warned = routed(host, original)
    assert (new.text, new.history_prompt) == ("[laughs] hi", "v2/en_speaker_1")
    assert (original.text, original.history_prompt) == ("hi", None), "the caller's request is left alone"
    assert new.modalities.empty, "routed modalities leave nothing for the fusion block"
    assert [(r["modality"], r["route"], r["did"]) for r in records] == [("voice", "voice-name", "voiced"),
                                                                        ("tag", "tag-prefix", "tagged")]
    assert records[1]["details"] == {"p": 1.0} and "a note" in str(warned[0].message)


def test_priority_zero_skips_a_route_and_priority_reaches_it(make_host):
    host = make_host(ToyRoutes())
    new, records, _ = routed(host, request(tag="x", priorities={"tag": 0}))
    assert new.text == "hi" and records == []
    _, records, _ = routed(host, request(tag="x", priorities={"tag": 2.5}))
    assert records[0]["details"]["p"] == 2.5


def test_the_callers_voice_prompt_wins_unless_the_route_priority_is_above_one(make_host):
    host = make_host(ToyRoutes())
    new, records, warned = routed(host, request(prompt="mine", voice="theirs"))
    assert new.history_prompt == "mine" and "caller" in records[0]["notes"][-1] and len(warned) == 2
    new, _, _ = routed(host, request(prompt="mine", voice="theirs", priorities={"voice": 1.5}))
    assert new.history_prompt == "theirs"


def test_modalities_the_adapters_cover_skip_their_routes(make_host, monkeypatch):
    import bark_omni.routes as routes

    host = make_host(ToyRoutes())
    monkeypatch.setattr(routes, "adapter_modalities", lambda host, models, adapters: {"tag"})
    new, records, _ = routed(host, request(tag="x", voice="v"), adapters="some-dir")
    assert new.text == "hi" and new.history_prompt == "v"
    assert new.modalities.present() == ["tag"], "the adapter still gets its modality"
    assert [r["modality"] for r in records] == ["voice"]


def test_a_failing_route_fails_closed_naming_its_plugin(make_host):
    host = make_host(ToyRoutes())
    with pytest.raises(PluginHookError, match="ToyRoutes.*route 'broken'"):
        routed(host, request(loud="x"))
