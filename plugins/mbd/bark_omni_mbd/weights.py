"""Where ``mbd_comp_8.pt`` comes from: an explicit path, ``$BARK_OMNI_MBD_WEIGHTS``, the Hugging Face cache, or
(online, when downloads are allowed, as for Bark's own weights) a download from facebook/multiband-diffusion."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MBDWeightsNotFoundError

REPO_ID = "facebook/multiband-diffusion"
FILENAME = "mbd_comp_8.pt"  # the MBD trained on EnCodec 24 kHz with 8 codebooks (6 kbps): what Bark produces
WEIGHTS_ENV = "BARK_OMNI_MBD_WEIGHTS"
FETCH_HINT = f"`huggingface-cli download {REPO_ID} {FILENAME}`"


def _explicit(path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    candidate = path / FILENAME if path.is_dir() else path
    if not candidate.is_file():
        raise MBDWeightsNotFoundError(f"no MultiBandDiffusion weights at {candidate}; point weights= (or ${WEIGHTS_ENV}) "
                                      f"at {FILENAME} or a folder holding it, fetched once online with {FETCH_HINT}")
    return candidate


def cached_weights() -> Path | None:
    """``mbd_comp_8.pt`` from the Hugging Face cache (the default one and audiocraft's), without network access."""
    from huggingface_hub import try_to_load_from_cache

    audiocraft_cache = os.environ.get("AUDIOCRAFT_CACHE_DIR")
    for cache_dir in [None] + ([audiocraft_cache] if audiocraft_cache else []):
        found = try_to_load_from_cache(REPO_ID, FILENAME, cache_dir=cache_dir)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def _download() -> Path | None:
    from bark_omni.models import offline

    if offline() or os.environ.get("BARK_OMNI_ALLOW_DOWNLOAD", "1") == "0":
        return None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(REPO_ID, FILENAME, cache_dir=os.environ.get("AUDIOCRAFT_CACHE_DIR")))
    except Exception:  # no network, hub down, gated...: the caller reports one clear line
        return None


def locate_weights(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The weights file to load; raises ``MBDWeightsNotFoundError`` saying how to get it."""
    explicit = explicit or os.environ.get(WEIGHTS_ENV) or None
    if explicit:
        return _explicit(explicit)
    found = cached_weights() or _download()
    if found is None:
        raise MBDWeightsNotFoundError(
            f"no MultiBandDiffusion weights: {FILENAME} is not in the Hugging Face cache ({REPO_ID}) and downloading "
            f"is off or failed; fetch it once online with {FETCH_HINT}, or pass decoder_options={{'weights': PATH}}"
        )
    return found
