"""The ``checkpoints`` plugin: the transformers and converted model formats, transformers' speaker embeddings as
a prompt source, and the ``convert`` command. It imports nothing heavy at registration time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import ModelFormat, PromptSource

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from bark_omni.specs import LoadedWeights


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
    register(ModelFormat(name="transformers", detect=_detect_transformers, load=_load_transformers,
                         description="a transformers BarkModel directory: config.json + model.safetensors or pytorch_model.bin"))


def _load_speaker_embedding(name: str):
    from .speaker_embeddings import load

    return load(name)


def _speaker_embedding_names(directory: Path):
    from .speaker_embeddings import speaker_embedding_names

    return speaker_embedding_names(directory)


@hookimpl
def register_prompt_sources(register: Callable[[PromptSource], None]) -> None:
    register(PromptSource(name="speaker-embeddings", load=_load_speaker_embedding, names=_speaker_embedding_names,
                          description="transformers' speaker_embeddings_path.json: DIR/VOICE"))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    from .cli import register

    register(app)
