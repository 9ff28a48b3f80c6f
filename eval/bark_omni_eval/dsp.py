"""Mel spectrograms in numpy, shared by the weight-free FAD embedder and the VGGish front end."""

from __future__ import annotations

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale (what VGGish uses)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters on the HTK mel scale, shape (n_fft // 2 + 1, n_mels)."""
    bin_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    bin_mel = hz_to_mel(bin_hz)
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    bank = np.zeros((len(bin_hz), n_mels))
    for i in range(n_mels):
        lower, centre, upper = edges[i], edges[i + 1], edges[i + 2]
        rising = (bin_mel - lower) / (centre - lower)
        falling = (upper - bin_mel) / (upper - centre)
        bank[:, i] = np.maximum(0.0, np.minimum(rising, falling))
    bank[0, :] = 0.0  # no DC
    return bank


def log_mel(
    audio: np.ndarray,
    sample_rate: int,
    *,
    window_s: float = 0.025,
    hop_s: float = 0.010,
    n_mels: int = 64,
    fmin: float = 125.0,
    fmax: float = 7500.0,
    offset: float = 0.01,
) -> np.ndarray:
    """log(mel magnitude + offset) with a periodic Hann window, shape (frames, n_mels); audio shorter than one
    window is zero-padded."""
    window = int(round(window_s * sample_rate))
    hop = int(round(hop_s * sample_rate))
    n_fft = 1 << (window - 1).bit_length()
    audio = np.asarray(audio, dtype=np.float64)
    if len(audio) < window:
        audio = np.pad(audio, (0, window - len(audio)))
    n_frames = 1 + (len(audio) - window) // hop
    frames = np.lib.stride_tricks.sliding_window_view(audio, window)[::hop][:n_frames]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window + 1)[:-1], n=n_fft))
    return np.log(spectrum @ mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax) + offset).astype(np.float32)
