"""The quantizer recipe past one process: two gloo processes under torchrun (``bark-omni semantic train`` as people
launch it) make the teacher data once (process 0) and train to the weights one process reaches with the same
global batch (within float tolerance: the gradient all-reduce sums in another order)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bark_omni.errors import InvalidInputError
from bark_omni_semantic.distill import DistillConfig, train_quantizer

BIN = Path(sys.executable).with_name("bark-omni")
SETTINGS = dict(clips=8, steps=3, seconds=0.3, batch=4, seed=1)


def test_two_processes_match_one(tmp_path, tiny_host, tiny_model_dir):
    config = DistillConfig(model=str(tiny_model_dir), device="cpu", save_every=3, **SETTINGS)
    one = train_quantizer(config, tmp_path / "one", host=tiny_host)
    cli = [str(BIN), "semantic", "train", str(tmp_path / "two"), "--model", str(tiny_model_dir), "--device", "cpu",
           *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]
    # process 0 makes the teacher data with this process's thread count, so its float kernels (and the sampled
    # tokens that follow from them) are the same as the one-process run's
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "BARK_OMNI_LOAD_PLUGINS": "semantic"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *cli],
                          capture_output=True, text=True, timeout=400, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads(done.stdout)  # process 0 alone reports
    assert two["world_size"] == 2 and one["world_size"] == 1 and two["steps"] == one["steps"] == 3

    data = [load_file(str(tmp_path / d / "data.safetensors")) for d in ("one", "two")]
    assert data[0].keys() == data[1].keys() and all(torch.equal(data[0][k], data[1][k]) for k in data[0])
    a, b = (load_file(str(tmp_path / d / "quantizer.safetensors")) for d in ("one", "two"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)  # Adam moves weights ~1e-3 a step
    torch.manual_seed(config.seed)  # the head the recipe starts from: training must have moved it
    from bark_omni_semantic.quantizer import QuantizerHead

    start = QuantizerHead(data[0]["train.0.features"].shape[1], 128).state_dict()
    assert any(not torch.equal(start[k], a[k]) for k in a), "training did not move the weights"
    history = json.loads((tmp_path / "two" / "state.json").read_text())["history"]
    assert history[-1]["loss"] == pytest.approx(
        json.loads((tmp_path / "one" / "state.json").read_text())["history"][-1]["loss"], rel=1e-4)


def test_a_batch_that_does_not_divide_is_refused(monkeypatch, tmp_path, tiny_host, tiny_model_dir):
    from bark_omni import distributed

    monkeypatch.setattr(distributed, "start", lambda device: distributed.Processes(0, 3, 0, torch.device("cpu")))
    with pytest.raises(InvalidInputError, match="batch 4 does not divide among 3 processes"):
        train_quantizer(DistillConfig(model=str(tiny_model_dir), device="cpu", **SETTINGS), tmp_path, host=tiny_host)
