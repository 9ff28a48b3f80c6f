"""The model side of the server: safety checks at start-up, generation of a batch of jobs, streaming one job,
and the provenance manifest of every response (kept in a bounded store, ``GET /v1/manifests/{id}``).

``Engine.generate`` / ``Engine.stream`` are the only calls into the model; everything else (encoding, manifests,
the batcher) is shared, so a test can replace those two with a cheap stand-in and keep the rest real.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from bark_omni.errors import BarkOmniError, InvalidInputError

from .config import ServeConfig
from .formats import encode
from .speech import SpeechJob

logger = logging.getLogger("bark_omni_serve")
MANIFEST_SUFFIX = ".manifest.json"
EXTENSIONS = {"wav": "wav", "flac": "flac", "opus": "ogg", "mp3": "mp3", "aac": "aac", "pcm": "pcm"}


@dataclass
class Answer:
    """A finished response: its body and the manifest that describes those bytes."""

    body: bytes
    media_format: str
    manifest_id: str
    manifest_sha256: str
    audio_sha256: str
    watermark: dict[str, Any] | None = None
    batch_size: int = 1


@dataclass
class ManifestStore:
    """The last ``limit`` manifests by id; an id handed out for a running stream is pending until it ends."""

    limit: int = 1024
    items: "OrderedDict[str, bytes | None]" = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self) -> str:
        manifest_id = uuid.uuid4().hex
        with self.lock:
            self.items[manifest_id] = None
            self._trim()
        return manifest_id

    def put(self, manifest_id: str, data: bytes) -> None:
        with self.lock:
            self.items[manifest_id] = data
            self.items.move_to_end(manifest_id)
            self._trim()

    def get(self, manifest_id: str) -> tuple[bool, bytes | None]:
        """(known, data); data None while pending."""
        with self.lock:
            if manifest_id not in self.items:
                return False, None
            return True, self.items[manifest_id]

    def _trim(self) -> None:
        while len(self.items) > self.limit:
            self.items.popitem(last=False)


class Engine:
    """One model on one device, shared by every request of a server."""

    def __init__(self, config: ServeConfig, host: Any = None) -> None:
        from bark_omni.host import Host

        self.config = config
        self.host = host if host is not None else Host()
        self.manifests = ManifestStore(config.manifests_kept)
        self.key_id: str | None = None

    # start-up --------------------------------------------------------------------------------------------

    def check_safety(self) -> list[str]:
        """Refuse to serve unmarked or undocumented audio, or to sign with the public watermark key, unless the
        configuration says so; returns the warnings to print."""
        warnings = []
        spec = self.host.watermarker()
        if spec is None:
            if not self.config.allow_unmarked:
                raise InvalidInputError("no watermarker plugin is loaded: install bark-omni-watermark, or pass "
                                        "--allow-unmarked to serve unmarked audio")
            warnings.append("serving UNWATERMARKED audio (--allow-unmarked)")
        if not self.host.pm.hook.sidecar_files.get_hookimpls():
            if not self.config.allow_unmarked:
                raise InvalidInputError("no provenance plugin is loaded: install bark-omni-provenance, or pass "
                                        "--allow-unmarked to serve audio without manifests")
            warnings.append("serving audio WITHOUT provenance manifests (--allow-unmarked)")
        if spec is not None and "watermark" in self.host.plugins:
            try:
                from bark_omni_watermark import require_private_key
            except ImportError:  # pragma: no cover - another watermarker
                return warnings
            key = require_private_key(allow_public=self.config.allow_public_key)
            self.key_id = key.key_id
            if key.public:
                warnings.append("signing with the PUBLIC demo watermark key (--allow-public-key): marks prove nothing")
        return warnings

    def warm_up(self) -> None:
        """Load the model before the first request (so that request is not the one that pays for it)."""
        from bark_omni.models import load_models

        load_models(self.config.model, self.host, self.config.device)

    # generation ------------------------------------------------------------------------------------------

    def generate(self, jobs: list[SpeechJob]) -> list[Any]:
        """One ``GenerationResult`` per job (all share a batch key)."""
        from bark_omni.api import run, run_batch
        from bark_omni.longform import needs_segments

        first = jobs[0]
        call = dict(host=self.host, device=self.config.device, decoder_options=first.decoder_options,
                    adapters=first.adapters)
        if len(jobs) == 1 and needs_segments(first.request):
            return [run(first.request, **call)]
        return run_batch([job.request for job in jobs], **call)

    def stream(self, job: SpeechJob) -> Iterator[Any]:
        """``AudioChunk``s of one job, watermarked chunk by chunk."""
        from bark_omni.streaming import stream_request

        return stream_request(job.request, host=self.host, device=self.config.device,
                              decoder_options=job.decoder_options, adapters=job.adapters)

    def model_fingerprint(self) -> str:
        from bark_omni.models import load_models

        return load_models(self.config.model, self.host, self.config.device).fingerprint

    def run_jobs(self, jobs: list[SpeechJob]) -> list[Answer | BaseException]:
        """Generate, encode and document a batch; a batch that fails is retried one job at a time, so one bad
        job fails alone. Runs on the generation thread."""
        try:
            results = self.generate(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                return [exc]
            return [self.run_jobs([job])[0] for job in jobs]
        answers: list[Answer | BaseException] = []
        for job, result in zip(jobs, results):
            try:
                body = encode(result.audio, result.sample_rate, job.response_format)
                manifest_id = self.manifests.reserve()
                manifest = self.manifest(job, result, body, manifest_id)
                answers.append(Answer(body, job.response_format, manifest_id, hashlib.sha256(manifest).hexdigest(),
                                      hashlib.sha256(body).hexdigest(), result.extras.get("watermark"), len(jobs)))
            except Exception as exc:  # pragma: no cover - an encoder or a plugin failing for one job
                answers.append(exc)
        return answers

    def manifest(self, job: SpeechJob, result: Any, body: bytes, manifest_id: str, extra: dict | None = None) -> bytes:
        """The provenance manifest of ``body`` from the host's ``sidecar_files`` plugins (as ``save_generation``
        writes beside a file), with what the server adds; stored under ``manifest_id``."""
        result.extras.setdefault("plugins", sorted(self.host.plugins))
        name = f"speech-{manifest_id}.{EXTENSIONS[job.response_format]}"
        digest = hashlib.sha256(body).hexdigest()
        files: dict[str, bytes] = {}
        for made in self.host.pm.hook.sidecar_files(path=Path(name), audio_sha256=digest, request=job.request,
                                                    result=result):
            files.update(made or {})
        data = files.get(name + MANIFEST_SUFFIX)
        document = json.loads(data) if data else {"audio": {"file": name, "file_sha256": digest},
                                                  "note": "no provenance plugin is loaded (--allow-unmarked)"}
        document["served"] = {"manifest_id": manifest_id, "response_format": job.response_format,
                              "stream": job.stream, "batch_size": result.timings.get("batch_size", 1), **(extra or {})}
        blob = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self.manifests.put(manifest_id, blob)
        return blob

    def stream_result(self, job: SpeechJob, audio: Any, sample_rate: int) -> Any:
        """A ``GenerationResult`` for a streamed response (its tokens are not kept by the stream: empty here, and
        the manifest says so)."""
        import numpy as np

        from bark_omni.api import safety_notes
        from bark_omni.specs import GenerationResult

        spec = self.host.watermarker()
        mark = {"watermarker": spec.name, "applied": "to each streamed chunk"} if spec is not None else None
        if mark is not None and self.key_id:
            mark["key_id"] = self.key_id
        empty = np.zeros(0, dtype=np.int64)
        result = GenerationResult(semantic=empty, coarse=empty, fine=empty, audio=np.asarray(audio, dtype=np.float32),
                                  sample_rate=sample_rate, model_fingerprint=self.model_fingerprint(),
                                  safety_notes=safety_notes(self.host, mark), request=job.request, host=self.host)
        if mark is not None:
            result.extras["watermark"] = mark
        result.extras.update(device=self.config.device, decoder_options=job.decoder_options, adapters=job.adapters)
        return result


def error_type(exc: BaseException) -> tuple[int, str]:
    """HTTP status and OpenAI-style error type for an exception raised while serving."""
    from bark_omni.errors import MissingPluginError, RequestBlocked

    if isinstance(exc, RequestBlocked):
        return 400, "request_blocked"
    if isinstance(exc, (InvalidInputError, MissingPluginError)):
        return 400, "invalid_request_error"
    if isinstance(exc, BarkOmniError):
        return 500, "server_error"
    return 500, "server_error"
