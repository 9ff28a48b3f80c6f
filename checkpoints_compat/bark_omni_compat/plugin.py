"""The ``checkpoints`` plugin: the model formats (suno, transformers, converted) and the CLI commands of this
distribution. Essential (always loaded), so it imports nothing heavy at registration time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import ModelFormat

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from bark_omni.models import LoadedWeights


def _detect_suno(path: Path) -> bool:
    from .suno import find_stage_files

    return path.is_dir() and find_stage_files(path) is not None


def _load_suno(path: Path, device: str) -> LoadedWeights:
    from bark_omni.models import LoadedWeights

    from .suno import find_stage_files, load_stage

    files = find_stage_files(path)
    assert files is not None
    return LoadedWeights(**{stage: load_stage(p, stage, device) for stage, p in files.items()}, format="suno")


def _detect_transformers(path: Path) -> bool:
    from .transformers_bark import detect

    return detect(path)


def _load_transformers(path: Path, device: str) -> LoadedWeights:
    from .transformers_bark import load

    return load(path, device)


def _detect_converted(path: Path) -> bool:
    from .converted import detect

    return path.is_dir() and detect(path)


def _load_converted(path: Path, device: str) -> LoadedWeights:
    from .converted import load

    return load(path, device)


@hookimpl
def register_model_formats(register: Callable[[ModelFormat], None]) -> None:
    register(ModelFormat(name="converted", detect=_detect_converted, load=_load_converted,
                         description="bark-omni convert output: bark_omni_model.json + safetensors, memory-mapped"))
    register(ModelFormat(name="suno", detect=_detect_suno, load=_load_suno,
                         description="text_2.pt/coarse_2.pt/fine_2.pt or text.pt/coarse.pt/fine.pt"))
    register(ModelFormat(name="transformers", detect=_detect_transformers, load=_load_transformers,
                         description="a transformers BarkModel directory: config.json + model.safetensors or pytorch_model.bin"))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from .cli import register

    register(app)
