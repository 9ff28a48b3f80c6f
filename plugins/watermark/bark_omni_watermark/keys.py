"""Watermark keys: where the key comes from, and the keyed pseudo-random streams derived from it.

A key is any byte string. ``BARK_OMNI_WATERMARK_KEY`` (the key itself) or ``BARK_OMNI_WATERMARK_KEY_FILE`` (a file
holding it) set a private one; without either, the public default key is used, so that anyone can check that
audio came from bark-omni (a public key proves origin, not secrecy: keep a private key to stop forgeries).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import numpy as np

PUBLIC_KEY = b"bark-omni public watermark key v1"
KEY_ENV = "BARK_OMNI_WATERMARK_KEY"
KEY_FILE_ENV = "BARK_OMNI_WATERMARK_KEY_FILE"


def resolve_key(key: str | bytes | None = None) -> bytes:
    """The key to use: the one given, else the environment's, else the public default."""
    if key is None:
        if os.environ.get(KEY_ENV):
            key = os.environ[KEY_ENV]
        elif os.environ.get(KEY_FILE_ENV):
            from bark_omni.errors import InvalidInputError

            path = Path(os.environ[KEY_FILE_ENV]).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"{KEY_FILE_ENV} points at {path}, which is not a file; fix or unset it")
            key = path.read_bytes().strip()
        else:
            key = PUBLIC_KEY
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (safe to write into manifests; it does not reveal the key)."""
    return hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:16]


def keyed_rng(key: bytes, purpose: str) -> np.random.Generator:
    """A PRNG whose whole stream is fixed by HMAC-SHA256(key, purpose); PCG64 is stable across numpy versions."""
    digest = hmac.new(key, purpose.encode("utf-8"), hashlib.sha256).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))
