"""The provenance manifest: a JSON file beside each output that says exactly how it was made.

``<audio>.manifest.json`` holds the input hashes, the seed, every parameter, the base model's fingerprint, the
decoder and its options, the adapter and plugin versions, timings and the watermark payload; enough for
``bark-omni replay`` to regenerate the same audio bit for bit on the same device.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bark_omni.files import sha256_file

MANIFEST_VERSION = 1
SUFFIX = ".manifest.json"


def manifest_path_for(audio_path: Path) -> Path:
    return Path(audio_path).with_name(Path(audio_path).name + SUFFIX)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()




def array_sha256(array: Any) -> str:
    """Hash of an array's dtype, shape and little-endian bytes (stable across machines)."""
    a = np.ascontiguousarray(np.asarray(array))
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return sha256_bytes(f"{a.dtype.str}{a.shape}".encode() + a.tobytes())


def generation_id(audio: np.ndarray) -> str:
    """A content address of the generated audio (float32), shared by the manifest and telemetry events."""
    return array_sha256(np.asarray(audio, dtype=np.float32))[:16]


def sha256_tree(path: Path) -> str:
    """Hash of a directory: every file's relative name and content, in sorted order."""
    digest = hashlib.sha256()
    for item in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        digest.update(str(item.relative_to(path)).encode() + b"\0" + sha256_file(item).encode())
    return digest.hexdigest()


def _describe_input(value: Any) -> dict[str, Any] | None:
    """A JSON description of an input: a path (with its file's hash) is replayable, an in-memory value is not."""
    if value is None:
        return None
    if isinstance(value, (str, Path)) and Path(value).is_file():
        return {"path": str(Path(value).resolve()), "sha256": sha256_file(Path(value)), "replayable": True}
    if isinstance(value, (str, Path)) and Path(value).is_dir():
        return {"path": str(Path(value).resolve()), "sha256": sha256_tree(Path(value)), "replayable": True}
    if isinstance(value, str):
        return {"name": value, "replayable": True}
    if isinstance(value, dict):
        return {"sha256": sha256_bytes("".join(f"{k}:{array_sha256(v)}" for k, v in sorted(value.items())).encode()),
                "replayable": False}
    if isinstance(value, np.ndarray):
        return {"sha256": array_sha256(value), "shape": list(value.shape), "replayable": False}
    text = json.dumps(value, sort_keys=True, default=repr)
    return {"value": json.loads(text), "sha256": sha256_bytes(text.encode()), "replayable": True}


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _plugin_versions(active: list[str] | None) -> list[dict[str, str]]:
    from bark_omni.host import ENTRY_POINT_GROUP

    rows = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        rows.append({"name": ep.name, "distribution": dist.name if dist else "", "version": dist.version if dist else "",
                     "active": active is None or ep.name in active})
    return rows


def build_manifest(audio_path: Path, request: Any, result: Any, file_sha256: str | None = None) -> dict[str, Any]:
    """Everything about one generation (see the module docstring). ``file_sha256`` is the hash of the audio file's
    bytes; without it ``audio_path`` must exist and is hashed."""
    import bark_omni

    audio_path = Path(audio_path)
    modalities = request.modalities
    extras = result.extras
    active = extras.get("plugins")
    inputs = {"text_sha256": sha256_bytes(request.text.encode("utf-8")) if isinstance(request.text, str) else None,
              "history_prompt": _describe_input(request.history_prompt),
              "adapters": _describe_input(extras.get("adapters"))}
    if modalities is not None:
        inputs.update(style_text=modalities.style_text,
                      reference_audio=_describe_input(modalities.reference_audio),
                      image=_describe_input(modalities.image),
                      control_events=_describe_input(modalities.control_events),
                      priorities=dict(modalities.priorities))
    versions = {"bark_omni": bark_omni.__version__, "python": platform.python_version(), "numpy": np.__version__}
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return {
        "manifest_version": MANIFEST_VERSION,
        "generation_id": generation_id(result.audio),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "audio": {"file": audio_path.name, "file_sha256": file_sha256 or sha256_file(audio_path),
                  "float32_sha256": array_sha256(np.asarray(result.audio, dtype=np.float32)),
                  "sample_rate": result.sample_rate, "samples": int(len(result.audio)),
                  "duration_s": round(len(result.audio) / result.sample_rate, 4)},
        "request": {"text": request.text, "seed": request.seed, "model": request.model, "decoder": request.decoder,
                    "params": _json_safe(request.options.as_dict()),
                    "longform": _json_safe(request.longform.as_dict()) if getattr(request, "longform", None) else None},
        "segments": _json_safe(extras.get("segments")),  # long-form: each segment's text, seed, samples, token hashes
        "inputs": inputs,
        "routes": _json_safe(extras.get("routes") or []),  # training-free routes: modality, route, what it did
        "model": {"name": request.model, "fingerprint": result.model_fingerprint},
        "decoder": {"name": request.decoder, "sample_rate": result.sample_rate,
                    "options": _json_safe(extras.get("decoder_options") or {})},
        "device": extras.get("device"),
        "tokens_sha256": {name: array_sha256(getattr(result, name)) for name in ("semantic", "coarse", "fine")},
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
        "watermark": extras.get("watermark"),
        "safety": {"guardrails": active is None or "guardrails" in active,
                   "watermark": extras.get("watermark") is not None,
                   "notes": list(getattr(result, "safety_notes", []))},
        "plugins": _plugin_versions(active),
        "versions": versions,
    }


def manifest_bytes(audio_path: Path, request: Any, result: Any, file_sha256: str | None = None) -> bytes:
    """The manifest file's content (UTF-8 JSON)."""
    data = build_manifest(Path(audio_path), request, result, file_sha256=file_sha256)
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_manifest(audio_path: Path, request: Any, result: Any) -> Path:
    """Write the manifest beside an audio file already in place (atomically) and return its path. Saving a
    generation (``result.save``, the CLI) writes both together instead, through the ``sidecar_files`` hook."""
    from bark_omni.files import atomic_output

    path = manifest_path_for(Path(audio_path))
    data = manifest_bytes(Path(audio_path), request, result)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def load_manifest(path: Path) -> dict[str, Any]:
    from bark_omni.errors import InvalidInputError

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist; pass the .manifest.json written beside a generated file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not a JSON manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise InvalidInputError(f"{path} is not a bark-omni manifest of version {MANIFEST_VERSION}")
    return data
