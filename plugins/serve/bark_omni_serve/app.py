"""The FastAPI app: ``create_app(ServeConfig(...))``.

FastAPI reads the route functions' annotations, so this module imports fastapi at the top (it is imported only
when serving). Routes: ``POST /v1/audio/speech`` (OpenAI's speech API plus bark-omni's fields, JSON or multipart), ``GET
/v1/models``, ``GET /v1/voices``, ``GET /v1/manifests/{id}``, ``GET /healthz``. Every error is one line of
JSON, ``{"error": {"message": ..., "type": ...}}``, with a 4xx status for anything the client can fix; no
traceback ever leaves the server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bark_omni.errors import BarkOmniError

from .batching import Batcher, Overloaded, Work
from .config import OPENAI_VOICES, ServeConfig
from .engine import Answer, Engine, error_type
from .formats import MEDIA_TYPES, supported
from .speech import FILE_FIELDS, form_fields, parse_speech

logger = logging.getLogger("bark_omni_serve")
EXPOSED = ["X-Bark-Omni-Manifest-Id", "X-Bark-Omni-Manifest-Sha256", "X-Bark-Omni-Audio-Sha256",
           "X-Bark-Omni-Watermark", "X-Bark-Omni-Batch-Size", "Link"]


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


class ClientGone(Exception):
    """The client disconnected while its request waited."""


def error_body(message: str, kind: str) -> dict[str, Any]:
    line = " ".join(str(message).split())[:300]
    return {"error": {"message": line, "type": kind, "param": None, "code": None}}


def create_app(config: ServeConfig, engine: Engine | None = None, *, warm_up: bool = False,
               batcher: Batcher | None = None) -> Any:
    """The server's ASGI app. Refuses (``BarkOmniError``) an unsafe configuration before anything is served.
    ``batcher``: another queue with ``Batcher``'s interface (Ray Serve's, in ``ray_app``)."""
    config.check_bind()
    engine = engine if engine is not None else Engine(config)
    for line in engine.check_safety():
        logger.warning("bark-omni serve: %s", line)
    if batcher is None:
        batcher = Batcher(engine.run_jobs, max_batch=config.max_batch, wait_ms=config.batch_wait_ms,
                          max_queue=config.max_queue, batching=config.batching)
    app = FastAPI(title="bark-omni serve", lifespan=lifespan(engine, batcher, config, warm_up))
    app.state.engine, app.state.batcher, app.state.config = engine, batcher, config
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=EXPOSED)
    add_error_handlers(app)
    add_routes(app, Service(config, engine, batcher))
    app.state.routes_ready = True
    return app


def lifespan(engine: Engine, batcher: Batcher, config: ServeConfig, warm_up: bool) -> Any:
    @asynccontextmanager
    async def span(app: Any):
        if warm_up:
            await asyncio.get_running_loop().run_in_executor(batcher._executor, engine.warm_up)
        await batcher.start()
        yield
        await batcher.close(config.drain_timeout_s)

    return span


def fail(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(error_body(message, kind), status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid request')}"


def add_error_handlers(app: Any) -> None:
    """Every error leaves as one line of JSON; 4xx for what the client can fix, 500 (logged here) otherwise."""
    def internal(request: Request, exc: Exception) -> Any:
        logger.exception("bark-omni serve: internal error on %s", request.url.path)
        return fail(500, f"internal error ({type(exc).__name__}); the server logged it", "server_error")

    answers = {
        ApiError: lambda request, exc: fail(exc.status, str(exc), exc.kind, exc.headers),
        BarkOmniError: lambda request, exc: fail(error_type(exc)[0], str(exc), error_type(exc)[1]),
        RequestValidationError: lambda request, exc: fail(400, validation_message(exc), "invalid_request_error"),
        StarletteHTTPException: lambda request, exc: fail(
            exc.status_code, str(exc.detail), "not_found_error" if exc.status_code == 404 else "invalid_request_error"),
        ClientGone: lambda request, exc: fail(499, "the client closed the connection; its queued work was cancelled",
                                              "cancelled"),
        Exception: internal,
    }
    for kind, answer in answers.items():
        app.add_exception_handler(kind, as_async(answer))


def as_async(answer: Any) -> Any:
    async def handler(request: Request, exc: Exception) -> Any:
        return answer(request, exc)

    return handler


def add_routes(app: Any, service: Service) -> None:
    app.get("/healthz")(service.healthz)
    app.get("/v1/models")(service.models)
    app.get("/v1/voices")(service.voices)
    app.get("/v1/manifests/{manifest_id}")(service.manifest)
    app.post("/v1/audio/speech")(service.speech)


class Service:
    """What the routes do, with the server's configuration, engine and queue."""

    def __init__(self, config: ServeConfig, engine: Engine, batcher: Batcher) -> None:
        self.config, self.engine, self.batcher = config, engine, batcher

    def authorize(self, request: Request) -> None:
        if not self.config.api_keys:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.strip().encode(), k.encode())
                                                 for k in self.config.api_keys):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "authentication_error",
                           {"WWW-Authenticate": "Bearer"})

    async def healthz(self) -> dict[str, Any]:
        batcher = self.batcher
        return {"ok": not batcher.closing, "queued": len(batcher.pending), "inflight": len(batcher.inflight)}

    async def models(self, request: Request) -> dict[str, Any]:
        self.authorize(request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "bark-omni"}
                                           for name in self.config.model_ids]}

    async def voices(self, request: Request) -> dict[str, Any]:
        self.authorize(request)
        from bark_omni.prompts import preset_names

        return {"named": sorted(self.config.voices), "openai": dict(OPENAI_VOICES), "presets": preset_names(),
                "response_formats": list(supported())}

    async def manifest(self, manifest_id: str, request: Request) -> Any:
        self.authorize(request)
        known, data = self.engine.manifests.get(manifest_id)
        if not known:
            raise ApiError(404, f"no manifest {manifest_id[:40]} on this server (it keeps the last "
                                f"{self.config.manifests_kept})", "not_found_error")
        if data is None:
            raise ApiError(409, "this manifest is not ready: its stream is still running; retry when it ends",
                           "conflict_error")
        return Response(data, media_type="application/json")

    async def speech(self, request: Request) -> Any:
        self.authorize(request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.config.max_body_bytes:
            raise ApiError(413, f"the request body is {length} bytes; this server takes up to {self.config.max_body_bytes}")
        body, files = await self.read_body(request)
        loop = asyncio.get_running_loop()
        job = await loop.run_in_executor(None, parse_speech, body, self.config, self.engine.host, files)
        try:
            await loop.run_in_executor(None, self.guardrails, job)
            if job.stream:
                return await self.stream_response(request, job)
            work = self.enqueue(lambda: self.batcher.submit(job))
            answer = await self.wait(request, work, work.future)
            return Response(answer.body, media_type=MEDIA_TYPES[answer.media_format], headers=answer_headers(answer))
        finally:
            if not job.stream:
                job.uploads.remove()

    def guardrails(self, job: Any) -> None:
        from bark_omni.api import check_request

        check_request(self.engine.host, job.request)  # a refusal is a 400 before the job takes a place in the queue

    def enqueue(self, submit: Any) -> Work:
        try:
            return submit()
        except Overloaded as exc:
            raise ApiError(exc.status, str(exc), "overloaded_error", {"Retry-After": "1"}) from None

    async def read_body(self, request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await self.read_form(request)
        limit = self.config.max_body_bytes
        raw = await request.body()
        if len(raw) > limit:
            raise ApiError(413, f"the request body is over this server's limit of {limit} bytes")
        try:
            body = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the body must be JSON (or a multipart form): {\"model\": ..., \"input\": ...}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object such as {\"input\": \"Hello.\", \"voice\": \"alloy\"}")
        return body, {}

    async def read_form(self, request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        limit = self.config.max_upload_bytes
        form = await request.form(max_files=len(FILE_FIELDS), max_fields=64, max_part_size=limit)
        fields, files = form_fields(form)
        for name, value in form.multi_items():
            if isinstance(value, str):
                continue
            if name not in FILE_FIELDS:
                raise ApiError(400, f"file field {name[:40]!r} is not one this server takes ({', '.join(FILE_FIELDS)})")
            data = await value.read(limit + 1)
            if len(data) > limit:
                raise ApiError(413, f"{name} is over this server's upload limit of {limit} bytes")
            files[name] = data
        return fields, files

    async def wait(self, request: Request, work: Work, awaitable: Any) -> Any:
        """``awaitable``'s result, watching for the client leaving (its queued work is then cancelled)."""
        task = asyncio.ensure_future(awaitable)
        deadline = asyncio.get_running_loop().time() + self.config.request_timeout_s
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.1)
                if done:
                    return task.result()
                if await request.is_disconnected():
                    self.batcher.cancel(work)
                    raise ClientGone()
                if asyncio.get_running_loop().time() > deadline:
                    self.batcher.cancel(work)
                    raise ApiError(504, f"the request took over {self.config.request_timeout_s:g} s", "timeout_error")
        except asyncio.CancelledError:
            self.batcher.cancel(work)
            raise
        except Overloaded as exc:
            raise ApiError(exc.status, str(exc), "overloaded_error", {"Retry-After": "1"}) from None

    async def stream_response(self, request: Request, job: Any) -> Any:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        manifest_id = self.engine.manifests.reserve()

        def produce(cancel: threading.Event) -> str:
            emit = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)  # noqa: E731
            return run_stream(self.engine, job, manifest_id, cancel, emit)

        work = self.enqueue(lambda: self.batcher.submit_stream(job, produce))
        first = await self.wait(request, work, queue.get())
        if isinstance(first, BaseException):
            job.uploads.remove()
            raise first
        headers = {"X-Bark-Omni-Manifest-Id": manifest_id, "Link": f'</v1/manifests/{manifest_id}>; rel="describedby"'}
        return StreamingResponse(stream_body(first, queue, work, job), media_type=MEDIA_TYPES[job.response_format],
                                 headers=headers)


async def stream_body(first: Any, queue: asyncio.Queue, work: Work, job: Any) -> Any:
    item = first
    try:
        while item is not None:
            if isinstance(item, BaseException):
                logger.error("bark-omni serve: stream failed after its first bytes: %s", item)
                return  # the body ends early; the manifest stays pending (409) and says nothing false
            yield item
            item = await queue.get()
    finally:
        work.cancel.set()
        job.uploads.remove()


def answer_headers(answer: Answer) -> dict[str, str]:
    headers = {"X-Bark-Omni-Manifest-Id": answer.manifest_id, "X-Bark-Omni-Manifest-Sha256": answer.manifest_sha256,
               "X-Bark-Omni-Audio-Sha256": answer.audio_sha256, "X-Bark-Omni-Batch-Size": str(answer.batch_size),
               "Link": f'</v1/manifests/{answer.manifest_id}>; rel="describedby"'}
    if answer.watermark:
        mark = {k: answer.watermark[k] for k in ("watermarker", "payload_hex", "key_id") if k in answer.watermark}
        headers["X-Bark-Omni-Watermark"] = json.dumps(mark, separators=(",", ":"))
    return headers


def run_stream(engine: Engine, job: Any, manifest_id: str, cancel: threading.Event, emit: Any) -> str:
    """On the generation thread: the stream's bytes to ``emit`` (WAV header first for ``wav``), then ``None``;
    an error is emitted instead. When it ends, the manifest of exactly the bytes sent is stored."""
    import numpy as np

    from bark_omni.streaming import pcm16, wav_stream_header

    sent: list[bytes] = []
    parts: list[Any] = []
    rate = 0
    try:
        for chunk in engine.stream(job):
            if cancel.is_set():
                return manifest_id
            rate = chunk.sample_rate
            data = pcm16(chunk.samples)
            if not sent and job.response_format == "wav":
                data = wav_stream_header(chunk.sample_rate) + data
            if data:
                sent.append(data)
                parts.append(chunk.samples)
                emit(data)
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        result = engine.stream_result(job, audio, rate)
        engine.manifest(job, result, b"".join(sent), manifest_id,
                        extra={"tokens": "not kept for streamed responses (the tokens_sha256 above are of empty arrays)"})
        emit(None)
    except BaseException as exc:  # the waiting request answers with it
        emit(exc)
    return manifest_id
