"""``bark-omni batch IN.jsonl OUTDIR``: every item of a JSONL file to ``OUTDIR/<id>.wav`` with its manifest.

A line is ``{"id": "a1", "text": "...", "seed": 1, "voice": "v2/en_speaker_6", "style_text": ..., "text_temp": ...}``
(the per-row arguments of ``generate_batch`` and the generation options by Bark's names). Every line is checked
before anything is generated. Resumable: an item whose audio and manifest both exist is skipped (they land
together, so a killed run leaves either both or neither). ``shard="i/n"`` takes items ``i, i+n, i+2n, ...``, so
``n`` processes or nodes sharing a folder split one file without talking to each other. Items with the same
options are generated ``batch_size`` at a time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bark_omni.errors import InvalidInputError, shorten
from bark_omni.options import FLAT_NAMES

ROW_FIELDS = ("text", "seed", "voice", "style_text", "control_events", "image", "reference_audio", "priorities")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class BatchReport:
    done: int
    skipped: int
    other: int


def parse_shard(shard: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if not match or int(match[2]) < 1 or int(match[1]) >= int(match[2]):
        raise InvalidInputError(f"--shard must be i/n with 0 <= i < n, e.g. 0/4; got {shorten(shard)}")
    return int(match[1]), int(match[2])


def read_items(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist; pass a JSONL file with one {{\"id\", \"text\"}} object a line")
    items, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not SAFE_ID.match(item["id"]):
            raise InvalidInputError(f"{path.name} line {number}: needs an \"id\" of letters, digits, '.', '_' or '-'")
        unknown = sorted(set(item) - {"id", *ROW_FIELDS, *FLAT_NAMES})
        if unknown:
            raise InvalidInputError(f"{path.name} line {number}: unknown field {shorten(unknown[0], 40)}")
        if item["id"] in seen:
            raise InvalidInputError(f"{path.name} line {number}: id {item['id']!r} appears twice")
        seen.add(item["id"])
        items.append(item)
    return items


def _request(item: dict[str, Any], model: str, max_duration_s: float | None) -> Any:
    from bark_omni.api import build_request
    from bark_omni.modality import ModalityBundle
    from bark_omni.options import GenerationOptions

    flat = {k: item[k] for k in FLAT_NAMES if k in item}
    if max_duration_s is not None:
        flat.setdefault("max_gen_duration_s", max_duration_s)
    bundle = ModalityBundle(style_text=item.get("style_text"), control_events=item.get("control_events"),
                            image=item.get("image"), reference_audio=item.get("reference_audio"),
                            priorities=item.get("priorities") or {})
    try:
        return build_request(item.get("text"), item.get("voice"), options=GenerationOptions.from_kwargs(**flat),
                             modalities=bundle, seed=item.get("seed"), model=model)
    except InvalidInputError as exc:
        raise InvalidInputError(f"item {item['id']}: {exc}") from None


def is_done(outdir: Path, item_id: str) -> bool:
    audio = Path(outdir) / f"{item_id}.wav"
    return audio.is_file() and audio.with_name(audio.name + MANIFEST_SUFFIX).is_file()


def run_batch_file(manifest: Path, outdir: Path, *, model: str = "bark", device: str | None = None, shard: str = "0/1",
                   batch_size: int = 4, max_duration_s: float | None = None, host: Any = None,
                   progress: Callable[[str], None] | None = None) -> BatchReport:
    """Generate this shard's items that are not done yet; see the module docstring."""
    from bark_omni.api import run_batch
    from bark_omni.host import default_host

    index, count = parse_shard(shard)
    if batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    items = read_items(manifest)
    mine = [item for k, item in enumerate(items) if k % count == index]
    todo = [item for item in mine if not is_done(outdir, item["id"])]
    requests = [(item, _request(item, model, max_duration_s)) for item in todo]  # every line checked first
    Path(outdir).mkdir(parents=True, exist_ok=True)
    host = host or default_host()
    groups: dict[Any, list] = {}
    for item, request in requests:
        groups.setdefault(request.options, []).append((item, request))
    done = 0
    for group in groups.values():
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            results = run_batch([request for _, request in chunk], host=host, device=device)
            for (item, request), result in zip(chunk, results):
                result.save(Path(outdir) / f"{item['id']}.wav", request=request, host=host)
                done += 1
                if progress:
                    progress(f"[{done}/{len(todo)}] {item['id']}.wav")
    return BatchReport(done=done, skipped=len(mine) - len(todo), other=len(items) - len(mine))
