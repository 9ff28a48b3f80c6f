"""Nothing lost: a run killed at any moment, even halfway through writing a checkpoint, resumes to exactly
the weights of a run that was never interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bark_omni_train.checkpoint import latest_checkpoint
from bark_omni_train.config import load_config
from bark_omni_train.errors import ResumeError
from bark_omni_train.trainer import METRICS_FILE, train

TOYS = Path(__file__).with_name("train_toys.py")


def output_of(config_path: Path) -> Path:
    return Path(json.loads(config_path.read_text())["output"])


def final_weights(config_path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(output_of(config_path) / "adapters" / "adapters.safetensors"))


def run_killed(config_path: Path, *flags: str) -> None:
    done = subprocess.run([sys.executable, str(TOYS), str(config_path), *flags], capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_killed_runs_resume_to_the_uninterrupted_weights(write_config, toy_host):
    straight = write_config("straight")
    train(load_config(straight), host=toy_host)
    reference = final_weights(straight)

    # killed after step 3: the checkpoint of step 2 is the newest; steps 3.. are redone with the same data
    killed = write_config("killed")
    run_killed(killed, "--kill-after-step", "3")
    assert latest_checkpoint(output_of(killed)).name == "step-00000002"
    train(load_config(killed), resume=True, host=toy_host)
    assert_same(final_weights(killed), reference)
    records = [json.loads(line) for line in (output_of(killed) / METRICS_FILE).read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert steps == sorted(steps) and len(steps) == len(set(steps)), "resumed metrics repeat or go back"

    # killed halfway through writing checkpoint 4: a torn temporary is left, never a torn checkpoint
    torn = write_config("torn")
    run_killed(torn, "--kill-in-checkpoint", "4")
    root = output_of(torn) / "checkpoints"
    temporaries = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert temporaries and (temporaries[0] / "adapters.safetensors").is_file()
    assert not (temporaries[0] / "MANIFEST.json").exists()
    assert latest_checkpoint(output_of(torn)).name == "step-00000002"
    train(load_config(torn), resume=True, host=toy_host)
    assert_same(final_weights(torn), reference)
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


def test_a_damaged_checkpoint_is_skipped_and_outputs_are_not_overwritten(write_config, toy_host):
    config = write_config("run", steps=4)
    train(load_config(config), host=toy_host)
    with pytest.raises(ResumeError, match="--resume"):
        train(load_config(config), host=toy_host)
    newest = latest_checkpoint(output_of(config))
    assert newest.name == "step-00000004"
    optimizer = newest / "optimizer.safetensors"
    optimizer.write_bytes(optimizer.read_bytes()[:-8] + b"\0" * 8)  # bit rot in a complete checkpoint
    with pytest.warns(UserWarning, match="damaged checkpoint"):
        assert latest_checkpoint(output_of(config)).name == "step-00000002"
    changed = write_config("run", steps=4, lr=0.5)
    with pytest.raises(ResumeError, match="lr"), pytest.warns(UserWarning, match="damaged checkpoint"):
        train(load_config(changed), resume=True, host=toy_host)


def test_checkpoints_hold_only_safetensors_json_and_the_model_card(write_config, toy_host):
    config = write_config("formats", steps=2)
    train(load_config(config), host=toy_host)
    checkpoint = latest_checkpoint(output_of(config))
    names = sorted(p.name for p in checkpoint.iterdir())
    assert names == ["MANIFEST.json", "README.md", "adapters.json", "adapters.safetensors", "optimizer.safetensors",
                     "rng.safetensors", "trainer.json"]
    assert (checkpoint / "README.md").read_text().startswith("---")  # a hub model card: YAML front matter, text
    for path in checkpoint.iterdir():
        head = path.read_bytes()[:2]
        assert head not in (b"PK", b"\x80\x02", b"\x80\x04", b"\x80\x05"), f"{path.name} looks like a pickle"
        if path.suffix == ".json":
            json.loads(path.read_text())
