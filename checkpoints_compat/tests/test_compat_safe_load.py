"""safe_torch_load: the real files' numpy scalar loads, code never runs, and there is no unsafe fallback."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from bark_omni.errors import CheckpointError, UnsafeCheckpointError
from bark_omni.safe_load import safe_torch_load
from bark_omni.safe_load import ALLOWED_GLOBALS


class WritesMarker:
    """Unpickling this opens (creates) a file: stands for any code a malicious pickle could run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_numpy1_scalar_global_loads_with_weights_only(tmp_path, compat):
    path = tmp_path / "text_2.pt"
    torch.save({"model_args": {}, "model": {"w": torch.arange(3.0)}, "best_val_loss": np.float64(1.25)}, path)
    compat.use_numpy1_scalar_global(path)
    assert b"numpy.core.multiarray\nscalar" in compat.pickle_bytes(path)
    with pytest.raises(pickle.UnpicklingError, match="numpy.core.multiarray.scalar"):
        torch.load(path, weights_only=True)  # what torch >= 2.6 does by default (bark issues 626/656)
    loaded = safe_torch_load(path)
    assert loaded["best_val_loss"] == 1.25 and isinstance(loaded["best_val_loss"], np.float64)
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))


def test_allowlist_is_exactly_the_numpy_scalar_globals():
    names = sorted(item[1] if isinstance(item, tuple) else f"{item.__module__}.{item.__name__}" for item in ALLOWED_GLOBALS)
    assert names == sorted(["numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
                            f"{type(np.dtype(np.float64)).__module__}.{type(np.dtype(np.float64)).__name__}"])


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_code_in_a_checkpoint_never_runs(tmp_path, container):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    payload = {"model_args": {}, "model": {}, "best_val_loss": WritesMarker(marker)}
    if container == "torch-zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
        pickle.loads(path.read_bytes())  # the file really is dangerous when unpickled without restriction
        assert marker.exists()
        marker.unlink()
    with pytest.raises(UnsafeCheckpointError) as caught:
        safe_torch_load(path)
    assert not marker.exists()
    message = str(caught.value)
    assert "\n" not in message and "io.open" in message and str(path) in message


def test_never_falls_back_to_unsafe_loading(tmp_path, monkeypatch):
    path = tmp_path / "evil.pt"
    torch.save({"x": WritesMarker(tmp_path / "marker")}, path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(path)
    assert calls == [True]


def test_unreadable_files_are_checkpoint_errors(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.zeros(1000)}, good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:300])
    for path in (truncated, tmp_path / "missing.pt"):
        with pytest.raises(CheckpointError) as caught:
            safe_torch_load(path)
        assert not isinstance(caught.value, UnsafeCheckpointError)
