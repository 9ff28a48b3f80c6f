"""The AudioSeal plugin: registers the ``audioseal`` watermarker when AudioSeal's weights are present locally.

It ranks below the keyed patchwork mark (priority 5 < 10): pick it with ``BARK_OMNI_WATERMARKER=audioseal``.
The payload is the watermark plugin's per-request payload when that plugin is installed, else a request hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bark_omni.hookspecs import hookimpl


def _payload(request: Any) -> int:
    try:
        from bark_omni_watermark.plugin import payload_for
    except ImportError:
        return int.from_bytes(hashlib.sha256(repr(request.text).encode("utf-8")).digest()[:2], "big")
    return payload_for(request)


def mark(audio: Any, sample_rate: int, request: Any) -> tuple[Any, dict[str, Any]]:
    from . import _models
    from .scheme import SCHEME, embed

    models = _models(None)
    payload = _payload(request)
    return embed(audio, sample_rate, payload, models), {
        "scheme": SCHEME, "payload": payload, "payload_hex": f"0x{payload:04x}", "weights": models.source,
        "key_id": None, "key_public": True,
        "note": "AudioSeal has no key: anyone with its public models can detect or forge this mark"}


def _detect(audio: Any, sample_rate: int, key: Any = None, threshold: float = 1e-3) -> Any:
    """AudioSeal's detection (no key; its score is a probability, not a p-value, so ``threshold`` is not used:
    the detector's own 0.5 applies; bench/watermark_robustness.py measures its false-positive rate)."""
    from . import detect

    return detect(audio, sample_rate)


@hookimpl
def register_watermarkers(register: Any) -> None:
    from bark_omni.specs import WatermarkerSpec

    from .models import weights_dir

    if weights_dir() is not None:
        register(WatermarkerSpec(name="audioseal", apply=mark, priority=5, package="bark-omni-audioseal",
                                 description="AudioSeal neural watermark (16 bits, no key)", detect=_detect))
