"""Base-model fingerprints for adapters: an adapter trained on one Bark refuses, clearly, to attach to another.

The fingerprint is ``BarkModels.fingerprint`` (core: a hash of the three stages' tensor names, dtypes, shapes
and values, not of file bytes), so the same weights in any format (suno .pt, transformers, converted) share it.
An adapter checkpoint stores ``base_fingerprint(models)`` when saved and calls ``require_fingerprint`` when loaded.
"""

from __future__ import annotations

import re
from typing import Any

from bark_omni.errors import CheckpointError

FINGERPRINT_PATTERN = re.compile(r"sha256:[0-9a-f]{32}")


class FingerprintMismatchError(CheckpointError):
    """An adapter (or anything tied to a base model) was made for different Bark weights than those loaded."""

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


def base_fingerprint(models: Any) -> str:
    """The fingerprint to store with an adapter trained on ``models`` (a ``BarkModels``)."""
    return models.fingerprint


def require_fingerprint(expected: str | None, models: Any, what: str = "this adapter") -> None:
    """Raise ``FingerprintMismatchError`` unless ``models`` (a ``BarkModels`` or a fingerprint string) is the base
    model ``expected`` names; ``what`` names the thing being attached, for the message."""
    actual = models if isinstance(models, str) else models.fingerprint
    source = "" if isinstance(models, str) else f" ({getattr(models, 'source', '')})"
    if not isinstance(expected, str) or not FINGERPRINT_PATTERN.fullmatch(expected):
        raise CheckpointError(f"{what} carries no valid base-model fingerprint ({expected!r}); re-save it with "
                              "bark_omni_compat.fingerprints.base_fingerprint(models)")
    if expected != actual:
        raise FingerprintMismatchError(
            f"{what} was trained on the base model {expected}, but the loaded model{source} is {actual}; "
            "load the base it was trained on (`bark-omni fingerprint MODEL` shows a model's fingerprint)",
            expected=expected, actual=actual,
        )
