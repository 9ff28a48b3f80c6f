"""The audio toolbox every adapter and plugin uses: read anything to mono float32, resample, convert to and from
tensors. Writing (atomically, with the manifest beside it) lives in ``bark_omni.files``.

Accepted sources: a path (WAV, FLAC, OGG and what else libsndfile reads), ``(samples, rate)``, a
``{"array": ..., "sampling_rate": ...}`` dict (Hugging Face datasets' audio), numpy arrays or torch tensors of
floats or integers (integers are scaled to [-1, 1)). Bad input raises ``InvalidInputError`` with one line naming
what was wrong and what to pass. numpy is imported here; scipy, soundfile and torch only when used.
"""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError, short_path, shorten

MIN_RATE, MAX_RATE = 1000, 768_000
MAX_CHANNELS = 64
PASS_AUDIO = "pass an audio file (WAV, FLAC, OGG, MP3)"


def read_audio(source: Any, *, what: str = "audio") -> tuple[np.ndarray, int]:
    """``(mono float32 samples, sample rate)`` from any accepted source; ``what`` names the input in errors."""
    if isinstance(source, (str, os.PathLike)):
        samples, rate = read_file(Path(source), what=what)
    elif isinstance(source, dict) and {"array", "sampling_rate"} <= set(source):
        samples, rate = as_float32(source["array"], what=what), as_rate(source["sampling_rate"], what=what)
    elif isinstance(source, (tuple, list)) and len(source) == 2 and not np.isscalar(source[0]):
        samples, rate = as_float32(source[0], what=what), as_rate(source[1], what=what)
    elif hasattr(source, "shape"):
        raise InvalidInputError(f"{what} given as an array needs its sample rate: pass (array, sample_rate)")
    else:
        raise InvalidInputError(f"{what} must be a file path or (array, sample_rate), got {type(source).__name__}")
    samples = to_mono(samples, what=what)
    if samples.size == 0:
        raise InvalidInputError(f"{what} holds no samples; pass a recording that is not empty")
    return samples, rate


def read_file(path: Path, *, what: str = "audio") -> tuple[np.ndarray, int]:
    """Samples as stored (frames x channels, float32) and the rate of an audio file."""
    import soundfile as sf

    if not path.is_file():
        raise InvalidInputError(f"{what} file {short_path(path)} does not exist; {PASS_AUDIO}")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports every decoding failure through its own error types
        reason = shorten(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)
        raise InvalidInputError(f"cannot read {what} {short_path(path)} ({reason}); {PASS_AUDIO}") from None
    if samples.size == 0:
        raise InvalidInputError(f"{what} file {short_path(path)} holds no samples; pass a recording")
    return samples, int(rate)


def as_rate(rate: Any, *, what: str = "audio") -> int:
    """A sample rate as a whole number of Hz in a plausible range."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer, float)) or not MIN_RATE <= rate <= MAX_RATE \
            or rate != int(rate):
        raise InvalidInputError(f"{what}: sample rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}, "
                                f"got {shorten(rate)}")
    return int(rate)


def as_float32(array: Any, *, what: str = "audio") -> np.ndarray:
    """A float32 numpy array from numpy/torch/list data; integer PCM scaled to [-1, 1)."""
    array = from_tensor(array)
    try:
        array = np.asarray(array)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} samples must be a numeric array") from None
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2  # 0 for signed, 128 for uint8
        return ((array.astype(np.float64) - middle) / (info.max - middle + 1)).astype(np.float32)
    if array.dtype.kind != "f":
        raise InvalidInputError(f"{what} samples must be numbers, got an array of {array.dtype}")
    return array.astype(np.float32, copy=False)


def to_mono(samples: np.ndarray, *, what: str = "audio") -> np.ndarray:
    """Average the channels; accepts (n,), (n, channels) and (channels, n). Non-finite samples are refused; an
    empty array stays empty (callers that need samples say so)."""
    samples = as_float32(samples, what=what)
    if samples.ndim == 2 and samples.size:
        channel_axis = 1 if samples.shape[1] <= samples.shape[0] else 0
        if samples.shape[channel_axis] > MAX_CHANNELS:
            raise InvalidInputError(f"{what} has shape {samples.shape}: which axis is channels? pass (samples, channels)")
        samples = samples.mean(axis=channel_axis, dtype=np.float32)
    if samples.ndim != 1:
        raise InvalidInputError(f"{what} must be 1-D or (samples, channels), got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise InvalidInputError(f"{what} contains NaN or infinite samples; pass a clean recording")
    return np.ascontiguousarray(samples)


def resample(samples: np.ndarray, rate: int, target: int, dtype: Any = np.float32) -> np.ndarray:
    """Polyphase resampling along the last axis (exact for rational ratios such as 44100 -> 24000), as ``dtype``
    (float32 by default; float64 for measurement code that needs the precision)."""
    rate, target = int(rate), int(target)
    if rate == target:
        return np.asarray(samples, dtype=dtype)
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(np.asarray(samples, dtype=np.float64 if dtype == np.float64 else samples.dtype),
                         target // g, rate // g, axis=-1).astype(dtype)


def load_mono(source: Any, rate: int, *, what: str = "audio", max_seconds: float | None = None) -> np.ndarray:
    """Read any source, mix to mono, keep at most ``max_seconds`` from the start, resample to ``rate``."""
    samples, source_rate = read_audio(source, what=what)
    if max_seconds is not None:
        samples = samples[: int(round(max_seconds * source_rate))]
    return resample(samples, source_rate, rate)


def from_tensor(value: Any) -> Any:
    """A torch tensor as a numpy array (detached, on the CPU); anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def to_tensor(samples: np.ndarray, device: Any = "cpu", *, batch: bool = True) -> Any:
    """Mono samples as a float32 torch tensor, shaped (1, 1, n) for codecs when ``batch`` else (n,)."""
    import torch

    tensor = torch.as_tensor(np.ascontiguousarray(samples, dtype=np.float32), device=device)
    return tensor.reshape(1, 1, -1) if batch else tensor
