"""The eval plugin: registers the built-in metrics and the ``eval``, ``bench`` and ``metrics`` commands.

Loaded through the ``bark_omni`` entry-point group like any third-party plugin. Nothing heavy is imported
here: metric modules import their packages inside ``compute``.
"""

from __future__ import annotations

from typing import Any, Callable

from bark_omni.hookspecs import hookimpl
from bark_omni.specs import MetricSpec


def builtin_metrics() -> list[MetricSpec]:
    from .embedders.clap import ClapEmbedder
    from .embedders.logmel import LogMelStatsEmbedder
    from .embedders.vggish import VGGishEmbedder
    from .metrics import clap_score, conditional, fad, loudness, safety, speaker, wer

    return [
        MetricSpec("wer", wer.compute, higher_is_better=False,
                   description="word/character error rate of an ASR transcript (pocketsphinx; whisper if present)"),
        MetricSpec("speaker_similarity", speaker.compute, higher_is_better=True,
                   description="cosine of resemblyzer voice embeddings against the prompt's speaker reference"),
        MetricSpec("loudness", loudness.compute, higher_is_better=False,
                   description="integrated loudness (LUFS) and true peak (dBTP); suites usually compare both ways"),
        fad.fad_metric("fad", LogMelStatsEmbedder,
                       "Fréchet distance and FAD-inf to the reference set on log-mel statistics (no weights needed)"),
        fad.fad_metric("fad_vggish", VGGishEmbedder, "FAD and FAD-inf on VGGish embeddings (needs VGGish weights)"),
        fad.fad_metric("fad_clap", ClapEmbedder, "FAD and FAD-inf on LAION-CLAP embeddings (needs CLAP weights)"),
        MetricSpec("clap_score", clap_score.compute, higher_is_better=True,
                   description="text-audio agreement: cosine of LAION-CLAP audio and caption embeddings"),
        MetricSpec("conditional_dependence", conditional.compute, higher_is_better=True,
                   description="share of tokens that change when each input (text, modality) is removed"),
        MetricSpec("guardrail_blocklist", safety.blocklist, higher_is_better=True,
                   description="share of harmful prompts refused (coverage) and of benign ones refused (false positives)"),
        MetricSpec("watermark_detection", safety.watermark, higher_is_better=True,
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
