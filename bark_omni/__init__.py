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

_LAZY = {"generate_audio": "api", "generate_batch": "api", "run": "api", "run_batch": "api", "build_request": "api",
         "generate": "api", "generate_many": "api",  # deprecated names of run and run_batch
         "GenerationOptions": "options", "SemanticOptions": "options", "CoarseOptions": "options",
         "FineOptions": "options", "load_models": "models",
         # Bark's drop-in names (bark.api and bark.generation)
         "text_to_semantic": "generation", "semantic_to_waveform": "generation", "save_as_prompt": "generation",
         "preload_models": "generation",
         "stream_audio": "streaming", "AudioChunk": "streaming", "LongFormOptions": "longform",
         "split_segments": "longform"}


def detect_watermark(audio: Any, sample_rate: int, key: str | bytes | None = None, threshold: float = 1e-3,
                     host: Host | None = None) -> Any:
    """Check ``audio`` for the mark of the watermarker ``host`` (default: the default host) applies: the
    watermarking plugin's detection record (bark-omni-watermark's ``Detection`` has ``score``, calibrated
    ``p_value``, ``payload`` and ``detected``). ``key`` defaults to the plugin's (``$BARK_OMNI_WATERMARK_KEY``)."""
    from .host import default_host

    spec = (host or default_host()).watermarker()
    if spec is None or spec.detect is None:
        raise MissingPluginError("detect_watermark needs a watermarking plugin that can detect its mark; none is "
                                 "installed (see docs/responsible-use.md)")
    return spec.detect(audio, sample_rate, key=key, threshold=threshold)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'bark_omni' has no attribute {name!r}")


__all__ = [
    "SAMPLE_RATE", "AdapterSpec", "BarkOmniError", "CheckpointError", "ControlKind", "DecoderSpec",
    "GenerationRequest", "GenerationResult", "Host", "InvalidInputError", "MetricSpec", "MissingPluginError",
    "ModalityBundle", "ModelFormat", "ModelNotFoundError", "PluginError", "PromptError", "RequestBlocked",
    "UnsafeCheckpointError", "Verdict", "detect_watermark", "generate_audio", "generate_batch", "run", "run_batch",
    "build_request", "GenerationOptions", "SemanticOptions", "CoarseOptions", "FineOptions", "hookimpl", "load_models",
    "text_to_semantic", "semantic_to_waveform", "save_as_prompt", "preload_models",
    "stream_audio", "AudioChunk", "LongFormOptions", "split_segments",
]
