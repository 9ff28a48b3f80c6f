"""transformers' speaker embeddings as voice prompts: ``DIR/VOICE`` where ``DIR`` holds
``speaker_embeddings_path.json`` (what ``BarkProcessor.save_pretrained`` writes and the suno/bark hub repos carry)
and ``VOICE`` is one of its keys, e.g. ``~/bark-hf/v2/en_speaker_6``.

Registered as a ``PromptSource``; the core validates what ``load`` returns. The .npy files are read without
pickle and must stay inside ``DIR``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.errors import PromptError
from bark_omni.prompts import PROMPT_KEYS

SPEAKER_EMBEDDINGS_FILE = "speaker_embeddings_path.json"


def read_speaker_embeddings(directory: Path) -> dict[str, Any]:
    path = directory / SPEAKER_EMBEDDINGS_FILE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptError(f"cannot read {path} ({type(exc).__name__}); is it transformers' speaker embeddings file?") from None
    if not isinstance(table, dict):
        raise PromptError(f"{path} must map voice names to their prompt files")
    return {name: entry for name, entry in table.items() if name != "repo_or_path"}


def speaker_embedding_names(directory: Path) -> list[str] | None:
    """``DIR/VOICE`` for every voice of ``DIR/speaker_embeddings_path.json``; None when there is no such file."""
    if not (directory / SPEAKER_EMBEDDINGS_FILE).is_file():
        return None
    return [f"{directory}/{name}" for name in sorted(read_speaker_embeddings(directory))]


def find_speaker_embedding(path: Path) -> tuple[Path, str] | None:
    """``DIR/VOICE`` -> (DIR, VOICE) when an ancestor DIR of the path holds speaker_embeddings_path.json."""
    for directory in path.parents:
        if (directory / SPEAKER_EMBEDDINGS_FILE).is_file():
            return directory, path.relative_to(directory).as_posix()
    return None


def load_speaker_embedding(directory: Path, voice: str) -> dict[str, np.ndarray]:
    """One voice of transformers' layout: three .npy files named by the JSON, relative to ``directory``."""
    table = read_speaker_embeddings(directory)
    where = f"{directory / SPEAKER_EMBEDDINGS_FILE} [{voice}]"
    entry = table.get(voice)
    if not isinstance(entry, dict):
        names = sorted(table)
        raise PromptError(f"{directory / SPEAKER_EMBEDDINGS_FILE} has no voice {voice!r} "
                          f"(it has {', '.join(names[:5])}{' ...' if len(names) > 5 else ''})")
    root = directory.resolve()
    arrays = {}
    for key in PROMPT_KEYS:
        if key not in entry:
            raise PromptError(f"{where} lacks {key}")
        file = (directory / str(entry[key])).resolve()
        if root not in file.parents:
            raise PromptError(f"{where}: {key} points outside {directory} ({entry[key]!r}); refusing to read it")
        try:
            arrays[key] = np.load(file, allow_pickle=False)
        except Exception as exc:
            raise PromptError(f"{where}: cannot read {file} ({type(exc).__name__}: {exc})") from None
    return arrays


def load(name: str) -> dict[str, np.ndarray] | None:
    """The ``PromptSource.load`` of transformers' speaker embeddings."""
    found = find_speaker_embedding(Path(name).expanduser())
    return None if found is None else load_speaker_embedding(*found)
