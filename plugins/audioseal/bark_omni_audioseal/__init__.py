"""bark-omni-audioseal: AudioSeal as an optional bark-omni watermarker (see the README).

``embed(audio, sr, payload, models=None)`` / ``detect(audio, sr, models=None)`` use the local weights (or the
``models`` given, e.g. ``models.tiny_models()`` in tests). torch and AudioSeal load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _models(models: Any) -> Any:
    from bark_omni.errors import ModelNotFoundError

    from .models import WEIGHTS_ENV, load_models, weights_dir

    if models is not None:
        return models
    folder = weights_dir()
    if folder is None:
        raise ModelNotFoundError(f"AudioSeal's weights are not here; put them in ${WEIGHTS_ENV} (see the plugin README)")
    return load_models(str(folder))


def embed(audio: Any, sample_rate: int, payload: int, models: Any = None) -> Any:
    from .scheme import embed as run

    return run(audio, sample_rate, payload, _models(models))


def detect(audio: Any, sample_rate: int, models: Any = None, threshold: float = 0.5) -> Any:
    from .scheme import detect as run

    return run(audio, sample_rate, _models(models), threshold=threshold)


__all__ = ["detect", "embed"]
