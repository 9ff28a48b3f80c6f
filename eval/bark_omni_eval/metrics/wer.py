"""Word error rate: transcribe with an ASR backend, score against the prompt's words with jiwer.

pocketsphinx (its English model ships in the wheel) always works offline but is weak on synthetic speech, so
its WER is for comparing runs, not an absolute intelligibility score. Whisper, through transformers, is used
when its weights are in the local Hugging Face cache (or a directory is given).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from ..audio import resample, to_mono
from ..errors import MetricUnavailable
from ..text_norm import normalize_transcript

ASR_RATE = 16_000
DEFAULT_WHISPER = "openai/whisper-base.en"
Transcriber = Callable[[np.ndarray], str]


@functools.lru_cache(maxsize=1)
def _pocketsphinx() -> Transcriber:
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise MetricUnavailable("pocketsphinx is not installed; pip install pocketsphinx") from None
    decoder = Decoder(samprate=ASR_RATE, loglevel="FATAL")

    def transcribe(audio16k: np.ndarray) -> str:
        pcm = (np.clip(audio16k, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    return transcribe


@functools.lru_cache(maxsize=2)
def _whisper(model: str, device: str) -> Transcriber:
    from ..weights import hf_weights_present

    if not hf_weights_present(model):
        raise MetricUnavailable(
            f"Whisper weights {model!r} are not available locally; fetch them once online with "
            f"`python -c \"from transformers import WhisperForConditionalGeneration as W; W.from_pretrained('{model}')\"` "
            "or pass backend_model= a local directory"
        )
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    processor = WhisperProcessor.from_pretrained(model, local_files_only=True)
    network = WhisperForConditionalGeneration.from_pretrained(model, local_files_only=True).to(device).eval()

    def transcribe(audio16k: np.ndarray) -> str:
        features = processor(audio16k, sampling_rate=ASR_RATE, return_tensors="pt").input_features.to(device)
        with torch.inference_mode():
            ids = network.generate(features, max_new_tokens=200)
        return processor.batch_decode(ids, skip_special_tokens=True)[0]

    return transcribe


def transcriber(backend: str = "pocketsphinx", backend_model: str | None = None, device: str = "cpu") -> Transcriber:
    """The ASR function of ``backend`` (loaded once per process)."""
    if backend == "pocketsphinx":
        return _pocketsphinx()
    if backend == "whisper":
        return _whisper(backend_model or DEFAULT_WHISPER, device)
    raise MetricUnavailable(f"unknown ASR backend {backend!r}; use 'pocketsphinx' or 'whisper'")


def transcribe(audio: np.ndarray, sample_rate: int, backend: str = "pocketsphinx", backend_model: str | None = None) -> str:
    return transcriber(backend, backend_model)(resample(to_mono(audio), sample_rate, ASR_RATE))


def error_rates(reference: str, hypothesis: str) -> dict[str, float]:
    """WER and CER of ``hypothesis`` against ``reference``, both normalised (cues and punctuation removed)."""
    import jiwer

    ref, hyp = normalize_transcript(reference), normalize_transcript(hypothesis)
    if not ref:
        raise MetricUnavailable("the prompt has no words to score (only cues or music notes)")
    words = jiwer.process_words(ref, hyp) if hyp else None
    wer = words.wer if words is not None else 1.0
    cer = jiwer.cer(ref, hyp) if hyp else 1.0
    return {"wer": float(wer), "cer": float(cer)}


def compute(audio: np.ndarray, sample_rate: int, text: str | None, backend: str = "pocketsphinx",
            backend_model: str | None = None) -> dict[str, float]:
    """WER/CER of the generated speech against the words it was asked to say."""
    if not text:
        raise MetricUnavailable("the prompt has no text to compare the transcript with")
    return error_rates(text, transcribe(audio, sample_rate, backend, backend_model))
