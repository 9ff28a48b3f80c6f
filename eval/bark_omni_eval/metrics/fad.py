"""Fréchet Audio Distance between two sets of clips, with pluggable embedders, and FAD-infinity.

FAD fits a Gaussian to each set's frame embeddings and measures the Fréchet distance between them. It is
biased upwards for small sets, so ``fad_inf`` also reports FAD-infinity: FAD computed on subsets of growing
size N, fitted linearly against 1/N and extrapolated to N -> infinity (Chung et al., "Rethinking FID", as
adapted to audio by Gui et al. 2024). The intercept is comparable across set sizes; the raw FAD is not.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from bark_omni.specs import MetricSpec

from ..audio import Clip, as_clip, resample
from ..embedders import Embedder
from ..errors import MetricUnavailable

MIN_FAD_INF_FRAMES = 8


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or len(frames) < 2:
        raise MetricUnavailable(f"FAD needs at least 2 embedding frames per set, got {len(frames)}; give longer or more clips")
    return frames.mean(axis=0), np.cov(frames, rowvar=False)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2) of two frame sets, shape (n, dim).

    The matrix square root's trace is taken as sum(sqrt(eig(S_a^1/2 S_b S_a^1/2))), which stays real and
    stable for the singular covariances small sets give."""
    mu_a, cov_a = gaussian_stats(a)
    mu_b, cov_b = gaussian_stats(b)
    root_a = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(cross, 0.0, None))))
    distance = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def fad_infinity(evaluated: np.ndarray, reference: np.ndarray, points: int = 8, repeats: int = 3,
                 seed: int = 0) -> tuple[float, float]:
    """(FAD-infinity, slope): FAD of random subsets of ``evaluated`` of ``points`` sizes between n/4 and n
    (``repeats`` draws each) regressed on 1/N; the intercept estimates FAD at infinite set size."""
    n = len(evaluated)
    if n < MIN_FAD_INF_FRAMES:
        raise MetricUnavailable(f"FAD-inf needs at least {MIN_FAD_INF_FRAMES} embedding frames, got {n}; give more or longer clips")
    rng = np.random.default_rng(seed)
    sizes = np.unique(np.linspace(max(2, n // 4), n, points).astype(int))
    xs, ys = [], []
    for size in sizes:
        for _ in range(1 if size == n else repeats):
            subset = evaluated[rng.choice(n, size=size, replace=False)]
            xs.append(1.0 / size)
            ys.append(frechet_distance(subset, reference))
    slope, intercept = np.polyfit(np.array(xs), np.array(ys), 1)
    return float(intercept), float(slope)


def embed_clips(embedder: Embedder, clips: Sequence[Clip]) -> np.ndarray:
    """Every clip's frames, resampled to the embedder's rate, stacked into one (frames, dim) array."""
    if not clips:
        raise MetricUnavailable("FAD needs a non-empty set of clips on both sides")
    frames = [embedder.embed(resample(c.audio, c.sample_rate, embedder.sample_rate)) for c in clips]
    return np.concatenate(frames, axis=0)


def fad_between(embedder: Embedder, clips: Sequence[Any], reference_clips: Sequence[Any], *,
                fad_inf_points: int = 8, seed: int = 0) -> dict[str, float]:
    evaluated = embed_clips(embedder, [as_clip(c) for c in clips])
    reference = embed_clips(embedder, [as_clip(c) for c in reference_clips])
    result = {"fad": frechet_distance(evaluated, reference)}
    if len(evaluated) >= MIN_FAD_INF_FRAMES:
        result["fad_inf"], _ = fad_infinity(evaluated, reference, points=fad_inf_points, seed=seed)
    return result


def fad_metric(name: str, make_embedder: Callable[..., Embedder], description: str = "") -> MetricSpec:
    """A FAD ``MetricSpec`` over ``make_embedder(**options)``: how third parties plug their embedder in.

    The metric is set-level: it takes ``clips`` (the generated set) and ``reference_clips``; remaining options
    (``fad_inf_points``, ``seed``, and anything else, passed on to the embedder factory) come from the suite.
    """

    def compute(clips: Sequence[Any], reference_clips: Sequence[Any], fad_inf_points: int = 8, seed: int = 0,
                **embedder_options: Any) -> dict[str, float]:
        if not reference_clips:
            raise MetricUnavailable(f"{name} needs a reference set: add a [references] table to the suite")
        return fad_between(make_embedder(**embedder_options), clips, reference_clips,
                           fad_inf_points=fad_inf_points, seed=seed)

    compute.__doc__ = description
    return MetricSpec(name=name, compute=compute, higher_is_better=False, description=description)
