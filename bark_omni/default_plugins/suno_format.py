"""Built-in: suno's checkpoint format (``text_2.pt``/``coarse_2.pt``/``fine_2.pt`` or the small model's names)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import LoadedWeights, ModelFormat



def detect_suno(path: Path) -> bool:
    from bark_omni.checkpoints import find_stage_files

    return path.is_dir() and find_stage_files(path) is not None


def load_suno(path: Path, device: str) -> LoadedWeights:
    from bark_omni.checkpoints import find_stage_files, load_stage
    from bark_omni.errors import CheckpointError

    files = find_stage_files(path)
    if files is None:
        raise CheckpointError(f"{path} holds no complete set of suno stage files")
    return LoadedWeights(**{stage: load_stage(p, stage, device) for stage, p in files.items()}, format="suno")


@hookimpl
def register_model_formats(register: Callable[[ModelFormat], None]) -> None:
    register(ModelFormat(name="suno", detect=detect_suno, load=load_suno,
                         description="text_2.pt/coarse_2.pt/fine_2.pt or text.pt/coarse.pt/fine.pt"))
