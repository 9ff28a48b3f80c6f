"""Processes of a training run, as torchrun starts them: nothing here launches or rendezvous by itself.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the default process group is created with NCCL on
CUDA and gloo otherwise; each process picks ``cuda:LOCAL_RANK``. Alone, it is process 0 of 1. Shared by the
trainers of the plugins (``bark-omni-train``'s adapters, ``bark-omni-semantic``'s quantizer), which depend on the
core and never on each other. Imported by them only: generation never loads ``torch.distributed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def choose_device(preference: str, local_rank: int = 0) -> torch.device:
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(preference)


def start(device: str = "auto") -> Processes:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = choose_device(device, local_rank)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Processes(rank=rank, world_size=world, local_rank=local_rank, device=chosen)


def stop(processes: Processes) -> None:
    if processes.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def sum_values(processes: Processes, values: dict[str, float]) -> dict[str, float]:
    """Sum a dict of numbers over every process (for logging)."""
    if not processes.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                          device=processes.device if processes.device.type == "cuda" else "cpu")
    dist.all_reduce(tensor)
    return dict(zip(keys, tensor.tolist()))


def sum_gradients(processes: Processes, parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace each parameter's gradient by its sum over every process (each process's loss is its share of
    the global batch's, so the sum is the global batch's gradient). One flat all-reduce, not one per tensor."""
    if not processes.distributed:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def gather(processes: Processes, value: Any) -> list[Any]:
    """Every process's ``value``, in rank order (on every process)."""
    if not processes.distributed:
        return [value]
    out: list[Any] = [None] * processes.world_size
    dist.all_gather_object(out, value)
    return out


def broadcast_flag(processes: Processes, flag: bool) -> bool:
    """Process 0's ``flag`` on every process (e.g. 'stop now')."""
    if not processes.distributed:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=processes.device if processes.device.type == "cuda" else "cpu")
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())
