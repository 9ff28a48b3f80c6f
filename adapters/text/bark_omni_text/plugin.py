"""Registers the style-text adapter with bark-omni (entry point ``text`` in the ``bark_omni`` group)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import StyleTextAdapter

    return StyleTextAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="style_text", build=build, version=ADAPTER_VERSION, package="bark-omni-text",
        aliases=("text", "style"),
        description="style or instruction text through Bark's frozen text embeddings + a trainable projection",
    ))
