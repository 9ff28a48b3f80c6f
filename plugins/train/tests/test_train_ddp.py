"""Past one machine: two gloo processes under torchrun train to the weights one process reaches with the same
global batch (within float tolerance: the all-reduce sums in another order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from bark_omni.fusion import FusionModel
from bark_omni_train.config import load_config
from bark_omni_train.trainer import train

TOYS = Path(__file__).with_name("train_toys.py")


def test_two_processes_match_one(write_config, toy_host, toy_models):
    keys = dict(steps=3, batch_size=8, micro_batch_size=2, checkpoint_every=0, contrastive_weight=0.5)
    one = write_config("one", **keys)
    two = write_config("two", **keys)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(TOYS), str(two)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    train(load_config(one), host=toy_host)  # 1 process: accumulation 4 of the same micro-batches
    a = load_file(str(Path(load_config(one).output) / "adapters" / "adapters.safetensors"))
    b = load_file(str(Path(load_config(two).output) / "adapters" / "adapters.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    initial = FusionModel.initialise(toy_host, toy_models, ["image", "control_events"], seed=0).state_dict()
    assert any(not torch.equal(initial[k], a[k]) for k in a), "training did not move the weights"
