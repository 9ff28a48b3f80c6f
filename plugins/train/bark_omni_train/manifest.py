"""The training manifest: one JSON object per line describing one example.

Fields: ``id`` (unique), ``split`` (train / val / test), ``domain`` (speech, music, foley...: the unit of
temperature-scaled sampling), and any of ``text`` (what Bark reads), ``audio`` and ``image`` (paths, relative to
the manifest's folder), ``control_events`` (a list of event objects), ``caption`` (a description; the teacher's
input when there is no ``text`` and no ``semantic``, otherwise the ``style_text`` input), ``semantic``
(semantic tokens you already have, e.g. from your own tokenizer; they replace the teacher's), ``label`` (a class
name used only by evaluation probes) and ``meta`` (anything).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError, name_rows

SPLITS = ("train", "val", "test")
FIELDS = ("id", "split", "domain", "text", "audio", "image", "control_events", "caption", "semantic", "label", "meta")


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    split: str
    domain: str
    text: str | None = None
    audio: Path | None = None
    image: Path | None = None
    control_events: list[dict[str, Any]] | None = None
    caption: str | None = None
    semantic: tuple[int, ...] | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"line {self.line} (id {self.id!r})"

    @property
    def teacher_text(self) -> str | None:
        """What the frozen Bark teacher reads to make this row's semantic targets."""
        return self.text or self.caption

    def files(self) -> dict[str, Path]:
        return {name: path for name, path in (("audio", self.audio), ("image", self.image)) if path is not None}


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value


def parse_row(obj: Any, line: int, base: Path) -> Row:
    """One manifest line to a ``Row``; raises ValueError with what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)}; put extras in 'meta')")
    for key in ("id", "split", "domain"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise ValueError(f"{key} is missing or not a non-empty string")
    if obj["split"] not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {obj['split']!r}")
    paths = {}
    for key in ("audio", "image"):
        value = _optional_str(obj, key)
        paths[key] = None if value is None else (base / value if not Path(value).is_absolute() else Path(value))
    events = obj.get("control_events")
    if events is not None and (not isinstance(events, list) or not all(isinstance(e, dict) for e in events)):
        raise ValueError("control_events must be a list of objects")
    semantic = obj.get("semantic")
    if semantic is not None:
        if not isinstance(semantic, list) or not semantic or not all(isinstance(t, int) and 0 <= t < 10_000 for t in semantic):
            raise ValueError("semantic must be a non-empty list of integers in 0..9999")
        semantic = tuple(semantic)
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError("meta must be an object")
    row = Row(line=line, id=obj["id"], split=obj["split"], domain=obj["domain"], text=_optional_str(obj, "text"),
              audio=paths["audio"], image=paths["image"], control_events=events, caption=_optional_str(obj, "caption"),
              semantic=semantic, label=_optional_str(obj, "label"), meta=meta)
    if row.teacher_text is None and row.semantic is None and row.audio is None:
        raise ValueError("nothing to learn from: give text, caption, semantic or audio")
    return row


def read_manifest_lines(path: Path) -> tuple[list[Row], list[str]]:
    """Every parseable row and a problem line (naming the row) for every other one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest {path} does not exist; create a JSONL file with one example per line")
    rows: list[Row] = []
    problems: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"line {number}: not valid UTF-8 (save the file as UTF-8)")
                continue
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not valid JSON ({exc.msg})")
                continue
            try:
                rows.append(parse_row(obj, number, path.parent))
            except ValueError as exc:
                ident = obj.get("id") if isinstance(obj, dict) else None
                problems.append(f"line {number}" + (f" (id {ident!r})" if ident else "") + f": {exc}")
    return rows, problems


def read_manifest(path: Path) -> list[Row]:
    """The rows of a valid manifest; a ``DataError`` naming the bad rows otherwise."""
    rows, problems = read_manifest_lines(path)
    if problems:
        raise DataError(f"{path}: {len(problems)} bad row(s): {name_rows(problems)}; fix them (bark-omni data verify lists all)")
    if not rows:
        raise DataError(f"{path} holds no rows; add one JSON object per line")
    seen: dict[str, Row] = {}
    for row in rows:
        if row.id in seen:
            raise DataError(f"{path}: id {row.id!r} appears on lines {seen[row.id].line} and {row.line}; ids must be unique")
        seen[row.id] = row
    return rows
