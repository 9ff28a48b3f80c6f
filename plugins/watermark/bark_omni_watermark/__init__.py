"""bark-omni-watermark: every bark-omni output carries a keyed, imperceptible watermark with a 16-bit payload.

Python API: ``embed_watermark(audio, sr, payload, key=None)``, ``detect_watermark(audio, sr, key=None, keys=...)``
(also ``bark_omni.detect_watermark``), ``keys.require_private_key()`` (for services) and ``robustness(clips, sr, ...)`` (the evaluation behind
bench/watermark_robustness.py). The scheme is described in ``bark_omni_watermark.scheme``. numpy/scipy load on
first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .measure import RobustnessReport
    from .scheme import Detection

from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-watermark")  # VERSION at the repository root is the one source


def embed_watermark(audio: np.ndarray, sample_rate: int, payload: int, key: str | bytes | None = None, *,
                    public: bool = False) -> np.ndarray:
    """``audio`` with the watermark carrying ``payload`` (0..65535) under ``key`` (default: the configured key or
    this machine's service key, see ``keys``; ``public=True`` asks for the public demo key, and warns)."""
    import warnings

    from . import scheme
    from .keys import PUBLIC_NOTE, signing_key

    chosen = signing_key(key, public=public)
    if chosen.public:
        warnings.warn(f"bark-omni: {PUBLIC_NOTE}", UserWarning, stacklevel=2)
    return scheme.embed(audio, sample_rate, chosen.secret, payload)


def detect_watermark(audio: np.ndarray, sample_rate: int, key: str | bytes | None = None,
                     threshold: float = 1e-3, *, keys: Sequence[str | bytes] = (),
                     key_files: Sequence[str] = (), public: bool | None = None) -> Detection:
    """Score, calibrated p-value and payload (None unless p <= ``threshold``) of ``audio``.

    Tries every key in ``key`` + ``keys`` + ``key_files`` (default: the configured key or service key, and the
    public demo key); the p-value accounts for the number of keys tried, and the result names the key that
    matched (``key_id``, ``key_public``)."""
    from . import scheme
    from .keys import detection_keys

    tried = detection_keys(([key] if key is not None else []) + list(keys), key_files, public=public)
    return scheme.detect_keys(audio, sample_rate, tried, threshold=threshold)


def robustness(clips: Any, sample_rate: int, **options: Any) -> RobustnessReport:
    """Detection rate, measured false-positive rate and bit accuracy after each attack; see ``measure``."""
    from .measure import robustness as run

    return run(clips, sample_rate, **options)


def require_private_key(allow_public: bool = False) -> Any:
    """The signing key a service will use; raises ``PublicKeyRefused`` on the public demo key unless allowed."""
    from .keys import require_private_key as require

    return require(allow_public=allow_public)


__all__ = ["detect_watermark", "embed_watermark", "require_private_key", "robustness"]
