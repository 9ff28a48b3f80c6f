"""Audio embedders for FAD. An embedder turns a clip into frame-level vectors, shape (frames, dim).

Anyone can add one: implement ``Embedder`` and register ``fad_metric("fad_mine", MyEmbedder)`` from a plugin's
``register_metrics`` (see ``bark_omni_eval.metrics.fad``). Do not use EnCodec embeddings on Bark output: Bark's
audio is EnCodec-decoded, so such a distance flatters it.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np


class Embedder(Protocol):
    """Frame-level audio embeddings at a fixed input sample rate."""

    name: str
    sample_rate: int

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` (mono float32 at ``sample_rate``) -> array of shape (frames, dim)."""
        ...


def builtin_embedders() -> dict[str, Callable[..., Embedder]]:
    """Factories of the shipped embedders, by name (imported lazily)."""
    from .clap import ClapEmbedder
    from .logmel import LogMelStatsEmbedder
    from .vggish import VGGishEmbedder

    return {"logmel": LogMelStatsEmbedder, "vggish": VGGishEmbedder, "clap": ClapEmbedder}
