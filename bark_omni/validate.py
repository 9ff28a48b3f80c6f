"""Up-front checks of a request's plain inputs, run before any model loads.

Each check raises a typed bark-omni error with one line that says what to pass instead; user values are quoted
through ``errors.shorten``. No heavy imports at module level (torch is imported only to check a device).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, PromptError, shorten

MAX_TEXT_CHARS = 100_000
"""About two hours of speech even split into long-form segments: longer text is a mistake, not a request."""
MAX_SEED = 2**64 - 1
"""torch.manual_seed's range for a non-negative seed."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
PATH_CHARS = 120
"""Paths are quoted longer than other values (a path cut short does not say which file)."""
"""What ``bark-omni generate -o`` writes."""


def check_text(name: str, text: Any) -> None:
    """A str of encodable unicode, not absurdly long (``None`` is checked by the caller)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{name} must be a string, e.g. {name}='Hello there.'; got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{name} holds invalid unicode at character {exc.start} "
                                f"({shorten(text[exc.start:exc.end])}); pass valid UTF-8 text") from None
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"{name} is {len(text):,} characters, over the {MAX_TEXT_CHARS:,} one request takes; "
                                "split it into several requests")


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"seed must be an integer in 0..2**64-1, e.g. seed=42; got {shorten(seed)}")
    return int(seed)


def check_device(device: Any) -> None:
    """A device torch can parse and this machine has (``None`` picks the default)."""
    if device is None:
        return
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InvalidInputError(f"device must be a string such as 'cpu' or 'cuda:0'; got {shorten(device)}")

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise InvalidInputError(f"unknown device {shorten(device)}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    available = {"cpu": lambda: True, "meta": lambda: False,
                 "cuda": lambda: torch.cuda.is_available() and (parsed.index or 0) < torch.cuda.device_count(),
                 "mps": lambda: bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()}
    if not available.get(parsed.type, lambda: False)():
        raise InvalidInputError(f"device {shorten(device)} is not available on this machine; use 'cpu' or leave device unset")


def check_mapping(name: str, value: Any, example: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"{name} must be a dict with string keys, e.g. {example}; got {shorten(value)}")
    return dict(value)


def check_priorities(priorities: Any, known: tuple[str, ...] | None) -> dict[str, float]:
    """A mapping of modality names (``known`` ones, unless None) to finite numbers >= 0."""
    if priorities is None:
        return {}
    if not isinstance(priorities, Mapping):
        raise InvalidInputError(f"priorities must be a dict such as {{'image': 2.0}}; got {shorten(priorities)}")
    checked = {}
    for name, value in priorities.items():
        if known is not None and name not in known:
            raise InvalidInputError(f"unknown modality {shorten(name)} in priorities; use one of {', '.join(known)}")
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise InvalidInputError(f"priority of {name!r} must be a finite number >= 0 (0 skips it); got {shorten(value)}")
        checked[name] = float(value)
    return checked


def check_control_events(events: Any) -> None:
    """The shape of ``control_events`` (a list of events); kinds and values are checked against the host's
    registered control kinds by ``check_control_kinds``."""
    if events is None:
        return
    if isinstance(events, (str, os.PathLike)):  # a JSON file, read by the control adapter
        check_input_file("control_events", events)
        return
    if isinstance(events, (bytes, Mapping)) or not isinstance(events, (list, tuple)):
        raise InvalidInputError("control_events must be a list of events such as "
                                f"[{{'time_s': 0.5, 'kind': 'beat'}}]; got {shorten(events)}")
    for i, item in enumerate(events):
        kind = _event_field(item, "kind")
        time_s = _event_field(item, "time_s")
        if kind is None or time_s is None:
            raise InvalidInputError(f"control_events[{i}] must have a time_s and a kind, e.g. "
                                    f"{{'time_s': 0.5, 'kind': 'beat'}}; got {shorten(item)}")
        if not isinstance(time_s, numbers.Real) or isinstance(time_s, bool) or not math.isfinite(time_s) or time_s < 0:
            raise InvalidInputError(f"control_events[{i}] time_s must be a finite number of seconds >= 0; got {shorten(time_s)}")
        if not isinstance(kind, str):
            raise InvalidInputError(f"control_events[{i}] kind must be a string such as 'beat'; got {shorten(kind)}")


def _event_field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, item.get("time")) if name == "time_s" else item.get(name)
    if isinstance(item, (tuple, list)):
        index = {"time_s": 0, "kind": 1}[name]
        return item[index] if 2 <= len(item) <= 3 else None
    return getattr(item, name, None)


def check_control_kinds(events: Any, kinds: Mapping[str, Any]) -> None:
    """Every event's kind is registered (when any plugin registers kinds) and its value passes that kind's check."""
    if not kinds or events is None or isinstance(events, (str, os.PathLike)):
        return
    for i, item in enumerate(events):
        kind = _event_field(item, "kind")
        if kind not in kinds:
            raise InvalidInputError(f"control_events[{i}]: unknown kind {shorten(kind)}; known: {', '.join(sorted(kinds))}")
        value = item.get("value") if isinstance(item, Mapping) else (
            item[2] if isinstance(item, (tuple, list)) and len(item) == 3 else getattr(item, "value", None))
        kinds[kind].validate(value)


def check_input_file(name: str, value: Any) -> None:
    """A file input given as a path must exist (arrays and in-memory objects are the adapters' to check)."""
    if isinstance(value, (str, os.PathLike)) and not Path(value).expanduser().exists():
        raise InvalidInputError(f"{name} file {shorten(os.fspath(value), PATH_CHARS)} does not exist; check the path")


def check_history_prompt(value: Any) -> None:
    """Cheap checks of a voice prompt's form before it is loaded (the loader checks the arrays)."""
    if value is None or isinstance(value, Mapping):
        return
    if not isinstance(value, (str, os.PathLike)):
        raise PromptError("history_prompt must be a preset name (e.g. 'v2/en_speaker_6'), an .npz path or a dict; "
                          f"got {type(value).__name__}")
    text = os.fspath(value)
    if len(text) > 4096 or "\x00" in text:
        raise PromptError(f"history_prompt {shorten(text)} is not a preset name or a path; e.g. 'v2/en_speaker_6'")


def check_output_path(path: Path, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> None:
    """``path`` can be written: a supported extension, not a directory, in an existing writable folder."""
    path = Path(path)
    shown = shorten(str(path), PATH_CHARS)
    if path.is_dir():
        raise InvalidInputError(f"{shown} is a directory; pass a file name inside it, e.g. {path.name or 'dir'}/out.wav")
    if path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"cannot write {shown}: use a {', '.join(suffixes)} file name")
    parent = path.parent
    if not parent.is_dir():
        raise InvalidInputError(f"folder {shorten(str(parent), PATH_CHARS)} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidInputError(f"cannot write {shown}: permission denied; choose another folder")
