"""Decoding what a manifest points at, and hashing it (for leakage checks and target caching)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bark_omni.audio import read_audio

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .manifest import Row


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate, through the core's audio toolbox (libsndfile formats)."""
    return read_audio(Path(path), what="training audio")


def load_image(path: Path) -> Image.Image:
    """An RGB PIL image, fully decoded (a truncated file fails here, not later)."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return img.convert("RGB")




def row_content_hash(row: Row, file_hashes: dict[str, str]) -> str:
    """Hash of everything a row teaches (not its id or split): equal hashes in two splits are leakage."""
    content = {"text": row.text, "caption": row.caption, "control_events": row.control_events,
               "semantic": list(row.semantic) if row.semantic else None, "files": file_hashes}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed from any JSON-able parts (the same on every machine and process)."""
    return int.from_bytes(hashlib.sha256(json.dumps(parts, default=str).encode()).digest()[:8], "little") >> 1
