"""The plugin module named by the entry point: registration only, nothing heavy imported."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    from .adapter import EmotionAdapter

    return EmotionAdapter(d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND, modality="emotion", aliases=("mood",), build=build, version=ADAPTER_VERSION,
        package="bark-omni-emotion-example",
        description="an emotion label, or a mix of labels, as one trainable context token",
    ))
