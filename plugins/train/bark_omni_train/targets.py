"""Training targets cached on disk by ``bark-omni data prepare``, one safetensors file per row.

* ``semantic``: Bark semantic tokens. The frozen Bark teacher generates them from the row's text (or caption),
  so image-caption pairs need no semantic tokenizer (Bark never published one); a row's own ``semantic`` field
  replaces the teacher.
* ``codes``: EnCodec 24 kHz codes (8 x T) of the row's audio: the coarse stage's targets are the first two.

Each file records what it was made from (row content, teacher settings, model and codec fingerprints), so a
rerun only redoes changed rows and training refuses targets made for another model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from bark_omni.files import sha256_file

from .errors import DataError, name_rows
from .manifest import Row
from .media import load_audio, row_content_hash, stable_seed

if TYPE_CHECKING:  # pragma: no cover
    from bark_omni.models import BarkModels

INDEX_FILE = "index.json"


@dataclass(frozen=True)
class TeacherSettings:
    """How the frozen Bark teacher samples semantic targets (Bark's defaults; a seed per row)."""

    temp: float = 0.7
    top_k: int | None = None
    top_p: float | None = None
    min_eos_p: float = 0.2
    max_duration_s: float | None = 14.0
    seed: int = 0


@dataclass
class Targets:
    semantic: np.ndarray | None  # (T,) int64
    semantic_eos: bool  # the sequence is complete: training also teaches Bark's end token after it
    codes: np.ndarray | None  # (8, T) int64


def fields_hash(row: Row) -> str:
    """Hash of a row's manifest fields that targets depend on (cheap: no file reads)."""
    fields = {"text": row.text, "caption": row.caption, "semantic": list(row.semantic) if row.semantic else None,
              "audio": str(row.audio) if row.audio else None}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


def target_file(cache: Path, row_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", row_id)[:64]
    return Path(cache) / "targets" / f"{safe}-{hashlib.sha256(row_id.encode()).hexdigest()[:12]}.safetensors"


def codec_fingerprint(codec: Any) -> str:
    from bark_omni.fingerprints import fingerprint_modules

    return fingerprint_modules({"codec": codec})


def teacher_semantic(models: BarkModels, text: str, settings: TeacherSettings, row_id: str) -> tuple[np.ndarray, bool]:
    """The teacher's semantic tokens for ``text`` and whether it ended them itself (not cut by duration)."""
    import torch

    from bark_omni import loop as gen
    from bark_omni.constants import MAX_SEMANTIC_STEPS, SEMANTIC_RATE_HZ

    generator = torch.Generator(device=models.device).manual_seed(stable_seed(settings.seed, row_id))
    tokens = gen.generate_semantic(
        models.text, gen.encode_text(models.tokenizer, text), temp=settings.temp, top_k=settings.top_k,
        top_p=settings.top_p, min_eos_p=settings.min_eos_p, max_gen_duration_s=settings.max_duration_s,
        generator=generator,
    )
    cut = settings.max_duration_s is not None and len(tokens) / SEMANTIC_RATE_HZ > settings.max_duration_s
    return tokens, not cut and len(tokens) < MAX_SEMANTIC_STEPS


def encodec_codes(models: BarkModels, path: Path) -> np.ndarray:
    """EnCodec 24 kHz codes (8 x T) of an audio file, at Bark's 6 kbps."""
    import torch
    from encodec.utils import convert_audio

    samples, sr = load_audio(path)
    wav = convert_audio(torch.from_numpy(samples)[None], sr, models.codec.sample_rate, models.codec.channels)
    with torch.inference_mode():
        frames = models.codec.encode(wav[None].to(models.device))
    return torch.cat([codes for codes, _ in frames], dim=-1)[0].cpu().numpy().astype(np.int64)


def prepare_targets(rows: list[Row], cache: Path, models: BarkModels, settings: TeacherSettings = TeacherSettings(), *,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write every row's targets under ``cache``; rows whose inputs and settings are unchanged are skipped."""
    from safetensors.numpy import save_file

    from bark_omni.files import atomic_output

    cache = Path(cache)
    codec_fp = codec_fingerprint(models.codec)
    settings_hash = hashlib.sha256(json.dumps([asdict(settings), models.fingerprint, codec_fp]).encode()).hexdigest()[:32]
    made = skipped = 0
    problems: list[str] = []
    index_rows: dict[str, dict[str, str]] = {}
    for done, row in enumerate(rows, start=1):
        if progress is not None:
            progress(done - 1, len(rows))
        path = target_file(cache, row.id)
        try:
            hashes = {kind: sha256_file(file) for kind, file in row.files().items()}
        except OSError as exc:
            problems.append(f"{row.where}: {exc.strerror or exc}")
            continue
        content = row_content_hash(row, hashes)
        meta = read_meta(path)
        if meta.get("content_hash") == content and meta.get("settings_hash") == settings_hash:
            skipped += 1
        else:
            try:
                arrays: dict[str, np.ndarray] = {}
                eos = True
                if row.semantic is not None:
                    arrays["semantic"] = np.asarray(row.semantic, dtype=np.int64)
                elif row.teacher_text is not None:
                    arrays["semantic"], eos = teacher_semantic(models, row.teacher_text, settings, row.id)
                if row.audio is not None:
                    arrays["codes"] = encodec_codes(models, row.audio)
            except Exception as exc:  # a bad row must not stop the others; it is named at the end
                problems.append(f"{row.where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                continue
            info = {"row_id": row.id, "fields_hash": fields_hash(row), "content_hash": content,
                    "settings_hash": settings_hash, "semantic_eos": "1" if eos else "0",
                    "model_fingerprint": models.fingerprint, "codec_fingerprint": codec_fp}
            with atomic_output(path) as tmp:
                save_file(arrays, str(tmp), metadata=info)
            made += 1
        index_rows[row.id] = {"file": path.name, "fields_hash": fields_hash(row)}
    if progress is not None:
        progress(len(rows), len(rows))
    index = {"format": 1, "model_fingerprint": models.fingerprint, "codec_fingerprint": codec_fp,
             "teacher": asdict(settings), "rows": index_rows}
    with atomic_output(cache / INDEX_FILE) as tmp:
        tmp.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    if problems:
        raise DataError(f"{len(problems)} row(s) could not be prepared: {name_rows(problems)}; "
                        f"fix them and rerun (the {made + skipped} others are cached)")
    return {"cache": str(cache), "rows": len(rows), "prepared": made, "unchanged": skipped}


def read_meta(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return dict(handle.metadata() or {})
    except Exception:
        return {}


class TargetStore:
    """Read access to a prepared cache, refusing targets made for another model or an edited row."""

    def __init__(self, cache: Path, model_fingerprint: str | None = None) -> None:
        self.cache = Path(cache)
        index_path = self.cache / INDEX_FILE
        if not index_path.is_file():
            raise DataError(f"no prepared targets in {self.cache}; run `bark-omni data prepare MANIFEST --cache {self.cache}`")
        self.index = json.loads(index_path.read_text(encoding="utf-8"))
        if model_fingerprint and self.index.get("model_fingerprint") != model_fingerprint:
            raise DataError(f"targets in {self.cache} were prepared with model {self.index.get('model_fingerprint')}, "
                            f"not {model_fingerprint}; rerun `bark-omni data prepare` with this model")

    def check(self, rows: list[Row]) -> None:
        stale = [f"{r.where}: not prepared" if r.id not in self.index["rows"] else f"{r.where}: edited since prepare"
                 for r in rows if self.index["rows"].get(r.id, {}).get("fields_hash") != fields_hash(r)]
        if stale:
            raise DataError(f"{len(stale)} row(s) lack current targets in {self.cache}: {name_rows(stale)}; "
                            "rerun `bark-omni data prepare`")

    def load(self, row: Row) -> Targets:
        from safetensors import safe_open

        with safe_open(str(target_file(self.cache, row.id)), framework="numpy") as handle:
            keys = set(handle.keys())
            meta = handle.metadata() or {}
            return Targets(semantic=handle.get_tensor("semantic") if "semantic" in keys else None,
                           semantic_eos=meta.get("semantic_eos", "1") == "1",
                           codes=handle.get_tensor("codes") if "codes" in keys else None)
