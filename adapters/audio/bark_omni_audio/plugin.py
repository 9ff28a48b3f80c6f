"""Registers the reference-audio adapter with bark-omni (entry point ``audio`` in the ``bark_omni`` group)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl
from bark_omni.specs import Route

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import ReferenceAudioAdapter

    return ReferenceAudioAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="reference_audio", build=build, version=ADAPTER_VERSION, package="bark-omni-audio",
        aliases=("audio",), rank=20,
        description="reference recording through Bark's frozen EnCodec encoder + a trainable projection",
    ))


def _voice_route(call: Any) -> Any:
    from .voice import voice_route

    return voice_route(call)


@hookimpl
def register_routes(register: Callable[[Route], None]) -> None:
    register(Route(name="voice-prompt", modality="reference_audio", apply=_voice_route, order=30,
                   package="bark-omni-audio",
                   description="the recording -> a full voice prompt (semantic + coarse + fine) as history_prompt"))
