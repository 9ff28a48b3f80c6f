"""bark-omni: Bark, steered by more than text, through a plugin host around the frozen Bark decoder.

Importing this package is cheap (no torch): heavy modules load on first use of what needs them.
"""

from __future__ import annotations

from typing import Any

from .constants import SAMPLE_RATE
from .errors import (
    BarkOmniError,
    CheckpointError,
    InvalidInputError,
    MissingPluginError,
    ModelNotFoundError,
    PluginError,
    PromptError,
    RequestBlocked,
    UnsafeCheckpointError,
)
from .hookspecs import hookimpl
from .host import Host
from .modality import ModalityBundle
from .specs import AdapterSpec, ControlKind, DecoderSpec, GenerationRequest, GenerationResult, MetricSpec, ModelFormat, Verdict

def _installed_version(distribution: str) -> str:
    """The version of an installed distribution; VERSION at the repository root is its one source."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(distribution)
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _installed_version("bark-omni")

_LAZY = {"generate_audio": "api", "generate": "api", "generate_batch": "api", "generate_many": "api",
         "load_models": "models"}


def detect_watermark(audio: Any, sample_rate: int, key: str | bytes | None = None, threshold: float = 1e-3) -> Any:
    """Check ``audio`` for the bark-omni watermark: a ``Detection`` with ``score``, calibrated ``p_value``,
    ``payload`` (16 bits, None unless detected) and ``detected`` (p-value <= ``threshold``). Needs the
    bark-omni-watermark plugin; ``key`` defaults to ``$BARK_OMNI_WATERMARK_KEY`` or the public key."""
    try:
        from bark_omni_watermark import detect_watermark as detect
    except ImportError:
        raise MissingPluginError("detect_watermark needs the watermark plugin; install it with: "
                                 "pip install bark-omni-watermark") from None
    return detect(audio, sample_rate, key=key, threshold=threshold)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'bark_omni' has no attribute {name!r}")


__all__ = [
    "SAMPLE_RATE", "AdapterSpec", "BarkOmniError", "CheckpointError", "ControlKind", "DecoderSpec",
    "GenerationRequest", "GenerationResult", "Host", "InvalidInputError", "MetricSpec", "MissingPluginError",
    "ModalityBundle", "ModelFormat", "ModelNotFoundError", "PluginError", "PromptError", "RequestBlocked",
    "UnsafeCheckpointError", "Verdict", "detect_watermark", "generate", "generate_audio", "generate_batch", "generate_many",
    "hookimpl", "load_models",
]
