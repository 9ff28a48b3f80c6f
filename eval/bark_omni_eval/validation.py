"""Each metric checked on audio whose answer is known (espeak-ng speech, sines, silence).

``bark-omni metrics validate`` prints these figures; the tests assert the same orderings on fewer voices.
What must hold: WER rises as noise is added and is lower for the right transcript than a wrong one; a voice
is more similar to itself than to other voices; FAD of a set against itself is 0 and grows as the other set
is shifted further; a 997 Hz sine at -20 dBFS reads about -23 LUFS and -20 dBTP.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np

from .audio import Clip, add_noise
from .speech import CLEAR_VOICES, DISTINCT_VOICES, VALIDATION_SENTENCES, speak

SNR_LEVELS_DB = (None, 20.0, 10.0, 5.0, 0.0)  # None: clean


def wer_against_noise(voices: tuple[str, ...] = CLEAR_VOICES, sentences: tuple[str, ...] = VALIDATION_SENTENCES[:3],
                      snrs: tuple[float | None, ...] = SNR_LEVELS_DB) -> dict[str, Any]:
    """Mean WER per noise level, and mean WER of the clean transcript against the right and a wrong sentence."""
    from .metrics.wer import error_rates, transcribe

    by_level: dict[str, list[float]] = {("clean" if s is None else f"{s:g} dB"): [] for s in snrs}
    right, wrong = [], []
    for voice, (i, sentence) in itertools.product(voices, enumerate(sentences)):
        clip = speak(sentence, voice)
        for snr, key in zip(snrs, by_level):
            audio = clip.audio if snr is None else add_noise(clip.audio, snr, seed=i)
            hypothesis = transcribe(audio, clip.sample_rate)
            by_level[key].append(error_rates(sentence, hypothesis)["wer"])
            if snr is None:
                right.append(error_rates(sentence, hypothesis)["wer"])
                other = sentences[(i + 1) % len(sentences)]
                wrong.append(error_rates(other, hypothesis)["wer"])
    return {"wer_by_snr": {k: float(np.mean(v)) for k, v in by_level.items()},
            "wer_right_transcript": float(np.mean(right)), "wer_wrong_transcript": float(np.mean(wrong)),
            "clips": len(voices) * len(sentences)}


def speaker_same_vs_different(voices: tuple[str, ...] = DISTINCT_VOICES[:3],
                              sentences: tuple[str, ...] = VALIDATION_SENTENCES[:2]) -> dict[str, Any]:
    """Mean similarity of one voice across different sentences vs. different voices on the same sentence."""
    from .metrics.speaker import similarity

    clips = {(v, s): speak(s, v) for v in voices for s in sentences}
    same = [similarity(clips[v, a], clips[v, b]) for v in voices for a, b in itertools.combinations(sentences, 2)]
    different = [similarity(clips[v, s], clips[w, s]) for s in sentences for v, w in itertools.combinations(voices, 2)]
    return {"same_voice": float(np.mean(same)), "different_voice": float(np.mean(different)),
            "same_voice_min": float(np.min(same)), "different_voice_max": float(np.max(different)),
            "pairs_same": len(same), "pairs_different": len(different)}


def fad_against_shift(voices: tuple[str, ...] = CLEAR_VOICES, embedder: str = "logmel",
                      snrs: tuple[float, ...] = (30.0, 20.0, 10.0, 0.0)) -> dict[str, Any]:
    """FAD of set A (first half of the sentences) against itself, against set B (the other sentences, same
    voices: the same distribution), and against B with more and more noise added (a shifted distribution)."""
    from .embedders import builtin_embedders
    from .metrics.fad import embed_clips, frechet_distance

    model = builtin_embedders()[embedder]()
    half = len(VALIDATION_SENTENCES) // 2
    set_a = [speak(s, v) for v in voices for s in VALIDATION_SENTENCES[:half]]
    set_b = [speak(s, v) for v in voices for s in VALIDATION_SENTENCES[half:]]
    emb_a = embed_clips(model, set_a)
    out = {"self": frechet_distance(emb_a, emb_a), "same_distribution": frechet_distance(emb_a, embed_clips(model, set_b))}
    for snr in snrs:
        shifted = [Clip(add_noise(c.audio, snr, seed=k), c.sample_rate) for k, c in enumerate(set_b)]
        out[f"noise {snr:g} dB"] = frechet_distance(emb_a, embed_clips(model, shifted))
    return {"embedder": embedder, "fad": out, "clips_per_set": len(set_a)}


def loudness_known_signals() -> dict[str, float]:
    """A 997 Hz sine at -20 dBFS peak (BS.1770 calibration: -23.0 LUFS), a 0.2 s burst, and silence."""
    from .metrics.loudness import integrated_loudness, true_peak_db

    rate = 48_000
    t = np.arange(rate * 3) / rate
    sine = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    return {"sine_-20dBFS_lufs": integrated_loudness(sine, rate), "sine_-20dBFS_true_peak": true_peak_db(sine, rate),
            "burst_0.2s_lufs": integrated_loudness(sine[: rate // 5], rate),
            "silence_lufs": integrated_loudness(np.zeros(rate, np.float32), rate),
            "silence_true_peak": true_peak_db(np.zeros(rate, np.float32), rate)}


def optional_backends() -> dict[str, str]:
    """Whether each weight-dependent backend can run here, and why not."""
    from .embedders.clap import ClapEmbedder
    from .embedders.vggish import VGGishEmbedder
    from .errors import MetricUnavailable
    from .metrics.wer import transcriber

    status = {}
    for name, make in (("whisper", lambda: transcriber("whisper")), ("vggish", VGGishEmbedder), ("clap", ClapEmbedder)):
        try:
            make()
            status[name] = "available"
        except MetricUnavailable as exc:
            status[name] = f"skipped: {exc}"
    return status


def run_validation(n_voices: int = 3, log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    log("WER against noise (pocketsphinx)")
    clear = (CLEAR_VOICES * 3)[: max(1, min(n_voices, 2))]
    results: dict[str, Any] = {"wer": wer_against_noise(voices=clear)}
    log("speaker similarity (resemblyzer)")
    results["speaker"] = speaker_same_vs_different(voices=DISTINCT_VOICES[: max(2, n_voices)])
    log("FAD against shifted sets")
    results["fad"] = fad_against_shift(voices=DISTINCT_VOICES[: max(1, n_voices)])
    results["loudness"] = loudness_known_signals()
    results["optional"] = optional_backends()
    return results


def format_validation(results: dict[str, Any]) -> str:
    wer, spk, fad, loud = results["wer"], results["speaker"], results["fad"], results["loudness"]
    lines = [f"WER (pocketsphinx, {wer['clips']} clips): " + ", ".join(f"{k} {v:.3f}" for k, v in wer["wer_by_snr"].items()),
             f"WER right transcript {wer['wer_right_transcript']:.3f} vs wrong transcript {wer['wer_wrong_transcript']:.3f}",
             f"speaker similarity: same voice {spk['same_voice']:.3f} (min {spk['same_voice_min']:.3f}, {spk['pairs_same']} pairs)"
             f" vs different voices {spk['different_voice']:.3f} (max {spk['different_voice_max']:.3f}, {spk['pairs_different']} pairs)",
             f"FAD ({fad['embedder']}, {fad['clips_per_set']} clips per set): "
             + ", ".join(f"{k} {v:.3f}" for k, v in fad["fad"].items()),
             "loudness: " + ", ".join(f"{k} {v:.2f}" for k, v in loud.items())]
    lines += [f"{name}: {state}" for name, state in results["optional"].items()]
    return "\n".join(lines)
