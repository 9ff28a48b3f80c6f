"""``replay``: regenerate the audio a manifest describes and check that it is the same, bit for bit.

Same device, same versions and same plugins give the same samples (seeded generators, no global RNG). The
manifest's safety state is honoured: a generation made without watermark or guardrails is replayed without
them (and the host warns), so that the replay can match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.files import sha256_file

from .manifest import array_sha256, load_manifest, sha256_tree


@dataclass
class ReplayReport:
    identical: bool
    expected_sha256: str
    actual_sha256: str
    audio: np.ndarray
    sample_rate: int
    tokens_identical: bool
    differences: list[str]


def _input(described: dict[str, Any] | None, name: str) -> Any:
    from bark_omni.errors import InvalidInputError

    if described is None:
        return None
    if not isinstance(described, dict):
        raise InvalidInputError(f"the manifest's {name} entry must be an object; it is damaged: restore the original")
    if not described.get("replayable"):
        raise InvalidInputError(f"the manifest's {name} was an in-memory value; replay needs inputs saved as files")
    if "path" in described:
        path = Path(described["path"])
        if not path.exists():
            raise InvalidInputError(f"the manifest's {name} file {path} is gone; restore it to replay")
        if (sha256_tree(path) if path.is_dir() else sha256_file(path)) != described["sha256"]:
            raise InvalidInputError(f"the manifest's {name} file {path} has changed since generation (hash differs)")
        return str(path)
    return described.get("name", described.get("value"))


MANIFEST_FIELDS = {"request": dict, "request.params": dict, "request.seed": (int, type(None)),
                   "request.model": str, "request.decoder": str, "decoder": dict, "audio": dict,
                   "audio.float32_sha256": str, "model": dict, "model.fingerprint": str}
"""What replay reads from a manifest, and the JSON type each must have."""


def check_manifest(manifest: Any) -> None:
    """Refuse a manifest that lacks a field replay needs, or holds one of the wrong type, in one line."""
    from bark_omni.errors import InvalidInputError

    if not isinstance(manifest, dict):
        raise InvalidInputError("the manifest must be a JSON object written by bark-omni; regenerate it")
    for dotted, kind in MANIFEST_FIELDS.items():
        value: Any = manifest
        for part in dotted.split("."):
            value = value.get(part, KeyError) if isinstance(value, dict) else KeyError
        if value is KeyError:
            raise InvalidInputError(f"the manifest lacks {dotted!r}; it is damaged or not a bark-omni manifest")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInputError(f"the manifest's {dotted!r} has the wrong type ({type(value).__name__}); "
                                    "it is damaged: restore the original")
    for name in ("inputs", "tokens_sha256", "safety", "watermark"):
        if not isinstance(manifest.get(name, {}), dict) and not (name == "watermark" and manifest[name] is None):
            raise InvalidInputError(f"the manifest's {name!r} must be an object; it is damaged: restore the original")


def rebuild_request(manifest: dict[str, Any]) -> Any:
    """The ``GenerationRequest`` a manifest describes (validated like any request)."""
    from bark_omni.api import build_request
    from bark_omni.modality import ModalityBundle
    from bark_omni.options import GenerationOptions

    check_manifest(manifest)
    req, inputs = manifest["request"], manifest.get("inputs", {})
    options = GenerationOptions.from_kwargs(**req["params"])
    modalities = ModalityBundle(
        style_text=inputs.get("style_text"), reference_audio=_input(inputs.get("reference_audio"), "reference_audio"),
        image=_input(inputs.get("image"), "image"), control_events=_input(inputs.get("control_events"), "control_events"),
        priorities=inputs.get("priorities") or {},
    )
    return build_request(req.get("text"), _input(inputs.get("history_prompt"), "history_prompt"), options=options,
                         modalities=modalities, seed=req["seed"], model=req["model"], decoder=req["decoder"],
                         longform=req.get("longform"))


def replay(manifest_path: Path, *, device: str | None = None, host: Any = None, progress: Any = None) -> ReplayReport:
    """Regenerate and compare with the manifest (float32 samples and every stage's tokens)."""
    from bark_omni.api import run
    from bark_omni.host import Host

    manifest = load_manifest(Path(manifest_path))
    request = rebuild_request(manifest)
    if host is None:
        safety = manifest.get("safety", {})
        block = [name for name in ("guardrails", "watermark") if safety.get(name) is False]
        host = Host(block=block)
    adapters = _input(manifest.get("inputs", {}).get("adapters"), "adapters")
    result = run(request, host=host, device=device or manifest.get("device"),
                      decoder_options=manifest["decoder"].get("options") or None, adapters=adapters, progress=progress)
    audio = np.asarray(result.audio, dtype=np.float32)
    actual = array_sha256(audio)
    expected = manifest["audio"]["float32_sha256"]
    differences = [name for name, digest in manifest.get("tokens_sha256", {}).items()
                   if array_sha256(getattr(result, name)) != digest]
    if result.model_fingerprint != manifest["model"]["fingerprint"]:
        differences.append("model fingerprint")
    if (result.extras.get("watermark") or {}).get("key_id") != (manifest.get("watermark") or {}).get("key_id"):
        differences.append("watermark key")
    if actual != expected:
        differences.append("audio")
    return ReplayReport(identical=actual == expected, expected_sha256=expected, actual_sha256=actual, audio=audio,
                        sample_rate=result.sample_rate, tokens_identical=not any(
                            d in ("semantic", "coarse", "fine") for d in differences), differences=differences)
