"""The eval plugin: registers the built-in metrics and the ``eval``, ``bench`` and ``metrics`` commands.

Loaded through the ``bark_omni`` entry-point group like any third-party plugin. Nothing heavy is imported
here: a metric's module (and numpy) is imported when the metric is first used.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import MetricSpec


class LazyCompute:
    """A metric's ``compute`` that imports its module on first use, so registering the metrics (every CLI
    start, ``bark-omni plugins list`` included) imports no numpy. ``inspect.signature`` sees the real function
    through ``__wrapped__`` (which imports it then)."""

    def __init__(self, load: Callable[[], Callable[..., dict[str, float]]], name: str) -> None:
        self._load, self._function = load, None
        self.__name__ = self.__qualname__ = name

    @property
    def __wrapped__(self) -> Callable[..., dict[str, float]]:
        if self._function is None:
            self._function = self._load()
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        return self.__wrapped__(*args, **kwargs)


def _metric(module: str, name: str = "compute") -> LazyCompute:
    def load() -> Callable[..., dict[str, float]]:
        return getattr(importlib.import_module(f"bark_omni_eval.metrics.{module}"), name)

    return LazyCompute(load, f"{module}.{name}")


def _fad(name: str, embedder: str, description: str) -> MetricSpec:
    """A FAD metric over a shipped embedder (``bark_omni_eval.embedders.<module>:<class>``), built on first use."""
    def load() -> Callable[..., dict[str, float]]:
        from .metrics import fad

        module, cls = embedder.split(":")
        make = getattr(importlib.import_module(f"bark_omni_eval.embedders.{module}"), cls)
        return fad.fad_metric(name, make, description).compute

    return MetricSpec(name, LazyCompute(load, name), higher_is_better=False, description=description)


def builtin_metrics() -> list[MetricSpec]:
    return [
        MetricSpec("wer", _metric("wer"), higher_is_better=False,
                   description="word/character error rate of an ASR transcript (pocketsphinx; whisper if present)"),
        MetricSpec("speaker_similarity", _metric("speaker"), higher_is_better=True,
                   description="cosine of resemblyzer voice embeddings against the prompt's speaker reference"),
        MetricSpec("loudness", _metric("loudness"), higher_is_better=False,
                   description="integrated loudness (LUFS) and true peak (dBTP); suites usually compare both ways"),
        _fad("fad", "logmel:LogMelStatsEmbedder",
             "Fréchet distance and FAD-inf to the reference set on log-mel statistics (no weights needed)"),
        _fad("fad_vggish", "vggish:VGGishEmbedder", "FAD and FAD-inf on VGGish embeddings (needs VGGish weights)"),
        _fad("fad_clap", "clap:ClapEmbedder", "FAD and FAD-inf on LAION-CLAP embeddings (needs CLAP weights)"),
        MetricSpec("clap_score", _metric("clap_score"), higher_is_better=True,
                   description="text-audio agreement: cosine of LAION-CLAP audio and caption embeddings"),
        MetricSpec("conditional_dependence", _metric("conditional"), higher_is_better=True,
                   description="share of tokens that change when each input (text, modality) is removed"),
        MetricSpec("guardrail_blocklist", _metric("safety", "blocklist"), higher_is_better=True,
                   description="share of harmful prompts refused (coverage) and of benign ones refused (false positives)"),
        MetricSpec("watermark_detection", _metric("safety", "watermark"), higher_is_better=True,
                   description="watermark detection rate of generated clips under attacks; false positives on references"),
    ]


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    for spec in builtin_metrics():
        register(spec)


@hookimpl
def register_commands(app: Any) -> None:
    from .commands import add_commands

    add_commands(app)
