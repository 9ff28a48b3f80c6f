"""Fixtures: a real host (every installed plugin: guardrails, watermark, provenance) and an engine whose two model
calls are replaced by a cheap tone, so HTTP behaviour is tested in seconds; ``tiny_engine`` is the real tiny model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bark_omni_serve.config import ServeConfig
from bark_omni_serve.engine import Engine

RATE = 24_000


class ToneEngine(Engine):
    """``generate``/``stream`` make a seeded noise burst instead of running Bark; the rest (watermark through the
    host's watermarker, manifests through its provenance plugin, encoding, batching) is the real code."""

    def __init__(self, config, host, delay_s: float = 0.0):
        super().__init__(config, host)
        self.delay_s = delay_s
        self.seconds = 0.5
        self.batches: list[int] = []

    def model_fingerprint(self) -> str:
        return "tone"

    def _audio(self, request) -> np.ndarray:
        rng = np.random.default_rng(request.seed if request.seed is not None else 0)
        return (0.1 * rng.standard_normal(int(RATE * self.seconds))).astype(np.float32)

    def generate(self, jobs):
        from bark_omni.api import safety_notes, seal_audio
        from bark_omni.specs import GenerationResult

        self.batches.append(len(jobs))
        time.sleep(self.delay_s)
        out = []
        for job in jobs:
            if "FAIL" in job.request.text:
                raise RuntimeError("a generation failed")
            audio, mark = seal_audio(self.host, self._audio(job.request), RATE, job.request)
            tokens = np.arange(4)
            result = GenerationResult(semantic=tokens, coarse=tokens, fine=tokens, audio=audio, sample_rate=RATE,
                                      timings={"batch_size": len(jobs)}, model_fingerprint="tone",
                                      safety_notes=safety_notes(self.host, mark), request=job.request, host=self.host)
            result.extras["watermark"] = mark
            out.append(result)
        return out

    def stream(self, job):
        from bark_omni.api import seal_audio
        from bark_omni.streaming import AudioChunk

        audio = self._audio(job.request)
        offset = 0
        for piece in np.array_split(audio, 3):
            time.sleep(self.delay_s / 3)
            marked, _ = seal_audio(self.host, piece, RATE, job.request)
            yield AudioChunk(marked, offset, RATE, 0)
            offset += len(piece)
        yield AudioChunk(np.zeros(0, dtype=np.float32), offset, RATE, 0, final=True)


@pytest.fixture(scope="session")
def serve_host():
    from bark_omni.host import Host

    return Host()


@pytest.fixture
def make_client(serve_host):
    """``make_client(delay_s=0, **config) -> (TestClient, engine)``; closed at the end of the test."""
    from fastapi.testclient import TestClient

    from bark_omni_serve.app import create_app

    clients = []

    def make(delay_s: float = 0.0, **config):
        config.setdefault("model", "tiny")
        engine = ToneEngine(ServeConfig(**config), serve_host, delay_s)
        client = TestClient(create_app(engine.config, engine), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client, engine

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def make_server(serve_host):
    """``make_server(delay_s, **config) -> (ServerThread, engine)``: the app on a free loopback port."""
    from bark_omni_serve.app import create_app
    from bark_omni_serve.server import ServerThread

    def make(delay_s: float = 0.0, **config):
        config.setdefault("model", "tiny")
        engine = ToneEngine(ServeConfig(**config), serve_host, delay_s)
        return ServerThread(create_app(engine.config, engine)), engine

    return make
