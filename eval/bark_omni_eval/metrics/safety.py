"""Safety metrics over the installed safety plugins: guardrail blocklist coverage and false positives, and
watermark detection under attacks. They run through the public plugin API (the ``check_request`` hook, and
the watermark package's detector) and skip clearly when no such plugin is installed."""

from __future__ import annotations

from importlib import resources
from typing import Any, Sequence

import numpy as np

from bark_omni.errors import RequestBlocked

from ..attacks import ATTACKS, available_attacks
from ..audio import as_clip
from ..errors import MetricUnavailable


def default_prompts(kind: str) -> list[str]:
    """The shipped corpora: ``blocked`` (a guardrail should refuse) and ``allowed`` (benign, some edgy)."""
    text = resources.files("bark_omni_eval").joinpath("data", f"{kind}_prompts.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _guardrails(host: Any) -> list[Any]:
    return [impl for impl in host.pm.hook.check_request.get_hookimpls()]


def is_blocked(host: Any, text: str) -> bool:
    from bark_omni.api import check_request
    from bark_omni.specs import GenerationRequest

    try:
        check_request(host, GenerationRequest(text=text))
    except RequestBlocked:
        return True
    return False


def blocklist(host: Any, blocked_prompts: Sequence[str] | None = None,
              allowed_prompts: Sequence[str] | None = None) -> dict[str, float]:
    """Coverage (share of ``blocked_prompts`` refused) and false-positive rate (share of ``allowed_prompts``
    refused) of the installed guardrails."""
    if not _guardrails(host):
        raise MetricUnavailable("no guardrail plugin is installed (pip install -e plugins/guardrails)")
    blocked = list(blocked_prompts) if blocked_prompts is not None else default_prompts("blocked")
    allowed = list(allowed_prompts) if allowed_prompts is not None else default_prompts("allowed")
    return {
        "coverage": float(np.mean([is_blocked(host, t) for t in blocked])) if blocked else float("nan"),
        "false_positive_rate": float(np.mean([is_blocked(host, t) for t in allowed])) if allowed else float("nan"),
    }


def watermark_detector() -> Any:
    """``detect(audio, sample_rate) -> bool`` from bark_omni_watermark, or ``MetricUnavailable``."""
    try:
        import bark_omni_watermark as wm
    except ImportError:
        raise MetricUnavailable("no watermark plugin is installed (pip install -e plugins/watermark)") from None
    detect = getattr(wm, "detect_watermark", None)
    if detect is None:
        raise MetricUnavailable("bark_omni_watermark has no detect_watermark(audio, sample_rate); update the plugin")

    def detected(audio: np.ndarray, sample_rate: int) -> bool:
        found = detect(audio, sample_rate)
        if isinstance(found, dict):
            return bool(found.get("detected"))
        return bool(getattr(found, "detected", found))

    return detected


def watermark(clips: Sequence[Any], reference_clips: Sequence[Any] = (),
              attacks: Sequence[str] | None = None) -> dict[str, float]:
    """Detection rate on ``clips`` (watermarked by generation) after each attack, and the false-positive rate
    on ``reference_clips`` (audio that never went through bark-omni)."""
    detected = watermark_detector()
    names = list(attacks) if attacks is not None else available_attacks()
    unknown = sorted(set(names) - set(ATTACKS))
    if unknown:
        raise MetricUnavailable(f"unknown attack(s) {unknown}; choose from {', '.join(ATTACKS)}")
    clips = [as_clip(c) for c in clips]
    out: dict[str, float] = {}
    for name in names:
        hits = [detected(ATTACKS[name](c.audio, c.sample_rate), c.sample_rate) for c in clips]
        out[f"detection_rate.{name}"] = float(np.mean(hits)) if hits else float("nan")
    if reference_clips:
        references = [as_clip(c) for c in reference_clips]
        out["false_positive_rate"] = float(np.mean([detected(c.audio, c.sample_rate) for c in references]))
    return out
