"""Content fingerprints of Bark weights, and the one check that something made for a base model meets that model.

The fingerprint (``BarkModels.fingerprint``) hashes the three stages' tensor names, dtypes, shapes and values,
not file bytes, so the same weights in any format (suno .pt, transformers, converted) share it. Whatever is tied
to a base model (adapters, fusion weights, training targets) stores ``base_fingerprint(models)`` when saved and
calls ``require_fingerprint`` (or ``require_same_base``) when loaded.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

FINGERPRINT_PATTERN = re.compile(r"sha256:[0-9a-f]{32}")


class FingerprintMismatchError(CheckpointError):
    """An adapter (or anything tied to a base model) was made for different Bark weights than those loaded."""

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


def fingerprint_modules(modules: dict[str, torch.nn.Module]) -> str:
    """``sha256:`` + 32 hex digits over every tensor of ``modules`` (mask buffers left out), in a fixed order."""
    return fingerprint_stages(modules, modules.__getitem__)


def fingerprint_stages(names: Iterable[str], load: Callable[[str], torch.nn.Module]) -> str:
    """``fingerprint_modules`` of the modules ``load(name)`` gives, asking for one at a time (in the fixed order),
    so that a caller may keep only one in memory (``offload``)."""
    digest = hashlib.sha256()
    for stage in sorted(names):
        _hash_module(digest, stage, load(stage))
    return "sha256:" + digest.hexdigest()[:32]


def _hash_module(digest: Any, stage: str, module: torch.nn.Module) -> None:
    import torch

    state = module.state_dict()
    for key in sorted(state):
        if key.endswith(".attn.bias"):
            continue
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(f"{stage}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def base_fingerprint(models: Any) -> str:
    """The fingerprint to store with an adapter trained on ``models`` (a ``BarkModels``)."""
    return models.fingerprint


def require_same_base(expected: str, models: Any, what: str = "this adapter", plural: bool = False) -> None:
    """Raise ``FingerprintMismatchError`` unless ``models`` (a ``BarkModels`` or a fingerprint string) has the
    fingerprint ``expected``; ``what`` names the thing being attached (``plural`` for "the adapters in DIR")."""
    actual = models if isinstance(models, str) else models.fingerprint
    if expected == actual:
        return
    source = "" if isinstance(models, str) else f" ({getattr(models, 'source', '')})"
    raise FingerprintMismatchError(
        f"{what} {'were' if plural else 'was'} made for base model {expected}, but the loaded model{source} is "
        f"{actual}; load that base (`bark-omni fingerprint MODEL` shows a model's fingerprint) or retrain",
        expected=expected, actual=actual,
    )


def require_fingerprint(expected: str | None, models: Any, what: str = "this adapter") -> None:
    """``require_same_base`` for a stored fingerprint that must also be well formed (``sha256:`` + 32 hex)."""
    if not isinstance(expected, str) or not FINGERPRINT_PATTERN.fullmatch(expected):
        raise CheckpointError(f"{what} carries no valid base-model fingerprint ({expected!r}); re-save it with "
                              "bark_omni.fingerprints.base_fingerprint(models)")
    require_same_base(expected, models, what)
