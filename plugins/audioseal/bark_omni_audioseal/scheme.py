"""Embedding and detecting with AudioSeal at any sample rate (the models work at 16 kHz).

The mark is computed at 16 kHz and added back at the input rate (resampled), so the rest of the audio is left
as it was. Detection returns AudioSeal's own score (the mean frame probability of "marked") and the 16 bits;
it is not a p-value: bench/watermark_robustness.py measures its false-positive rate on unmarked speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from bark_omni.audio import resample

from .models import NBITS, SAMPLE_RATE, AudioSealModels

SCHEME = "audioseal-16bits"


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    return resample(x, sr, target, np.float64)


def _no_compile() -> object:
    """AudioSeal's SEANet asks for torch.compile on first call (a minute of compiling on CPU): run eagerly."""
    try:
        from audioseal.libs.moshi.utils.compile import no_compile
    except ImportError:  # pragma: no cover - older AudioSeal without Moshi modules
        import contextlib

        return contextlib.nullcontext()
    return no_compile()


def _bits(payload: int) -> np.ndarray:
    from bark_omni.errors import InvalidInputError

    if not isinstance(payload, (int, np.integer)) or not 0 <= int(payload) < 2**NBITS:
        raise InvalidInputError(f"the AudioSeal payload must be an integer in 0..{2**NBITS - 1}, got {payload!r}")
    return np.array([(int(payload) >> (NBITS - 1 - i)) & 1 for i in range(NBITS)], dtype=np.int64)


def embed(audio: np.ndarray, sample_rate: int, payload: int, models: AudioSealModels) -> np.ndarray:
    """``audio`` (mono) with AudioSeal's mark carrying ``payload``; same length and dtype."""
    import torch

    x = np.asarray(audio, dtype=np.float64)
    dtype = np.asarray(audio).dtype if np.issubdtype(np.asarray(audio).dtype, np.floating) else np.float32
    at16 = _resample(x, sample_rate, SAMPLE_RATE)
    with torch.no_grad(), _no_compile():
        wm = models.generator.get_watermark(torch.tensor(at16, dtype=torch.float32)[None, None],
                                            message=torch.tensor(_bits(payload))[None])
    back = _resample(wm[0, 0].numpy().astype(np.float64), SAMPLE_RATE, sample_rate)[: len(x)]
    back = np.pad(back, (0, len(x) - len(back)))
    return (x + back).astype(dtype)


@dataclass
class AudioSealDetection:
    score: float  # mean frame probability that the audio is marked
    payload: int
    detected: bool
    bit_probabilities: list[float] = field(default_factory=list)
    scheme: str = SCHEME

    def as_dict(self) -> dict:
        return {"detected": self.detected, "score": round(self.score, 4), "payload": self.payload,
                "payload_hex": f"0x{self.payload:04x}", "scheme": self.scheme}


def detect(audio: np.ndarray, sample_rate: int, models: AudioSealModels, threshold: float = 0.5) -> AudioSealDetection:
    import torch

    x = _resample(np.asarray(audio, dtype=np.float64), sample_rate, SAMPLE_RATE)
    with torch.no_grad(), _no_compile():
        score, message = models.detector.detect_watermark(torch.tensor(x, dtype=torch.float32)[None, None])
    probs = message[0].float().numpy()
    payload = int("".join("1" if p > 0.5 else "0" for p in probs), 2)
    return AudioSealDetection(float(score), payload, float(score) >= threshold, [float(p) for p in probs])
