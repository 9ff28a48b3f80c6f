"""The innermost ``postprocess_audio``: returns the audio unchanged, so wrappers always have a result to wrap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bark_omni.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover - numpy is not imported at CLI start-up
    import numpy as np


@hookimpl(trylast=True)
def postprocess_audio(audio: np.ndarray, sample_rate: int, request: object) -> np.ndarray:
    return audio
