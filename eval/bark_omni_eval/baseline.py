"""Comparing a run with a stored one: a metric regresses when it moves the bad way by more than its
tolerance. This is how a text-only regression is caught when adapters change."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import SuiteError
from .runner import RECORD_FORMAT


def load_baseline(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"baseline {path} does not exist; write one with `bark-omni eval SUITE -o DIR` (DIR/run.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SuiteError(f"baseline {path} is not JSON ({exc}); pass the run.json of an earlier run") from None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT or "summary" not in data:
        raise SuiteError(f"baseline {path} is not a bark-omni eval run.json ({RECORD_FORMAT})")
    return data


def _status(current: float, baseline: float, direction: str, tolerance: float) -> str:
    if not (math.isfinite(current) and math.isfinite(baseline)):
        return "ok" if math.isnan(current) and math.isnan(baseline) else "regressed"
    delta = current - baseline
    slack = tolerance + 1e-9
    if direction == "higher":
        return "regressed" if delta < -slack else ("improved" if delta > slack else "ok")
    if direction == "lower":
        return "regressed" if delta > slack else ("improved" if delta < -slack else "ok")
    return "regressed" if abs(delta) > slack else "ok"


def compare(record: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Rows per metric key: current, baseline, delta, tolerance, direction and status (ok, improved,
    regressed, missing: in the baseline but not measured now, new: not in the baseline)."""
    rows = []
    now, then = record["summary"], baseline["summary"]
    for key in sorted(set(now) | set(then)):
        if key not in now:
            rows.append({"key": key, "current": None, "baseline": then[key]["mean"], "delta": None,
                         "tolerance": then[key].get("tolerance", 0.0), "direction": then[key].get("direction"),
                         "status": "missing"})
            continue
        cur = now[key]
        if key not in then:
            rows.append({"key": key, "current": cur["mean"], "baseline": None, "delta": None,
                         "tolerance": cur["tolerance"], "direction": cur["direction"], "status": "new"})
            continue
        base = float(then[key]["mean"])
        rows.append({"key": key, "current": cur["mean"], "baseline": base, "delta": cur["mean"] - base,
                     "tolerance": cur["tolerance"], "direction": cur["direction"],
                     "status": _status(float(cur["mean"]), base, cur["direction"], float(cur["tolerance"]))})
    regressed = [r["key"] for r in rows if r["status"] in ("regressed", "missing")]
    return {
        "baseline": {"suite": baseline.get("suite", {}).get("name"), "created": baseline.get("run", {}).get("created"),
                     "model_fingerprint": baseline.get("run", {}).get("model_fingerprint")},
        "rows": rows, "regressed": regressed,
    }
