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

__version__ = "0.1.0"

_LAZY = {"generate_audio": "api", "generate": "api", "load_models": "models"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'bark_omni' has no attribute {name!r}")


__all__ = [
    "SAMPLE_RATE", "AdapterSpec", "BarkOmniError", "CheckpointError", "ControlKind", "DecoderSpec",
    "GenerationRequest", "GenerationResult", "Host", "InvalidInputError", "MetricSpec", "MissingPluginError",
    "ModalityBundle", "ModelFormat", "ModelNotFoundError", "PluginError", "PromptError", "RequestBlocked",
    "UnsafeCheckpointError", "Verdict", "generate", "generate_audio", "hookimpl", "load_models",
]
