"""Loaders that keep every Bark checkpoint and voice prompt usable, without ever unpickling arbitrary code.

Importing the package is cheap: torch and friends load on first use of what needs them, so that the CLI's
``--help`` and ``plugins list`` stay fast (this package is an essential plugin, loaded by every host).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "safe_torch_load": "safe_load",
    "convert_model": "converted",
    "load_history_prompt": "prompts",
    "prompt_from_audio": "prompts",
    "require_fingerprint": "fingerprints",
    "FingerprintMismatchError": "fingerprints",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'bark_omni_compat' has no attribute {name!r}")


__all__ = sorted(_LAZY)
