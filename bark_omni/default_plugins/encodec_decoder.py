"""The built-in decoder: Bark's own EnCodec 24 kHz at 6 kbps (the fast path)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from bark_omni.constants import SAMPLE_RATE
from bark_omni.hookspecs import hookimpl
from bark_omni.specs import DecoderSpec

if TYPE_CHECKING:  # pragma: no cover - numpy is not imported at CLI start-up
    import numpy as np


def load_encodec_decoder(models: Any, options: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    if options:
        from bark_omni.errors import InvalidInputError

        raise InvalidInputError(f"the encodec decoder takes no options, got {sorted(options)}")

    def decode(fine_tokens: np.ndarray) -> np.ndarray:
        from bark_omni.loop import codec_decode

        return codec_decode(models.codec, fine_tokens)

    return decode


@hookimpl
def register_decoders(register: Callable[[DecoderSpec], None]) -> None:
    register(DecoderSpec(
        name="encodec", sample_rate=SAMPLE_RATE, latency="realtime", bitrate_kbps=6.0, load=load_encodec_decoder,
        description="EnCodec 24 kHz, 8 codebooks (Bark's own decoder)", package="bark-omni",
    ))
