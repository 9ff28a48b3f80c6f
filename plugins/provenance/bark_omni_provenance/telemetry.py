"""Opt-in local telemetry: latency and quality signals of each generation, and user ratings, appended to a
JSONL file on this machine. Nothing is ever sent anywhere, and no prompt text is recorded (only its length).

Off by default. ``bark-omni telemetry enable`` (or ``BARK_OMNI_TELEMETRY=1``) switches it on; the file is
``$BARK_OMNI_TELEMETRY_FILE`` or ``$XDG_STATE_HOME/bark-omni/telemetry.jsonl`` (``~/.local/state/...``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ENV = "BARK_OMNI_TELEMETRY"
FILE_ENV = "BARK_OMNI_TELEMETRY_FILE"


def _config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bark-omni" / "telemetry.json"


def log_file() -> Path:
    if os.environ.get(FILE_ENV):
        return Path(os.environ[FILE_ENV]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "bark-omni" / "telemetry.jsonl"


def enabled() -> bool:
    """``BARK_OMNI_TELEMETRY`` (1/0) wins; otherwise the saved choice; otherwise off."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    try:
        return bool(json.loads(_config_file().read_text(encoding="utf-8")).get("enabled", False))
    except (OSError, ValueError, AttributeError):
        return False


def set_enabled(value: bool) -> Path:
    path = _config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"enabled": bool(value)}) + "\n", encoding="utf-8")
    return path


def append(event: dict[str, Any]) -> Path:
    """Append one event (a single line, so concurrent writers do not interleave)."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event}, sort_keys=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return path


def quality_signals(audio: np.ndarray) -> dict[str, float]:
    """Cheap reference-free signals: level, peak, clipping and how much is near-silence."""
    a = np.asarray(audio, dtype=np.float64)
    if a.size == 0:
        return {"rms_dbfs": -120.0, "peak": 0.0, "clipped_fraction": 0.0, "silence_fraction": 1.0}
    frame = 480
    n = len(a) // frame
    frames = a[: n * frame].reshape(n, frame) if n else a[None, :]
    frame_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return {"rms_dbfs": round(float(10 * np.log10(np.mean(a**2) + 1e-12)), 2), "peak": round(float(np.abs(a).max()), 4),
            "clipped_fraction": round(float(np.mean(np.abs(a) >= 0.999)), 6),
            "silence_fraction": round(float(np.mean(frame_db < -50.0)), 4)}


def generation_event(request: Any, result: Any) -> dict[str, Any]:
    from .manifest import generation_id

    duration = len(result.audio) / result.sample_rate
    total = float(sum(result.timings.values()))
    return {"event": "generation", "generation_id": generation_id(result.audio),
            "model_fingerprint": result.model_fingerprint[:16], "model": request.model, "decoder": request.decoder,
            "text_chars": len(request.text or ""), "duration_s": round(duration, 3),
            "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
            "real_time_factor": round(total / duration, 4) if duration > 0 else None,
            "quality": quality_signals(result.audio)}


def rate(manifest_path: Path, rating: int) -> Path:
    """Record a user's 1-5 rating of the generation a manifest describes; returns the telemetry file."""
    from bark_omni.errors import InvalidInputError

    from .manifest import load_manifest

    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidInputError(f"a rating must be an integer from 1 to 5, got {rating!r}")
    manifest = load_manifest(Path(manifest_path))
    return append({"event": "rating", "generation_id": manifest["generation_id"], "rating": rating,
                   "manifest": str(Path(manifest_path).resolve())})
