"""Loaders that keep every Bark checkpoint and voice prompt usable, without ever unpickling arbitrary code."""

from .safe_load import safe_torch_load

__all__ = ["safe_torch_load"]
