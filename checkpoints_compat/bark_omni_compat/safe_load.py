"""``torch.load`` with ``weights_only=True`` and exactly the extra globals real Bark files need.

suno's checkpoints store ``best_val_loss`` as a numpy scalar, which torch >= 2.6 refuses by default
(suno-ai/bark issues 626 and 656). We allow the numpy scalar constructor and dtype under both the numpy 1.x
and numpy 2.x module names, and nothing else. There is no fallback to ``weights_only=False``.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bark_omni.errors import CheckpointError, UnsafeCheckpointError


def _numpy_globals() -> list[Any]:
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    allowed: list[Any] = [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        (np.dtype, "numpy.dtype"),
    ]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:  # numpy 2 pickles dtypes by class
        for cls_name in ("Float64DType", "Float32DType", "Int64DType", "Int32DType"):
            cls = getattr(dtypes, cls_name, None)
            if cls is not None:
                allowed.append((cls, f"numpy.dtypes.{cls_name}"))
    return allowed


ALLOWED_GLOBALS = _numpy_globals()


def safe_torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a torch pickle with ``weights_only=True`` plus the numpy allowlist; refuse anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).split("\n")[0]
        for line in str(exc).splitlines():
            if "Unsupported global" in line or "GLOBAL" in line:
                detail = line.strip()
                break
        raise UnsafeCheckpointError(
            f"refused to load {path}: its pickle asks for code outside the allowlist ({detail}); "
            "only load checkpoints from sources you trust, or convert them with `bark-omni convert` in a sandbox"
        ) from None
    except Exception as exc:  # a truncated or foreign file fails in many ways inside the unpickler
        raise CheckpointError(
            f"cannot read {path} as a torch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "is the file complete and in the right format?"
        ) from None
