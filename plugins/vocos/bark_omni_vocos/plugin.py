"""Registers the ``vocos`` decoder: Bark's 6 kbps tokens through Vocos' ConvNeXt backbone and inverse STFT."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bark_omni.constants import CODEBOOK_SIZE, N_FINE_CODEBOOKS, SAMPLE_RATE
from bark_omni.errors import InvalidInputError
from bark_omni.hookspecs import hookimpl
from bark_omni.specs import DecoderSpec

if TYPE_CHECKING:  # pragma: no cover - numpy is not imported at CLI start-up
    import numpy as np

OPTIONS = ("weights",)


@functools.lru_cache(maxsize=2)
def _cached_vocos(directory: str, mtime_ns: int, codec: Any, device: str) -> tuple[Any, int]:
    from .weights import load_vocos

    return load_vocos(Path(directory), codec, device)


def load_vocos_decoder(models: Any, options: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """``DecoderSpec.load``: find and load Vocos once per process; decode through Bark's codec latents."""
    from .weights import WEIGHTS_FILE, locate_vocos

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InvalidInputError(f"unknown vocos decoder option(s) {', '.join(unknown)}; accepted: {', '.join(OPTIONS)}")
    weights = options.get("weights")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise InvalidInputError(f"vocos decoder option weights must be a folder path, got {type(weights).__name__}")
    directory = locate_vocos(weights).resolve()
    vocos, band = _cached_vocos(str(directory), (directory / WEIGHTS_FILE).stat().st_mtime_ns, models.codec,
                                str(models.device))

    def decode(fine_tokens: np.ndarray) -> np.ndarray:
        import numpy as np
        import torch

        fine = np.asarray(fine_tokens)
        if fine.ndim != 2 or fine.shape[0] != N_FINE_CODEBOOKS or not np.issubdtype(fine.dtype, np.integer) \
                or fine.size == 0 or fine.min() < 0 or fine.max() >= CODEBOOK_SIZE:
            raise InvalidInputError(f"the vocos decoder takes integer fine tokens in [0, {CODEBOOK_SIZE}) of shape "
                                    f"({N_FINE_CODEBOOKS}, T>0), got {fine.dtype} {fine.shape}")
        from bark_omni.loop import codec_latents

        device = next(vocos.parameters()).device
        with torch.inference_mode():
            latents = codec_latents(models.codec, fine.astype(np.int64)).to(device)  # (1, 128, T): Vocos' features
            audio = vocos.decode(latents, bandwidth_id=torch.tensor([band], device=device))
        return audio.squeeze(0).float().cpu().numpy()

    return decode


@hookimpl
def register_decoders(register: Callable[[DecoderSpec], None]) -> None:
    register(DecoderSpec(
        name="vocos", sample_rate=SAMPLE_RATE, latency="realtime", bitrate_kbps=6.0, load=load_vocos_decoder,
        description="Vocos (vocos-encodec-24khz): fewer EnCodec artefacts at EnCodec's speed", package="bark-omni-vocos",
    ))
