"""Loaders that keep every Bark checkpoint and voice prompt usable, without ever unpickling arbitrary code.

Importing the package is cheap (the plugin module is loaded by every ``bark-omni`` command): torch is only
imported when a loader is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["safe_torch_load"]


def __getattr__(name: str) -> Any:
    if name == "safe_torch_load":
        from .safe_load import safe_torch_load

        return safe_torch_load
    raise AttributeError(f"module 'bark_omni_compat' has no attribute {name!r}")
