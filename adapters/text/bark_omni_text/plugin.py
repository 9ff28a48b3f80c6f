"""Registers the style-text adapter with bark-omni (entry point ``text`` in the ``bark_omni`` group)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl
from bark_omni.specs import Route

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import StyleTextAdapter

    return StyleTextAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="style_text", build=build, version=ADAPTER_VERSION, package="bark-omni-text",
        aliases=("text", "style"), rank=10,
        description="style or instruction text through Bark's frozen text embeddings + a trainable projection",
    ))


def _style_route(call: Any) -> Any:
    from .style import style_route

    return style_route(call)


@hookimpl
def register_routes(register: Callable[[Route], None]) -> None:
    register(Route(name="style-cues", modality="style_text", apply=_style_route, order=40, package="bark-omni-text",
                   description="style words -> Bark's cues, a text treatment, [WOMAN]/[MAN] and a voice preset"))
