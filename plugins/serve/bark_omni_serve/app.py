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

    @asynccontextmanager
    async def lifespan(app: Any):
        if warm_up:
            await asyncio.get_running_loop().run_in_executor(batcher._executor, engine.warm_up)
        await batcher.start()
        yield
        await batcher.close(config.drain_timeout_s)

    app = FastAPI(title="bark-omni serve", lifespan=lifespan)
    app.state.engine, app.state.batcher, app.state.config = engine, batcher, config
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=EXPOSED)

    def fail(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Any:
        return JSONResponse(error_body(message, kind), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Any:
        return fail(exc.status, str(exc), exc.kind, exc.headers)

    @app.exception_handler(BarkOmniError)
    async def on_bark_error(request: Request, exc: BarkOmniError) -> Any:
        status, kind = error_type(exc)
        return fail(status, str(exc), kind)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return fail(400, f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Any:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return fail(exc.status_code, str(exc.detail), kind)

    @app.exception_handler(ClientGone)
    async def on_gone(request: Request, exc: ClientGone) -> Any:
        return fail(499, "the client closed the connection; its queued work was cancelled", "cancelled")

    @app.exception_handler(Exception)
    async def on_anything(request: Request, exc: Exception) -> Any:
        logger.exception("bark-omni serve: internal error on %s", request.url.path)
        return fail(500, f"internal error ({type(exc).__name__}); the server logged it", "server_error")

    def authorize(request: Request) -> None:
        if not config.api_keys:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.strip().encode(), k.encode())
                                                 for k in config.api_keys):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "authentication_error",
                           {"WWW-Authenticate": "Bearer"})

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": not batcher.closing, "queued": len(batcher.pending), "inflight": len(batcher.inflight)}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "bark-omni"}
                                           for name in config.model_ids]}

    @app.get("/v1/voices")
    async def voices(request: Request) -> dict[str, Any]:
        authorize(request)
        from bark_omni.prompts import preset_names

        return {"named": sorted(config.voices), "openai": dict(OPENAI_VOICES), "presets": preset_names(),
                "response_formats": list(supported())}

    @app.get("/v1/manifests/{manifest_id}")
    async def manifest(manifest_id: str, request: Request) -> Any:
        authorize(request)
        known, data = engine.manifests.get(manifest_id)
        if not known:
            raise ApiError(404, f"no manifest {manifest_id[:40]} on this server (it keeps the last "
                                f"{config.manifests_kept})", "not_found_error")
        if data is None:
            raise ApiError(409, "this manifest is not ready: its stream is still running; retry when it ends",
                           "conflict_error")
        return Response(data, media_type="application/json")

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Any:
        authorize(request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
            raise ApiError(413, f"the request body is {length} bytes; this server takes up to {config.max_body_bytes}")
        body, files = await read_body(request)
        loop = asyncio.get_running_loop()
        job = await loop.run_in_executor(None, parse_speech, body, config, engine.host, files)
        try:
            await loop.run_in_executor(None, guardrails, job)
            if job.stream:
                return await stream_response(request, job)
            work = enqueue(lambda: batcher.submit(job))
            answer = await wait(request, work, work.future)
            return Response(answer.body, media_type=MEDIA_TYPES[answer.media_format], headers=answer_headers(answer))
        finally:
            if not job.stream:
                job.uploads.remove()

    def guardrails(job: Any) -> None:
        from bark_omni.api import check_request

        check_request(engine.host, job.request)  # a refusal is a 400 before the job takes a place in the queue

    def enqueue(submit: Any) -> Work:
        try:
            return submit()
        except Overloaded as exc:
            raise ApiError(exc.status, str(exc), "overloaded_error", {"Retry-After": "1"}) from None

    async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            form = await request.form(max_files=len(FILE_FIELDS), max_fields=64, max_part_size=config.max_upload_bytes)
            fields, files = form_fields(form)
            for name, value in form.multi_items():
                if isinstance(value, str):
                    continue
                if name not in FILE_FIELDS:
                    raise ApiError(400, f"file field {name[:40]!r} is not one this server takes ({', '.join(FILE_FIELDS)})")
                data = await value.read(config.max_upload_bytes + 1)
                if len(data) > config.max_upload_bytes:
                    raise ApiError(413, f"{name} is over this server's upload limit of {config.max_upload_bytes} bytes")
                files[name] = data
            return fields, files
        raw = await request.body()
        if len(raw) > config.max_body_bytes:
            raise ApiError(413, f"the request body is over this server's limit of {config.max_body_bytes} bytes")
        try:
            body = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the body must be JSON (or a multipart form): {\"model\": ..., \"input\": ...}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object such as {\"input\": \"Hello.\", \"voice\": \"alloy\"}")
        return body, {}

    async def wait(request: Request, work: Work, awaitable: Any) -> Any:
        """``awaitable``'s result, watching for the client leaving (its queued work is then cancelled)."""
        task = asyncio.ensure_future(awaitable)
        deadline = asyncio.get_running_loop().time() + config.request_timeout_s
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.1)
                if done:
                    return task.result()
                if await request.is_disconnected():
                    batcher.cancel(work)
                    raise ClientGone()
                if asyncio.get_running_loop().time() > deadline:
                    batcher.cancel(work)
                    raise ApiError(504, f"the request took over {config.request_timeout_s:g} s", "timeout_error")
        except asyncio.CancelledError:
            batcher.cancel(work)
            raise
        except Overloaded as exc:
            raise ApiError(exc.status, str(exc), "overloaded_error", {"Retry-After": "1"}) from None

    async def stream_response(request: Request, job: Any) -> Any:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        manifest_id = engine.manifests.reserve()

        def produce(cancel: threading.Event) -> str:
            return run_stream(engine, job, manifest_id, cancel, lambda item: loop.call_soon_threadsafe(queue.put_nowait, item))

        work = enqueue(lambda: batcher.submit_stream(job, produce))
        first = await wait(request, work, queue.get())
        if isinstance(first, BaseException):
            job.uploads.remove()
            raise first

        async def body():
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

        headers = {"X-Bark-Omni-Manifest-Id": manifest_id, "Link": f'</v1/manifests/{manifest_id}>; rel="describedby"'}
        return StreamingResponse(body(), media_type=MEDIA_TYPES[job.response_format], headers=headers)

    app.state.routes_ready = True
    return app


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
