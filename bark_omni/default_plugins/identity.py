"""The innermost ``postprocess_audio``: returns the audio unchanged, so wrappers always have a result to wrap."""

from __future__ import annotations

import numpy as np

from bark_omni.hookspecs import hookimpl


@hookimpl(trylast=True)
def postprocess_audio(audio: np.ndarray, sample_rate: int, request: object) -> np.ndarray:
    return audio
