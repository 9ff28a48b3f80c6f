"""bark-omni-watermark: every bark-omni output carries a keyed, imperceptible watermark with a 16-bit payload.

Python API: ``embed_watermark(audio, sr, payload, key=None)``, ``detect_watermark(audio, sr, key=None)`` (also
``bark_omni.detect_watermark``) and ``robustness(clips, sr, ...)`` (the evaluation behind
bench/watermark_robustness.py). The scheme is described in ``bark_omni_watermark.scheme``. numpy/scipy load on
first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .measure import RobustnessReport
    from .scheme import Detection

from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-watermark")  # VERSION at the repository root is the one source


def embed_watermark(audio: np.ndarray, sample_rate: int, payload: int, key: str | bytes | None = None) -> np.ndarray:
    """``audio`` with the watermark carrying ``payload`` (0..65535) under ``key`` (default: see ``keys``)."""
    from . import scheme
    from .keys import resolve_key

    return scheme.embed(audio, sample_rate, resolve_key(key), payload)


def detect_watermark(audio: np.ndarray, sample_rate: int, key: str | bytes | None = None,
                     threshold: float = 1e-3) -> Detection:
    """Score, calibrated p-value and payload (None unless p <= ``threshold``) of ``audio`` for ``key``."""
    from . import scheme
    from .keys import resolve_key

    return scheme.detect(audio, sample_rate, resolve_key(key), threshold=threshold)


def robustness(clips: Any, sample_rate: int, **options: Any) -> RobustnessReport:
    """Detection rate, measured false-positive rate and bit accuracy after each attack; see ``measure``."""
    from .measure import robustness as run

    return run(clips, sample_rate, **options)


__all__ = ["detect_watermark", "embed_watermark", "robustness"]
