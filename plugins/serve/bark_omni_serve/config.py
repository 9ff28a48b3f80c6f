"""The server's settings: one frozen record, checked when it is made. No heavy imports."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping

from bark_omni.errors import InvalidInputError

LOOPBACK_NAMES = ("localhost",)
OPENAI_VOICES = {  # OpenAI's voice names, so that existing clients work unchanged: each is one of Bark's presets
    "alloy": "v2/en_speaker_6", "echo": "v2/en_speaker_1", "fable": "v2/en_speaker_2", "onyx": "v2/en_speaker_3",
    "nova": "v2/en_speaker_9", "shimmer": "v2/en_speaker_4", "ash": "v2/en_speaker_5", "coral": "v2/en_speaker_7",
    "sage": "v2/en_speaker_8", "ballad": "v2/en_speaker_0", "verse": "v2/en_speaker_0",
}
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""OpenAI's speech model names, accepted as aliases of the server's model."""


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` serves this machine only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """What the server serves and its limits. ``api_keys`` empty means no authentication, which only a
    loopback ``host`` allows (``check_bind``)."""

    model: str = "bark"
    device: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    voices: Mapping[str, str] = field(default_factory=dict)
    """Named voice prompts: name -> .npz path chosen by the operator (requests name them, never a path)."""
    adapters: Mapping[str, str] = field(default_factory=dict)
    """The adapter sets requests may name: name -> directory chosen by the operator."""
    max_batch: int = 8
    batch_wait_ms: float = 20.0
    max_queue: int = 32
    max_input_chars: int = 4096
    max_body_bytes: int = 16 << 20
    max_upload_bytes: int = 8 << 20
    max_duration_s: float = 30.0
    """Longest audio one request may ask for (its ``max_gen_duration_s``; the default when it gives none)."""
    request_timeout_s: float = 600.0
    drain_timeout_s: float = 30.0
    manifests_kept: int = 1024
    batching: bool = True
    allow_public_key: bool = False
    allow_unmarked: bool = False
    """Serve without a watermarker or a manifest writer (a loud warning on start-up and in every manifest)."""

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_input_chars", "max_body_bytes", "max_upload_bytes", "manifests_kept"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer; got {value!r}")
        for name in ("batch_wait_ms", "max_duration_s", "request_timeout_s", "drain_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise InvalidInputError(f"{name} must be a number >= 0; got {value!r}")
        if any(not isinstance(k, str) or len(k) < 8 for k in self.api_keys):
            raise InvalidInputError("every API key must be a string of at least 8 characters")

    def check_bind(self) -> None:
        """Refuse to serve without API keys on anything but this machine."""
        if not self.api_keys and not is_loopback(self.host):
            raise InvalidInputError(f"refusing to serve on {self.host} without API keys: pass --api-key KEY (or "
                                    "BARK_OMNI_SERVE_API_KEYS), or bind to 127.0.0.1")

    @property
    def model_ids(self) -> tuple[str, ...]:
        return (self.model, *OPENAI_MODELS)
