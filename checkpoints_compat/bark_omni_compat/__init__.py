"""bark-omni-checkpoints-compat: transformers' Bark format, bark-omni's converted (safetensors) layout with
``bark-omni convert``, and transformers' speaker embeddings as voice prompts. A plugin of bark-omni like any other:
suno's format, safe loading, voice prompts and fingerprints live in the core (``bark_omni.checkpoints``,
``bark_omni.safe_load``, ``bark_omni.prompts``, ``bark_omni.fingerprints``).

Importing the package is cheap: torch and friends load on first use of what needs them, so that the CLI's
``--help`` and ``plugins list`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "convert_model": "converted",
    "generation_options": "transformers_bark",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'bark_omni_compat' has no attribute {name!r}")


__all__ = sorted(_LAZY)
