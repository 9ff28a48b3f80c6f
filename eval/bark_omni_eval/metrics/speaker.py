"""Speaker similarity: cosine of resemblyzer's d-vectors (its weights ship inside its wheel)."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from ..audio import Clip, as_clip, to_mono
from ..errors import MetricUnavailable

MIN_VOICED_S = 0.5


@functools.lru_cache(maxsize=1)
def _encoder(device: str = "cpu"):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
    except ImportError:
        raise MetricUnavailable("resemblyzer is not installed; pip install resemblyzer") from None
    return VoiceEncoder(device, verbose=False)


def speaker_embedding(audio: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """A unit-norm 256-d voice embedding, or None for digital silence.

    resemblyzer trims silences with a voice detector; when that leaves less than half a second (noise, a
    whisper), the untrimmed audio is embedded instead so that the score still reflects what is there.
    """
    audio = to_mono(audio)
    if not np.any(audio):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import preprocess_wav
        from resemblyzer.audio import normalize_volume
        from resemblyzer.hparams import audio_norm_target_dBFS, sampling_rate

        wav = preprocess_wav(audio, source_sr=sample_rate)
        if len(wav) < MIN_VOICED_S * sampling_rate:
            from ..audio import resample

            wav = normalize_volume(resample(audio, sample_rate, sampling_rate), audio_norm_target_dBFS, increase_only=True)
        return _encoder().embed_utterance(wav)


def similarity(a: Clip, b: Clip) -> float:
    """Cosine similarity of two clips' voices (0 when either is silent)."""
    ea, eb = speaker_embedding(a.audio, a.sample_rate), speaker_embedding(b.audio, b.sample_rate)
    if ea is None or eb is None:
        return 0.0
    return float(np.dot(ea, eb) / (np.linalg.norm(ea) * np.linalg.norm(eb)))


def compute(audio: np.ndarray, sample_rate: int, reference_audio: object | None) -> dict[str, float]:
    """How much the generated voice sounds like the reference speaker (cosine, about 0.85+ for one voice)."""
    if reference_audio is None:
        raise MetricUnavailable("the prompt has no reference_audio (or speaker_reference) to compare the voice with")
    reference = as_clip(reference_audio)
    if speaker_embedding(reference.audio, reference.sample_rate) is None:
        raise MetricUnavailable("the reference audio is silent")
    return {"speaker_similarity": similarity(Clip(to_mono(audio), sample_rate), reference)}
