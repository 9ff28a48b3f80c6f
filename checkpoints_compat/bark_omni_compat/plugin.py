"""Registers the checkpoint formats this distribution can load."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import ModelFormat


def _detect_suno(path: Path) -> bool:
    from .suno import find_stage_files

    return path.is_dir() and find_stage_files(path) is not None


def _load_suno(path: Path, device: str):
    from bark_omni.models import LoadedWeights

    from .suno import find_stage_files, load_stage

    files = find_stage_files(path)
    assert files is not None
    return LoadedWeights(**{stage: load_stage(p, stage, device) for stage, p in files.items()}, format="suno")


@hookimpl
def register_model_formats(register: Callable[[ModelFormat], None]) -> None:
    register(ModelFormat(name="suno", detect=_detect_suno, load=_load_suno,
                         description="text_2.pt/coarse_2.pt/fine_2.pt or text.pt/coarse.pt/fine.pt"))
