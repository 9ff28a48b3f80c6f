"""The control adapter: conformance, typed events in any form, clear errors, and events acting near their time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bark_omni
import bark_omni_control.plugin as control_plugin
from bark_omni import loop as gen
from bark_omni.errors import InvalidInputError
from bark_omni.fusion import FusionModel
from bark_omni.modality import ModalityBundle
from bark_omni.specs import ControlKind
from bark_omni.testing import check_adapter_conformance
from bark_omni_control import BUILTIN_KINDS, ControlEvent, validate_events

SAMPLES = [[ControlEvent(0.1, "beat", 0.8), (0.3, "sfx", "laughs")], [{"time_s": 0.2, "kind": "phoneme", "value": "AH"}]]


def test_conformance(make_host, tiny_models):
    check_adapter_conformance(make_host(control_plugin).adapters["control"], tiny_models, samples=SAMPLES,
                              garbage=[[], [(99.0, "beat")], [(0.1, "explosion")], [(-0.5, "beat")], [("soon", "beat")],
                                       [(0.1, "beat", 7)], [(0.1, "sfx")], ControlEvent(0.1, "beat"), [{"when": 1}]])


def test_events_in_every_form_are_the_same():
    forms = [[ControlEvent(1.0, "sfx", "laughs"), ControlEvent(0.5, "beat")],
             [{"time_s": 1.0, "kind": "sfx", "value": "laughs"}, {"time": 0.5, "kind": "beat"}],
             [(1.0, "sfx", "laughs"), [0.5, "beat"]]]
    expected = [ControlEvent(0.5, "beat"), ControlEvent(1.0, "sfx", "laughs")]  # sorted by time
    for events in forms:
        assert validate_events(events, BUILTIN_KINDS) == expected


@pytest.mark.parametrize("events, message", [
    ([(15.5, "beat")], "outside Bark's semantic timeline"),
    ([(float("nan"), "beat")], "number of seconds"),
    ([(0.2, "drumroll")], "unknown control event kind 'drumroll' \\(known: beat, phoneme, sfx\\)"),
    ([(0.2, "beat", 2.0)], "strength in \\[0, 1\\]"),
    ([(0.2, "phoneme", "way too long for a phoneme")], "1..8 characters"),
    ("beat at 1s", "must be a list"),
    ([], "is empty"),
    ([object()], "must be ControlEvent"),
])
def test_bad_events_are_clear_errors(events, message):
    with pytest.raises(InvalidInputError, match=message):
        validate_events(events, BUILTIN_KINDS)


class BreathKind:
    @bark_omni.hookimpl
    def register_control_kinds(self, register):
        def validate(value):
            if value not in (None, "in", "out"):
                raise InvalidInputError("a breath is 'in' or 'out'")

        register(ControlKind("breath", validate, "an audible breath"))


def test_third_party_kinds_come_from_the_host(make_host, tiny_models):
    host = make_host(control_plugin, BreathKind())
    adapter = FusionModel.initialise(host, tiny_models, ["control_events"]).adapters["control_events"]
    prepared = adapter.prepare([(0.4, "breath", "in"), (0.2, "beat")])
    assert prepared.frames.tolist() == pytest.approx([0.2 * 49.9, 0.4 * 49.9])
    with pytest.raises(InvalidInputError, match="'in' or 'out'"):
        adapter.prepare([(0.4, "breath", "sideways")])
    plain = FusionModel.initialise(make_host(control_plugin), tiny_models, ["control_events"]).adapters["control_events"]
    with pytest.raises(InvalidInputError, match="unknown control event kind 'breath'"):
        plain.prepare([(0.4, "breath")])


def test_coarse_stage_is_refused(tiny_models):
    with pytest.raises(InvalidInputError, match="semantic stage only"):
        control_plugin.build(tiny_models, 16, {"stages": ["semantic", "coarse"]})


def test_an_event_acts_near_its_time_only(make_host, tiny_models):
    """With the gates open wide, an event at 0.4 s and one at 0.8 s give the same semantic frames before the first
    event's window, and the first frame they differ in lies inside it (0.4 s +- 0.15 s: frames 13..27 at 49.9 Hz).
    Every frame sees the events' start token (the same for both), so both differ from vanilla Bark from the start."""
    model = FusionModel.initialise(make_host(control_plugin), tiny_models, ["control_events"])
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(3.0)
            layer.out.weight.mul_(300)
    tokens = gen.encode_text(tiny_models.tokenizer, "on the beat")
    run = lambda c: gen.generate_semantic(tiny_models.text, tokens, allow_early_stop=False, max_gen_duration_s=0.8,  # noqa: E731
                                          generator=torch.Generator().manual_seed(3), conditioning=c)
    at = lambda t: model.conditioning(  # noqa: E731
        [ModalityBundle(control_events=[ControlEvent(t, "sfx", "laughs")])]).for_stage("semantic")
    vanilla, early, late = run(None), run(at(0.4)), run(at(0.8))
    assert (vanilla != early).any(), "an open gate must change something"
    changed = np.flatnonzero(early[: len(late)] != late[: len(early)])
    assert changed.size > 0, "where the event falls must change something"
    assert 13 <= changed[0] <= 27, f"first change at frame {changed[0]}, outside the event's window"
