"""Training state on disk, written so that a kill at any instant leaves the previous checkpoint usable.

A checkpoint is a directory ``checkpoints/step-NNNNNNNN`` holding

* ``adapters.safetensors`` + ``adapters.json``: ``FusionModel.save_pretrained`` output, loadable as is by
  ``generate_audio(..., adapters=DIR)``;
* ``optimizer.safetensors`` (moment tensors by parameter name) and ``rng.safetensors`` (torch generator states
  of every process);
* ``trainer.json``: step, optimizer hyper-parameters, scheduler state, Python and NumPy RNG states, the config;
* ``MANIFEST.json``: the SHA-256 of every file above, written last.

Everything is first written into a hidden temporary directory, fsynced, then renamed into place in one atomic
``os.replace``; resuming picks the newest directory whose manifest verifies and deletes stale temporaries. No
pickle anywhere: tensors are safetensors, the rest JSON.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bark_omni.files import sha256_file
from bark_omni.fusion import FusionModel

from .errors import ResumeError

PREFIX = "step-"
MANIFEST = "MANIFEST.json"
FORMAT = 1


# RNG state ------------------------------------------------------------------------------------------

def capture_rng() -> dict[str, Any]:
    """This process's global RNG states (torch CPU and CUDA, NumPy, Python)."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# optimizer state ------------------------------------------------------------------------------------

def optimizer_to_safe(optimizer: torch.optim.Optimizer, names: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state into named tensors and JSON (parameter indices become names)."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            target = f"{names[index]}/{key}"
            if torch.is_tensor(value):
                tensors[target] = value.detach().cpu().contiguous()
            else:
                scalars[target] = value
    groups = [{**{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items() if k != "params"},
               "params": [names[i] for i in g["params"]]} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_safe(optimizer: torch.optim.Optimizer, names: list[str], tensors: dict[str, torch.Tensor],
                        meta: dict[str, Any], device: Any) -> None:
    index = {name: i for i, name in enumerate(names)}
    state: dict[int, dict[str, Any]] = {}
    for key, value in list(tensors.items()) + list(meta["scalars"].items()):
        name, _, field = key.rpartition("/")
        if name not in index:
            raise ResumeError(f"checkpoint optimizer state names parameter {name!r}, which this model lacks; "
                              "resume with the config the run started with")
        state.setdefault(index[name], {})[field] = value.to(device) if torch.is_tensor(value) and field != "step" else value
    groups = [{**{k: (tuple(v) if k == "betas" else v) for k, v in g.items() if k != "params"},
               "params": [index[n] for n in g["params"]]} for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# writing --------------------------------------------------------------------------------------------



def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoints_root(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, fusion: FusionModel, optimizer: torch.optim.Optimizer,
                    names: list[str], scheduler: Any, rng_states: list[dict[str, Any]], extra: dict[str, Any],
                    keep: int = 2) -> Path:
    """Write the training state after ``step`` optimizer steps; returns the checkpoint directory."""
    from safetensors.torch import save_file

    root = checkpoints_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{PREFIX}{step:08d}-", dir=root))
    try:
        fusion.save_pretrained(tmp)
        opt_tensors, opt_meta = optimizer_to_safe(optimizer, names)
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        rng_tensors = {}
        rng_json = []
        for rank, state in enumerate(rng_states):
            rng_tensors[f"rank{rank}/torch"] = state["torch"]
            for i, cuda_state in enumerate(state.get("cuda", [])):
                rng_tensors[f"rank{rank}/cuda{i}"] = cuda_state
            rng_json.append({"python": state["python"], "numpy": state["numpy"], "cuda_devices": len(state.get("cuda", []))})
        save_file(rng_tensors, str(tmp / "rng.safetensors"))
        trainer = {"format": FORMAT, "step": step, "optimizer": opt_meta, "scheduler": scheduler.state_dict(),
                   "rng": rng_json, **extra}
        (tmp / "trainer.json").write_text(json.dumps(trainer) + "\n", encoding="utf-8")
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        for path in files:
            _fsync(path)
        manifest = {"format": FORMAT, "step": step, "files": {p.name: sha256_file(p) for p in files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        _fsync(tmp / MANIFEST)
        _fsync(tmp)
        if final.exists():  # the same step written again: move the old one aside first (older ones stay valid)
            trash = Path(tempfile.mkdtemp(prefix=f".old-{PREFIX}{step:08d}-", dir=root))
            os.replace(final, trash / final.name)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, final)
        _fsync(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    prune(root, keep)
    return final


def prune(root: Path, keep: int) -> None:
    complete = sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir())
    for old in complete[: max(0, len(complete) - max(keep, 1))]:
        shutil.rmtree(old, ignore_errors=True)


# reading --------------------------------------------------------------------------------------------

def verify(directory: Path) -> bool:
    """True if the checkpoint's manifest exists and every file matches its hash."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return all(sha256_file(directory / name) == digest for name, digest in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def clean_temporaries(run_dir: Path) -> None:
    root = checkpoints_root(run_dir)
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint that verifies (a damaged one is skipped with a warning)."""
    root = checkpoints_root(run_dir)
    if not root.is_dir():
        return None
    for directory in sorted((p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir()), reverse=True):
        if verify(directory):
            return directory
        warnings.warn(f"skipping damaged checkpoint {directory} (its files do not match {MANIFEST})", stacklevel=2)
    return None


def load_checkpoint(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``trainer.json``, optimizer tensors and RNG tensors of a verified checkpoint."""
    from safetensors.torch import load_file

    trainer = json.loads((directory / "trainer.json").read_text(encoding="utf-8"))
    if trainer.get("format") != FORMAT:
        raise ResumeError(f"{directory} is checkpoint format {trainer.get('format')}, this trainer reads {FORMAT}")
    return trainer, load_file(str(directory / "optimizer.safetensors")), load_file(str(directory / "rng.safetensors"))


def rank_rng(trainer: dict[str, Any], rng_tensors: dict[str, torch.Tensor], rank: int) -> dict[str, Any] | None:
    """The RNG state saved by process ``rank`` (None if the saving run had fewer processes)."""
    if rank >= len(trainer["rng"]):
        return None
    info = trainer["rng"][rank]
    state = {"python": info["python"], "numpy": info["numpy"], "torch": rng_tensors[f"rank{rank}/torch"]}
    if info.get("cuda_devices"):
        state["cuda"] = [rng_tensors[f"rank{rank}/cuda{i}"] for i in range(info["cuda_devices"])]
    return state
