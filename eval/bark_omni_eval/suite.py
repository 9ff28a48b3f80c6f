"""Suite files: which prompts to generate (with their modalities and seeds) and which metrics to run.

A suite is TOML (see ``suites/example_tiny.toml``)::

    name = "speech-smoke"
    seeds = [0, 1]
    [generation]                  # generate_audio options for every prompt
    max_gen_duration_s = 1.5
    [[prompts]]
    id = "greeting"
    text = "Hello there."
    speaker_reference = { espeak = "en-us+f2" }   # or a path; also taken from modalities.reference_audio
    [prompts.modalities]          # style_text, reference_audio (path), image (path), control_events
    style_text = "whispering"
    [references]                  # the reference set of set-level metrics (FAD)
    files = ["refs/*.wav"]        # paths or globs, relative to the suite file
    espeak_voices = ["en-us+f2"]  # and/or every prompt's words spoken by these espeak-ng voices
    [metrics.wer]                 # a metric registered through register_metrics; keys are its options, plus:
    tolerance = 0.1               #   allowed change in the bad direction before --baseline fails (or a table)
    direction = "lower"           #   "higher", "lower" or "both" (default: the metric's own)
    prompts = ["greeting"]        #   run on these prompts only
"""

from __future__ import annotations

import glob
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from .errors import SuiteError

SUITE_KEYS = {"name", "description", "model", "seeds", "generation", "decoder", "prompts", "references", "metrics"}
PROMPT_KEYS = {"id", "text", "kind", "history_prompt", "modalities", "caption", "speaker_reference", "generation"}
METRIC_CONTROL_KEYS = {"tolerance", "direction", "prompts"}
DIRECTIONS = ("higher", "lower", "both")
PATH_MODALITIES = {"reference_audio", "image"}


@dataclass
class Prompt:
    id: str
    text: str | None
    kind: str = "speech"
    history_prompt: str | None = None
    modalities: dict[str, Any] = field(default_factory=dict)
    priorities: dict[str, float] = field(default_factory=dict)
    caption: str | None = None
    speaker_reference: Any = None
    generation: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricConfig:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    tolerance: float | dict[str, float] | None = None
    direction: str | None = None
    prompts: list[str] | None = None

    def tolerance_for(self, key: str) -> float:
        """The allowed worsening of ``key`` (a number this metric reports); 0 when the suite sets none."""
        if isinstance(self.tolerance, dict):
            return float(self.tolerance.get(key, self.tolerance.get("default", 0.0)))
        return float(self.tolerance or 0.0)


@dataclass
class References:
    files: list[Path] = field(default_factory=list)
    espeak_voices: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.files and not self.espeak_voices


@dataclass
class Suite:
    name: str
    path: Path
    prompts: list[Prompt]
    metrics: list[MetricConfig]
    seeds: list[int] = field(default_factory=lambda: [0])
    description: str = ""
    model: str = "bark"
    decoder: str = "encodec"
    generation: dict[str, Any] = field(default_factory=dict)
    references: References = field(default_factory=References)

    def metric(self, name: str) -> MetricConfig:
        return next(m for m in self.metrics if m.name == name)


def _unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise SuiteError(f"unknown key(s) {', '.join(extra)} in {where}; allowed: {', '.join(sorted(allowed))}")


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _existing(base: Path, value: str, where: str) -> Path:
    path = _resolve(base, value)
    if not path.is_file():
        raise SuiteError(f"{where}: file {path} does not exist (paths are relative to the suite file)")
    return path


