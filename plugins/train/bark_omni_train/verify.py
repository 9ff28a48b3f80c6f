"""``bark-omni data verify``: everything that would break or bias training, found before it starts.

Checks: schema of every line; ids unique; no leakage between splits, by id and by content hash (the same audio
or image file bytes, or the same whole row content, in two splits); every audio file decodes with a sample
rate and duration inside the bounds; every image decodes; control events are well formed (and valid for the
kinds the installed plugins register). The report (JSON) lists every failure with its line and id.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from bark_omni.files import sha256_file

from .manifest import Row, read_manifest_lines
from .media import load_audio, load_image, row_content_hash


@dataclass(frozen=True)
class Bounds:
    min_sample_rate: int = 16_000
    max_sample_rate: int = 48_000
    min_duration_s: float = 0.1
    max_duration_s: float = 30.0
    min_image_side: int = 16


def _check_audio(path: Path, bounds: Bounds) -> tuple[list[str], dict[str, Any]]:
    try:
        samples, sr = load_audio(path)
    except Exception as exc:
        return [f"audio {path.name} does not decode ({type(exc).__name__})"], {}
    problems = []
    duration = len(samples) / sr if sr else 0.0
    if not bounds.min_sample_rate <= sr <= bounds.max_sample_rate:
        problems.append(f"audio sample rate {sr} Hz outside {bounds.min_sample_rate}..{bounds.max_sample_rate}")
    if not bounds.min_duration_s <= duration <= bounds.max_duration_s:
        problems.append(f"audio lasts {duration:.2f} s, outside {bounds.min_duration_s}..{bounds.max_duration_s} s")
    if len(samples) and not (abs(samples).max() > 0):
        problems.append("audio is silent")
    return problems, {"sample_rate": sr, "duration_s": round(duration, 3)}


def _check_image(path: Path, bounds: Bounds) -> tuple[list[str], dict[str, Any]]:
    try:
        image = load_image(path)
    except Exception as exc:
        return [f"image {path.name} does not decode ({type(exc).__name__})"], {}
    if min(image.size) < bounds.min_image_side:
        return [f"image is {image.size[0]}x{image.size[1]}, smaller than {bounds.min_image_side} px"], {}
    return [], {"size": list(image.size)}


def _check_events(events: list[dict[str, Any]], validators: dict[str, Callable[[Any], None]]) -> list[str]:
    problems = []
    for i, event in enumerate(events):
        time = event.get("time_s", event.get("time"))
        if not isinstance(time, (int, float)) or isinstance(time, bool) or time < 0:
            problems.append(f"control event {i} needs time_s >= 0 (seconds)")
        kind = event.get("kind")
        if validators and kind not in validators:
            problems.append(f"control event {i} has unknown kind {kind!r} (installed: {', '.join(sorted(validators))})")
        elif kind in validators:
            try:
                validators[kind](event.get("value"))
            except Exception as exc:
                problems.append(f"control event {i}: {str(exc).splitlines()[0]}")
    return problems


def verify_manifest(path: Path, bounds: Bounds = Bounds(), *,
                    control_validators: dict[str, Callable[[Any], None]] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Check a manifest and every file it names; return the report (``report["ok"]`` says if all passed)."""
    path = Path(path)
    rows, schema_problems = read_manifest_lines(path)
    failures: list[dict[str, Any]] = [{"row": p.split(":", 1)[0], "problem": p.split(":", 1)[1].strip()} for p in schema_problems]

    def fail(row: Row, problem: str) -> None:
        failures.append({"row": row.where, "line": row.line, "id": row.id, "problem": problem})

    by_id: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_id[row.id].append(row)
    leakage: list[dict[str, Any]] = []
    for ident, same in by_id.items():
        if len(same) > 1:
            splits = sorted({r.split for r in same})
            kind = "id in several splits" if len(splits) > 1 else "duplicate id"
            for row in same[1:]:
                fail(row, f"{kind}: id also on line {same[0].line}")
            if len(splits) > 1:
                leakage.append({"by": "id", "id": ident, "lines": [r.line for r in same], "splits": splits})

    file_owner: dict[str, tuple[Row, str]] = {}
    content_owner: dict[str, Row] = {}
    details: dict[str, dict[str, Any]] = {}
    validators = control_validators or {}
    for done, row in enumerate(rows, start=1):
        hashes: dict[str, str] = {}
        info: dict[str, Any] = {}
        for kind, file in row.files().items():
            if not file.is_file():
                fail(row, f"{kind} file {file} does not exist")
                continue
            hashes[kind] = sha256_file(file)
            problems, meta = (_check_audio if kind == "audio" else _check_image)(file, bounds)
            info[kind] = meta
            for problem in problems:
                fail(row, problem)
            owner = file_owner.setdefault(hashes[kind], (row, kind))
            if owner[0] is not row and owner[0].split != row.split:
                fail(row, f"{kind} has the same content as {owner[1]} of {owner[0].where} in split {owner[0].split}")
                leakage.append({"by": "file content", "lines": [owner[0].line, row.line], "ids": [owner[0].id, row.id],
                                "splits": [owner[0].split, row.split], "sha256": hashes[kind]})
        if row.control_events:
            for problem in _check_events(row.control_events, validators):
                fail(row, problem)
        content = row_content_hash(row, hashes)
        other = content_owner.setdefault(content, row)
        if other is not row and other.split != row.split:
            fail(row, f"same content as {other.where} in split {other.split}")
            leakage.append({"by": "row content", "lines": [other.line, row.line], "ids": [other.id, row.id],
                            "splits": [other.split, row.split]})
        details[row.id] = info
        if progress is not None:
            progress(done, len(rows))

    return {
        "manifest": str(path),
        "ok": not failures,
        "rows": len(rows) + len(schema_problems),
        "valid_rows": len(rows) - len({f.get("id") for f in failures if f.get("id")}),
        "splits": dict(Counter(r.split for r in rows)),
        "domains": dict(Counter(r.domain for r in rows)),
        "bounds": asdict(bounds),
        "failures": failures,
        "leakage": leakage,
        "files": details,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    from bark_omni.files import atomic_output

    with atomic_output(Path(path)) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
