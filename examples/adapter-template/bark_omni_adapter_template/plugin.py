"""The plugin module named by the entry point: registration only, nothing heavy imported."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni import AdapterSpec, hookimpl

from . import ADAPTER_KIND, ADAPTER_VERSION


def build(models: Any, d_ctx: int, config: dict[str, Any]) -> Any:
    """Called by bark-omni with the frozen Bark models, the context width and this adapter's saved config."""
    from .adapter import ByteStyleAdapter

    return ByteStyleAdapter(d_ctx, config)


@hookimpl
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    register(AdapterSpec(
        name=ADAPTER_KIND,  # the "kind" written into saved adapter weights; keep it stable
        modality="style_text",  # which ModalityBundle field the adapter reads
        build=build,
        version=ADAPTER_VERSION,  # bump when saved weights stop fitting the adapter
        package="bark-omni-adapter-template",
        description="style text read byte by byte (a template for third-party adapters)",
    ))
