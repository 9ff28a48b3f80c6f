"""Watermark keys: which key signs, which keys detection tries, and the keyed pseudo-random streams.

What a key proves. The mark is keyed: only someone holding the key can embed it, detect it or (knowing where it
sits) weaken it. So a mark found under a *secret* key shows that the audio passed through a system holding that
key. The *public demo key* is printed in this file: anyone can embed it in any recording (a human one too) and
anyone can estimate and subtract it, so a public-key mark proves nothing about origin; it only shows what the
scheme does. That is why the public key is never used unless asked for by name.

Signing key, first match wins:
1. the key passed in (``key=`` / ``--key`` / ``--key-file``);
2. ``BARK_OMNI_WATERMARK_KEY`` (the key itself) or ``BARK_OMNI_WATERMARK_KEY_FILE`` (a file holding it);
3. ``BARK_OMNI_WATERMARK_PUBLIC_KEY=1`` (or ``public=True`` / ``--public-key``): the public demo key;
4. the service key: 32 random bytes made on first use and kept, readable by the owner only (0600), in
   ``$XDG_CONFIG_HOME/bark-omni/watermark.key``.
An empty key, variable or key file is an error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from bark_omni.errors import BarkOmniError

PUBLIC_KEY = b"bark-omni public watermark key v1"
KEY_ENV = "BARK_OMNI_WATERMARK_KEY"
KEY_FILE_ENV = "BARK_OMNI_WATERMARK_KEY_FILE"
PUBLIC_ENV = "BARK_OMNI_WATERMARK_PUBLIC_KEY"
SERVICE_KEY_NAME = "watermark.key"
PUBLIC_NOTE = ("watermarked with the PUBLIC demo key: anyone can add or remove this mark, so it proves nothing "
               "about where the audio came from")


class PublicKeyRefused(BarkOmniError):
    """A service was asked to sign with the public demo key without being told that this is intended."""


@dataclass(frozen=True)
class WatermarkKey:
    """A key and where it came from. ``secret`` is never shown in ``repr``; ``key_id`` is safe to publish."""

    secret: bytes = field(repr=False)
    origin: str
    public: bool = False

    @property
    def key_id(self) -> str:
        return key_id(self.secret)


def _error(message: str) -> Exception:
    from bark_omni.errors import InvalidInputError

    return InvalidInputError(message)


def _as_bytes(key: str | bytes, what: str) -> bytes:
    if not isinstance(key, (str, bytes, bytearray)):
        raise _error(f"{what} must be a string or bytes, got {type(key).__name__}")
    value = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not value.strip():
        raise _error(f"{what} is empty; give a non-empty key (or unset it to use this machine's service key)")
    return value


def read_key_file(path: str | Path, what: str = "key file") -> bytes:
    """The key held in a file (surrounding whitespace removed); a missing or empty file is an error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise _error(f"{what} {path} does not exist; create it or fix the path")
    value = path.read_bytes().strip()
    if not value:
        raise _error(f"{what} {path} is empty; put the key in it (any non-empty text)")
    return value


def service_key_path() -> Path:
    from bark_omni.files import config_dir

    return config_dir() / SERVICE_KEY_NAME


def service_key(create: bool = True) -> WatermarkKey | None:
    """This machine's secret signing key, made (0600) on first use; None if it does not exist and not ``create``."""
    path = service_key_path()
    if not path.exists():
        if not create:
            return None
        from bark_omni.files import write_secret

        write_secret(path, secrets.token_hex(32).encode("ascii") + b"\n")  # False: another process won the race
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise _error(f"the watermark service key {path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    return WatermarkKey(read_key_file(path, "the watermark service key"), f"service key {path}")


def _public_requested() -> bool:
    raw = os.environ.get(PUBLIC_ENV)
    if raw is None:
        return False
    if raw.strip().lower() in ("1", "true", "yes"):
        return True
    if raw.strip().lower() in ("0", "false", "no"):
        return False
    raise _error(f"{PUBLIC_ENV}={raw!r} must be 1 or 0")


def signing_key(key: str | bytes | None = None, *, public: bool = False) -> WatermarkKey:
    """The key to embed with (see the module docstring for the order)."""
    if key is not None:
        value = _as_bytes(key, "the watermark key")
        return WatermarkKey(value, "argument", public=value == PUBLIC_KEY)
    if KEY_ENV in os.environ:
        value = _as_bytes(os.environ[KEY_ENV], KEY_ENV)
        return WatermarkKey(value, KEY_ENV, public=value == PUBLIC_KEY)
    if KEY_FILE_ENV in os.environ:
        if not os.environ[KEY_FILE_ENV].strip():
            raise _error(f"{KEY_FILE_ENV} is set but empty; name a key file or unset it")
        value = read_key_file(os.environ[KEY_FILE_ENV], KEY_FILE_ENV)
        return WatermarkKey(value, KEY_FILE_ENV, public=value == PUBLIC_KEY)
    if public or _public_requested():
        return WatermarkKey(PUBLIC_KEY, "public demo key", public=True)
    found = service_key()
    assert found is not None
    return found


def resolve_key(key: str | bytes | None = None, *, public: bool = False) -> bytes:
    """The signing key's bytes (``signing_key(...).secret``)."""
    return signing_key(key, public=public).secret


def require_private_key(allow_public: bool = False) -> WatermarkKey:
    """For a service (``serve``): the signing key, refusing the public demo key unless ``allow_public``.

    Call it at start-up so that a service never signs with a key everybody knows without having been told to."""
    found = signing_key()
    if found.public and not allow_public:
        raise PublicKeyRefused(f"refusing to sign with the public demo watermark key ({found.origin}); unset it to use "
                                "this machine's secret key, or pass --allow-public-key")
    return found


def detection_keys(keys: Iterable[str | bytes] = (), key_files: Iterable[str | Path] = (), *,
                   public: bool | None = None) -> list[WatermarkKey]:
    """The keys detection tries: those given, else the configured signing key (environment or service key).

    ``public``: also try the public demo key (None: only when no key was given, so a demo mark is still
    recognised and reported as such). Duplicates are dropped; the order is kept."""
    found = [WatermarkKey(_as_bytes(k, "a --key value"), "argument") for k in keys]
    found += [WatermarkKey(read_key_file(p), f"key file {p}") for p in key_files]
    given = bool(found)
    if not given:
        if KEY_ENV in os.environ or KEY_FILE_ENV in os.environ:
            found.append(signing_key())
        else:
            service = service_key(create=False)
            if service is not None:
                found.append(service)
    if public or (public is None and not given):
        found.append(WatermarkKey(PUBLIC_KEY, "public demo key", public=True))
    unique: dict[bytes, WatermarkKey] = {}
    for item in found:
        if item.secret not in unique:
            unique[item.secret] = WatermarkKey(item.secret, item.origin, public=item.public or item.secret == PUBLIC_KEY)
    return list(unique.values())


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (safe to write into manifests; it does not reveal the key)."""
    return hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:16]


def keyed_rng(key: bytes, purpose: str) -> np.random.Generator:
    """A PRNG whose whole stream is fixed by HMAC-SHA256(key, purpose); PCG64 is stable across numpy versions."""
    digest = hmac.new(key, purpose.encode("utf-8"), hashlib.sha256).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))
