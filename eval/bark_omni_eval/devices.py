"""Which torch devices a command may use; asking for CUDA where there is none is a one-line error."""

from __future__ import annotations

from bark_omni.errors import InvalidInputError


def resolve_devices(choice: str) -> list[str]:
    """``auto``: the CPU, plus CUDA when torch sees it; otherwise the one device named (checked)."""
    import torch

    if choice == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device {choice!r} asked for, but torch sees no CUDA device; use --device cpu")
    if choice != "cpu" and not choice.startswith(("cuda", "mps")):
        raise InvalidInputError(f"unknown device {choice!r}; use cpu, cuda or auto")
    return [choice]
