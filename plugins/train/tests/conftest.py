"""Fixtures of the training tests: toy adapters (train_toys.py), a small synthetic dataset with its targets
prepared once per session, and config files. Nothing touches the network."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")

TOYS_PATH = Path(__file__).with_name("train_toys.py")


def _load_toys():
    name = "bark_omni_train_test_toys"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TOYS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def toys():
    return _load_toys()


@pytest.fixture(scope="session")
def toy_host(toys):
    return toys.toy_host()


@pytest.fixture(scope="session")
def toy_models(toy_host, tiny_model_dir):
    from bark_omni.models import load_models

    return load_models(tiny_model_dir, toy_host, device="cpu")


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory, toy_models):
    """Two classes of shapes and beats, 10 rows each (2 for validation), 12-token motifs, targets prepared."""
    from bark_omni_train.manifest import read_manifest
    from bark_omni_train.synthetic import make_dataset
    from bark_omni_train.targets import prepare_targets

    root = tmp_path_factory.mktemp("toy-data")
    manifest = make_dataset(root, classes=2, per_class=10, val_per_class=2, tokens=12, audio=False)
    prepare_targets(read_manifest(manifest), root / "cache", toy_models)
    return manifest


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread in these tests (the tiny models gain nothing from more, and on a shared machine extra
    threads only wait for each other); training's ``cpu_threads`` also sets it. Restored after each module."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def write_config(tmp_path, toy_dataset):
    """``write_config(name, **keys)`` -> path of a JSON config training the toy adapters on the toy data."""

    def write(name: str = "config", **keys) -> Path:
        config = {
            "manifest": str(toy_dataset), "output": str(tmp_path / name), "model": "tiny",
            "modalities": ["image", "control_events"], "steps": 6, "batch_size": 4, "micro_batch_size": 2,
            "lr": 0.01, "warmup_steps": 1, "checkpoint_every": 2, "keep_checkpoints": 2, "steps_per_log": 1,
            "dropout": {"image": 0.3, "control_events": 0.3}, "semantic_eos": False, "progress": False,
            "cpu_threads": 1, "augment": {"crop": 0.1, "flip": 0.5, "colour": 0.1},
        }
        config.update(keys)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    return write
