"""Registers the ``mbd`` decoder: slow, high-fidelity 24 kHz audio from the same 6 kbps tokens."""

from __future__ import annotations

from typing import Any, Callable

from bark_omni.constants import SAMPLE_RATE
from bark_omni.hookspecs import hookimpl
from bark_omni.specs import DecoderSpec


def load_mbd_decoder(models: Any, options: dict[str, Any]) -> Callable[[Any], Any]:
    """``DecoderSpec.load``: check the options, find the weights, load the bands (once per process)."""
    from .audiocraft_support import require_audiocraft
    from .decoder import MBDDecoder
    from .options import MBDOptions
    from .package import load_diffusion_processes
    from .weights import locate_weights

    parsed = MBDOptions.parse(options)
    require_audiocraft()  # before locating, which may download ~2.6 GB
    processes = load_diffusion_processes(locate_weights(parsed.weights), models.device)
    return MBDDecoder(models.codec, processes, parsed)


@hookimpl
def register_decoders(register: Callable[[DecoderSpec], None]) -> None:
    register(DecoderSpec(
        name="mbd", sample_rate=SAMPLE_RATE, latency="slow", bitrate_kbps=6.0, load=load_mbd_decoder,
        description="MultiBandDiffusion (audiocraft, mbd_comp_8.pt): cleaner audio from the same tokens, slowly",
        package="bark-omni-mbd",
    ))
