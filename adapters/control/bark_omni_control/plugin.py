"""Registers the control-event adapter and the built-in event kinds (entry point ``control``)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, ControlKind, hookimpl
from bark_omni.specs import ControlCue, Route

from . import ADAPTER_KIND, ADAPTER_VERSION
from .events import BUILTIN_KINDS


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import ControlAdapter

    return ControlAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="control_events", build=build, version=ADAPTER_VERSION, package="bark-omni-control",
        aliases=("control",), rank=40,
        description="timed control events (beats, phoneme hints, sfx triggers) placed on the semantic timeline",
    ))


@hookimpl
def register_control_kinds(register: Callable[[ControlKind], None]) -> None:
    for kind in BUILTIN_KINDS.values():
        register(kind)


def _control_route(call: Any) -> Any:
    from .cues import control_route

    return control_route(call)


@hookimpl
def register_routes(register: Callable[[Route], None]) -> None:
    register(Route(name="control-cues", modality="control_events", apply=_control_route, order=60,
                   package="bark-omni-control",
                   description="events -> Bark's own cues ([laughs], [sighs], ..., ♪, CAPITALS) at the nearest word"))


@hookimpl
def register_control_cues(register: Callable[[ControlCue], None]) -> None:
    from .cues import BUILTIN_CUES

    for cue in BUILTIN_CUES:
        register(cue)