def _prompt(raw: Any, base: Path, index: int) -> Prompt:
    if not isinstance(raw, dict):
        raise SuiteError(f"prompts[{index}] must be a table with at least id and text")
    _unknown(raw, PROMPT_KEYS, f"prompts[{index}]")
    pid = raw.get("id")
    if not isinstance(pid, str) or not pid or "/" in pid:
        raise SuiteError(f"prompts[{index}] needs an id (a short name without '/'), e.g. id = \"greeting\"")
    text = raw.get("text")
    modalities = dict(raw.get("modalities", {}))
    priorities = modalities.pop("priorities", {})
    from bark_omni.host import default_host

    _unknown(modalities, set(default_host().modalities), f"prompts[{index}].modalities")
    for name in PATH_MODALITIES & set(modalities):
        if isinstance(modalities[name], str):
            modalities[name] = str(_existing(base, modalities[name], f"prompt {pid!r} modalities.{name}"))
    if text is None and not modalities:
        raise SuiteError(f"prompt {pid!r} has neither text nor modalities; give it text = \"...\"")
    reference = raw.get("speaker_reference")
    if isinstance(reference, str):
        reference = _existing(base, reference, f"prompt {pid!r} speaker_reference")
    elif reference is not None and not (isinstance(reference, dict) and "espeak" in reference):
        raise SuiteError(f"prompt {pid!r}: speaker_reference must be a path or {{ espeak = \"voice\" }}")
    return Prompt(id=pid, text=text, kind=str(raw.get("kind", "speech")), history_prompt=raw.get("history_prompt"),
                  modalities=modalities, priorities=dict(priorities), caption=raw.get("caption"),
                  speaker_reference=reference, generation=dict(raw.get("generation", {})))


def _metric(name: str, raw: Any, prompt_ids: set[str]) -> MetricConfig:
    if not isinstance(raw, dict):
        raise SuiteError(f"[metrics.{name}] must be a table (it may be empty)")
    direction = raw.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise SuiteError(f"[metrics.{name}] direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    tolerance = raw.get("tolerance")
    numbers = tolerance.values() if isinstance(tolerance, dict) else [tolerance]
    if tolerance is not None and not all(isinstance(t, (int, float)) and t >= 0 for t in numbers):
        raise SuiteError(f"[metrics.{name}] tolerance must be a number >= 0 or a table of them")
    prompts = raw.get("prompts")
    if prompts is not None:
        missing = sorted(set(prompts) - prompt_ids)
        if missing:
            raise SuiteError(f"[metrics.{name}] prompts names unknown prompt id(s) {', '.join(missing)}")
    options = {k: v for k, v in raw.items() if k not in METRIC_CONTROL_KEYS}
    return MetricConfig(name=name, options=options, tolerance=tolerance, direction=direction, prompts=prompts)


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; every problem is a one-line ``SuiteError``."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"suite file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path} is not valid TOML: {exc}") from None
    _unknown(data, SUITE_KEYS, str(path))
    base = path.parent
    prompts = [_prompt(raw, base, i) for i, raw in enumerate(data.get("prompts", []))]
    if not prompts:
        raise SuiteError(f"{path} has no prompts; add [[prompts]] tables with id and text")
    ids = [p.id for p in prompts]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{path}: prompt ids must be unique, got {ids}")
    metrics_raw = data.get("metrics", {})
    if not isinstance(metrics_raw, dict) or not metrics_raw:
        raise SuiteError(f"{path} names no metrics; add e.g. [metrics.loudness]")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise SuiteError(f"{path}: seeds must be a non-empty list of integers >= 0")
    refs_raw = data.get("references", {})
    _unknown(refs_raw, {"files", "espeak_voices", "texts"}, f"{path} [references]")
    files: list[Path] = []
    for pattern in refs_raw.get("files", []):
        matched = sorted(glob.glob(str(_resolve(base, pattern))))
        if not matched:
            raise SuiteError(f"{path} [references] files: nothing matches {pattern!r}")
        files += [Path(m) for m in matched]
    references = References(files=files, espeak_voices=list(refs_raw.get("espeak_voices", [])),
                            texts=list(refs_raw.get("texts", [])))
    return Suite(
        name=str(data.get("name", path.stem)), path=path, prompts=prompts,
        metrics=[_metric(n, raw, set(ids)) for n, raw in metrics_raw.items()], seeds=seeds,
        description=str(data.get("description", "")), model=str(data.get("model", "bark")),
        decoder=str(data.get("decoder", "encodec")), generation=dict(data.get("generation", {})), references=references,
    )
