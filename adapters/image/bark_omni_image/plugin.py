"""Registers the image adapter with bark-omni (entry point ``image`` in the ``bark_omni`` group)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import ImageAdapter

    return ImageAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="image", build=build, version=ADAPTER_VERSION, package="bark-omni-image",
        description="image through a frozen open_clip vision encoder + a trainable projection",
    ))
