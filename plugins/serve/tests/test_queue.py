"""Batching under load, the bounded queue, cancelled clients and shutdown, over a real loopback socket."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bark_omni_serve.batching import Batcher, Overloaded


async def _many(url: str, n: int, **body) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/v1/audio/speech", json={"input": f"Line {i}.", "seed": i, **body})
                                      for i in range(n)))


def test_concurrent_requests_share_batches(make_server):
    server, engine = make_server(0.4, max_batch=8, batch_wait_ms=50)
    with server as url:
        answers = asyncio.run(_many(url, 6))
    assert [r.status_code for r in answers] == [200] * 6
    assert sum(engine.batches) == 6 and max(engine.batches) > 1  # the first waits alone, the rest pile up together
    ids = {r.headers["x-bark-omni-manifest-id"] for r in answers}
    assert len(ids) == 6 and len({r.content for r in answers}) == 6  # each answer its own
    assert max(int(r.headers["x-bark-omni-batch-size"]) for r in answers) == max(engine.batches)


def test_different_options_are_not_batched_together(make_server):
    server, engine = make_server(0.3, batch_wait_ms=50)
    with server as url:
        async def mixed():
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(*(client.post("/v1/audio/speech", json={
                    "input": "Hi.", "seed": i, "text_temp": 0.5 if i % 2 else 0.7}) for i in range(6)))
        answers = asyncio.run(mixed())
    assert all(r.status_code == 200 for r in answers)
    assert sum(engine.batches) == 6 and len(engine.batches) >= 2 and max(engine.batches) <= 3


def test_unbatched_mode_runs_one_at_a_time(make_server):
    server, engine = make_server(0.1, batching=False)
    with server as url:
        answers = asyncio.run(_many(url, 4))
    assert all(r.status_code == 200 for r in answers) and engine.batches == [1, 1, 1, 1]


def test_full_queue_answers_429(make_server):
    server, engine = make_server(0.5, max_queue=2, max_batch=1)
    with server as url:
        answers = asyncio.run(_many(url, 8))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) == {200, 429} and codes.count(200) >= 2
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["retry-after"] == "1" and refused.json()["error"]["type"] == "overloaded_error"
    assert sum(engine.batches) == codes.count(200)  # refused requests never ran


def test_disconnected_client_is_taken_out_of_the_queue(make_server):
    server, engine = make_server(1.0, max_batch=1)
    with server as url:
        async def scenario():
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                first = asyncio.create_task(client.post("/v1/audio/speech", json={"input": "First.", "seed": 1}))
                await asyncio.sleep(0.3)  # the first one is generating
                async with httpx.AsyncClient(base_url=url, timeout=0.3) as impatient:
                    with pytest.raises(httpx.ReadTimeout):
                        await impatient.post("/v1/audio/speech", json={"input": "Second.", "seed": 2})
                return await first
        done = asyncio.run(scenario())
        time.sleep(1.5)
    assert done.status_code == 200
    assert engine.batches == [1]  # the second never ran
    assert server.server.config.app.state.batcher.stats.cancelled == 1


def test_shutdown_answers_every_queued_request():
    """Whatever is queued when the server stops gets its result or a 503, never nothing."""
    def slow(jobs):
        time.sleep(0.2)
        return [f"done {id(job)}" for job in jobs]

    async def scenario():
        batcher = Batcher(slow, max_batch=1, wait_ms=0, max_queue=16)
        await batcher.start()
        works = [batcher.submit(_Job(i)) for i in range(6)]
        await asyncio.sleep(0.05)
        await batcher.close(timeout=0.3)
        with pytest.raises(Overloaded):
            batcher.submit(_Job(99))
        return works

    works = asyncio.run(scenario())
    assert all(w.future.done() for w in works)
    finished = [w for w in works if w.future.exception() is None]
    refused = [w for w in works if w.future.exception() is not None]
    assert finished and refused and len(finished) + len(refused) == 6
    assert all(w.future.exception().status == 503 for w in refused)


class _Job:
    def __init__(self, i: int) -> None:
        self.batch_key = ("same",)
        self.i = i


def test_stopping_the_server_finishes_the_running_request(make_server):
    """uvicorn's graceful shutdown: a request in progress when the server is told to stop still gets its answer."""
    server, engine = make_server(1.0)
    with server as url:
        async def scenario():
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                running = asyncio.create_task(client.post("/v1/audio/speech", json={"input": "Last one.", "seed": 1}))
                await asyncio.sleep(0.4)
                server.server.should_exit = True  # what SIGTERM does
                return await running
        answer = asyncio.run(scenario())
    assert answer.status_code == 200 and answer.headers["x-bark-omni-manifest-id"]
    assert engine.batches == [1]


def test_slow_requests_time_out_with_504(make_server):
    server, engine = make_server(1.5, request_timeout_s=0.3)
    with server as url:
        r = httpx.post(f"{url}/v1/audio/speech", json={"input": "Slow."}, timeout=30)
    assert r.status_code == 504 and r.json()["error"]["type"] == "timeout_error"


def test_stream_stops_when_the_client_leaves(make_server):
    server, engine = make_server(3.0)
    with server as url:
        with httpx.stream("POST", f"{url}/v1/audio/speech", json={"input": "Long.", "stream": True}, timeout=30) as r:
            assert r.status_code == 200
            next(r.iter_bytes())  # the first chunk, then hang up
        batcher = server.server.config.app.state.batcher
        time.sleep(2.5)
        assert not batcher.inflight  # the producer saw the cancel flag and stopped before its last chunk
