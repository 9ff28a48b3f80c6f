"""``torch.load`` with ``weights_only=True`` and exactly the extra globals real Bark files need.

suno's checkpoints store ``best_val_loss`` as a numpy float64 scalar, which torch >= 2.6 refuses by default
(suno-ai/bark issues 626 and 656). Unpickling that scalar names three globals: the scalar constructor (under
``numpy.core.multiarray`` in the real files, written by numpy 1.x, and ``numpy._core.multiarray`` in files
re-saved by numpy 2), ``numpy.dtype``, and the float64 dtype's class (checked when its state is set). Those are
allowed, nothing else. There is no fallback to unrestricted unpickling: a file whose pickle asks for any other
global is refused before any of its code can run.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from .errors import CheckpointError, UnsafeCheckpointError


def _numpy_globals() -> list[Any]:
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    return [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        type(np.dtype(np.float64)),  # numpy.dtypes.Float64DType on numpy >= 1.25
    ]


ALLOWED_GLOBALS = _numpy_globals()


def _refused_global(message: str) -> str:
    match = re.search(r"GLOBAL ([\w.]+)", message)
    if match:
        return f"it names the global {match.group(1)}"
    first = next((line.strip() for line in message.splitlines() if "WeightsUnpickler" in line), message.splitlines()[0] if message else "")
    return first.replace("WeightsUnpickler error: ", "it uses ")


def safe_torch_load(path: str | Path, map_location: str | torch.device = "cpu", extra_globals: Iterable[Any] = (),
                    mmap: bool = False) -> Any:
    """Load a torch pickle with ``weights_only=True`` plus the numpy allowlist (and ``extra_globals``, for a
    plugin whose files need a few more classes); refuse anything else with ``UnsafeCheckpointError``.
    ``mmap=True`` maps the tensors from the file instead of reading them (no second copy while loading)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
    try:
        with torch.serialization.safe_globals([*ALLOWED_GLOBALS, *extra_globals]):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refused to load {path}: {_refused_global(str(exc))}, which is neither a tensor nor a plain value, "
            "and unpickling it could run code; nothing in it was executed. Use the weights as safetensors, or "
            "re-save just the tensors where you trust the file"
        ) from None
    except Exception as exc:  # a truncated or foreign file fails in many ways inside the unpickler
        raise CheckpointError(
            f"cannot read {path} as a torch checkpoint ({type(exc).__name__}); is the file complete and in the right format?"
        ) from None
