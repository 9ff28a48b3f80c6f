"""Toy adapters for the training tests (fast, no frozen encoders) and a script entry point, so that
subprocess and torchrun tests build exactly the same host as in-process tests.

Run as ``python train_toys.py CONFIG [--resume] [--kill-after-step N | --kill-in-checkpoint N]``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

import bark_omni
from bark_omni.fusion import Adapter
from bark_omni.specs import AdapterSpec


class ToyImageAdapter(Adapter):
    """An image as its 4x4 average colours (48 numbers), projected into 2 context tokens."""

    modality = "image"
    kind = "toy-image"
    version = "1"

    def __init__(self, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, config)
        self.proj = nn.Linear(48, 2 * d_ctx)

    def prepare(self, value: Any) -> torch.Tensor:
        from PIL import Image

        image = Image.open(value).convert("RGB") if isinstance(value, (str, os.PathLike)) else Image.fromarray(np.asarray(value, dtype=np.uint8))
        small = np.asarray(image.resize((4, 4), Image.BILINEAR), dtype=np.float32) / 255.0
        return torch.from_numpy(small.reshape(48) - 0.5)

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack(list(prepared)).to(self.proj.weight.device)
        return self.proj(x).view(len(prepared), 2, self.d_ctx), torch.ones(len(prepared), 2, dtype=torch.bool)


class ToyControlAdapter(Adapter):
    """Beat events as (count, mean strength, mean interval), projected into 1 context token that acts around
    the first beat (a timed token, as real control adapters make)."""

    modality = "control_events"
    kind = "toy-control"
    version = "1"

    def __init__(self, d_ctx: int, config: dict[str, Any] | None = None) -> None:
        super().__init__(d_ctx, config)
        self.proj = nn.Linear(3, d_ctx)

    def prepare(self, value: Any) -> torch.Tensor:
        times = np.array([e["time_s"] for e in value], dtype=np.float32)
        strengths = np.array([e.get("value") or 0.0 for e in value], dtype=np.float32)
        interval = float(np.diff(times).mean()) if len(times) > 1 else 0.0
        return torch.tensor([len(times) / 10.0, strengths.mean(), interval * 4, times.min()], dtype=torch.float32)

    def forward(self, prepared: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack(list(prepared)).to(self.proj.weight.device)
        return self.proj(x[:, :3])[:, None, :], torch.ones(len(prepared), 1, dtype=torch.bool)

    def timeline(self, prepared: Sequence[torch.Tensor]) -> torch.Tensor:
        first = torch.stack([p[3] for p in prepared]) * 49.9
        return torch.stack([first, torch.full_like(first, 6.0)], dim=-1)[:, None, :]


class ToyPlugin:
    @bark_omni.hookimpl
    def register_adapters(self, register):
        register(AdapterSpec(name="toy-image", modality="image", build=lambda models, d_ctx, config: ToyImageAdapter(d_ctx, config)))
        register(AdapterSpec(name="toy-control", modality="control_events",
                             build=lambda models, d_ctx, config: ToyControlAdapter(d_ctx, config)))


def toy_host() -> bark_omni.Host:
    """The essential built-ins plus the toy adapters, nothing else installed."""
    return bark_omni.Host([ToyPlugin()], entry_points=True, strict=True, allow=set())


def _kill_after_step(step: int) -> None:
    """SIGKILL this process right after optimizer step ``step`` (no checkpoint of it written yet)."""
    from bark_omni_train import trainer

    original = trainer.Trainer.train_step

    def train_step(self, chunks):
        out = original(self, chunks)
        if self.step == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    trainer.Trainer.train_step = train_step


def _kill_in_checkpoint(step: int) -> None:
    """SIGKILL this process in the middle of writing checkpoint ``step``: its adapter weights are complete,
    its optimizer file is half written."""
    import safetensors.torch

    from bark_omni_train import checkpoint

    original_save, original_file = checkpoint.save_checkpoint, safetensors.torch.save_file

    def half_write(tensors, filename, metadata=None):
        if not str(filename).endswith("optimizer.safetensors"):
            return original_file(tensors, filename, metadata=metadata)
        data = safetensors.torch.save(tensors, metadata=metadata)
        with open(filename, "wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            os.fsync(handle.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    def save_checkpoint(run_dir, at_step, *args, **kwargs):
        if at_step == step:
            safetensors.torch.save_file = half_write
        return original_save(run_dir, at_step, *args, **kwargs)

    checkpoint.save_checkpoint = save_checkpoint


def main(argv: list[str]) -> None:
    from bark_omni_train.config import load_config
    from bark_omni_train.trainer import train

    config, *flags = argv
    if "--kill-after-step" in flags:
        _kill_after_step(int(flags[flags.index("--kill-after-step") + 1]))
    if "--kill-in-checkpoint" in flags:
        _kill_in_checkpoint(int(flags[flags.index("--kill-in-checkpoint") + 1]))
    train(load_config(config), resume="--resume" in flags, host=toy_host())


if __name__ == "__main__":
    main(sys.argv[1:])
