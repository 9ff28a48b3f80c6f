"""The request queue: bounded, batching jobs that can share a ``run_batch`` call after a bounded wait, one
generation at a time on one thread, cancelling jobs whose client left before they started, and draining on
shutdown so that every queued request gets an answer (its result, or a 503).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .speech import SpeechJob


class Overloaded(Exception):
    """The queue is full (429) or the server is shutting down (503)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)  # identity: a queue holds each one once
class Work:
    job: SpeechJob
    future: asyncio.Future
    kind: str = "batch"  # "batch" (run_jobs) or "stream" (the callable in ``stream``)
    stream: Callable[[threading.Event], Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class Stats:
    batches: list[int] = field(default_factory=list)
    cancelled: int = 0
    rejected: int = 0


class Batcher:
    """``await submit(job)`` -> the job's ``Answer``; ``await submit_stream(job, fn)`` runs ``fn(cancel)`` on the
    generation thread in turn. ``run_jobs(list[SpeechJob]) -> list[Answer | Exception]`` does the work."""

    def __init__(self, run_jobs: Callable[[list[SpeechJob]], list[Any]], *, max_batch: int = 8, wait_ms: float = 20.0,
                 max_queue: int = 32, batching: bool = True) -> None:
        self.run_jobs = run_jobs
        self.max_batch = max_batch if batching else 1
        self.wait_s = wait_ms / 1000.0 if batching else 0.0
        self.max_queue = max_queue
        self.pending: deque[Work] = deque()
        self.inflight: list[Work] = []
        self.stats = Stats()
        self.closing = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bark-omni-generate")

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop())

    def _enqueue(self, work: Work) -> Work:
        if self.closing:
            self.stats.rejected += 1
            raise Overloaded("the server is shutting down; retry on another instance", 503)
        if len(self.pending) >= self.max_queue:
            self.stats.rejected += 1
            raise Overloaded(f"the queue is full ({self.max_queue} requests waiting); retry shortly", 429)
        self.pending.append(work)
        assert self._wake is not None
        self._wake.set()
        return work

    def submit(self, job: SpeechJob) -> Work:
        return self._enqueue(Work(job, asyncio.get_running_loop().create_future()))

    def submit_stream(self, job: SpeechJob, stream: Callable[[threading.Event], Any]) -> Work:
        return self._enqueue(Work(job, asyncio.get_running_loop().create_future(), kind="stream", stream=stream))

    def cancel(self, work: Work) -> None:
        """The client left: a queued job is dropped, a running stream stops at its next chunk."""
        work.cancel.set()
        if work in self.pending:
            self.pending.remove(work)
            self.stats.cancelled += 1
        if not work.future.done():
            work.future.cancel()

    async def _next_batch(self) -> list[Work]:
        assert self._wake is not None
        while not self.pending:
            self._wake.clear()
            await self._wake.wait()
        first = self.pending.popleft()
        batch = [first]
        if first.kind != "batch":
            return batch
        deadline = time.monotonic() + self.wait_s
        while len(batch) < self.max_batch:
            for work in list(self.pending):
                if len(batch) < self.max_batch and work.kind == "batch" and work.job.batch_key == first.job.batch_key:
                    self.pending.remove(work)
                    batch.append(work)
            left = deadline - time.monotonic()
            if len(batch) >= self.max_batch or left <= 0 or self.closing:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                pass
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            batch = [w for w in batch if not w.future.done()]
            if not batch:
                continue
            self.inflight = batch
            try:
                if batch[0].kind == "stream":
                    work = batch[0]
                    outcomes = [await loop.run_in_executor(self._executor, _call, work.stream, work.cancel)]
                else:
                    self.stats.batches.append(len(batch))
                    outcomes = await loop.run_in_executor(self._executor, self.run_jobs, [w.job for w in batch])
            except Exception as exc:  # pragma: no cover - run_jobs returns errors per job
                outcomes = [exc] * len(batch)
            finally:
                self.inflight = []
            for work, outcome in zip(batch, outcomes):
                if not work.future.done():
                    if isinstance(outcome, BaseException):
                        work.future.set_exception(outcome)
                    else:
                        work.future.set_result(outcome)

    async def close(self, timeout: float) -> None:
        """Stop taking requests, let queued and running ones finish for up to ``timeout`` seconds, then answer
        every one still waiting with a 503 (no response is dropped without one)."""
        self.closing = True
        if self._wake is not None:
            self._wake.set()
        deadline = time.monotonic() + timeout
        while (self.pending or self.inflight) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for work in [*self.pending, *self.inflight]:
            work.cancel.set()
            if not work.future.done():
                work.future.set_exception(Overloaded("the server shut down before this request finished; retry", 503))
        self.pending.clear()
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _call(fn: Callable[[threading.Event], Any], cancel: threading.Event) -> Any:
    try:
        return fn(cancel)
    except BaseException as exc:  # handed to the waiting request
        return exc
