"""Registers the image adapter with bark-omni (entry point ``image`` in the ``bark_omni`` group)."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl
from bark_omni.specs import Route, SceneSound

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import ImageAdapter

    return ImageAdapter(models, d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="image", build=build, version=ADAPTER_VERSION, package="bark-omni-image", rank=30,
        description="image through a frozen open_clip vision encoder + a trainable projection",
    ))


def _image_route(call: Any) -> Any:
    from .scene import image_route

    return image_route(call)


@hookimpl
def register_routes(register: Callable[[Route], None]) -> None:
    register(Route(name="clip-scene", modality="image", apply=_image_route, order=50, package="bark-omni-image",
                   description="CLIP zero-shot scene/sound descriptions -> a cue prefix ([music], ambience words)"))


@hookimpl
def register_scene_sounds(register: Callable[[SceneSound], None]) -> None:
    from .scene import SCENE_SOUNDS

    for entry in SCENE_SOUNDS:
        register(entry)
