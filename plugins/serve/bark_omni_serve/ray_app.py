"""The same app as a Ray Serve deployment, batching through ``@serve.batch``.

    bark-omni serve --ray --model bark --replicas 2          # one replica per GPU when the cluster has GPUs

or, from Python / a Ray Serve config file, ``bark_omni_serve.ray_app:build_app(ServeConfig(...), replicas=2)``.
Each replica builds the FastAPI app of ``app.py`` on its own (a builder function: nothing of the host is
pickled), loads the model once, and puts requests through ``RayBatcher``: Ray Serve's ``serve.batch`` collects
concurrent calls (up to ``max_batch``, waiting ``batch_wait_ms``), which are then grouped by batch key (model,
decoder, options, adapters) and generated on the replica's one generation thread. Streams bypass the batch.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from .batching import Batcher, Overloaded, Work
from .config import ServeConfig
from .speech import SpeechJob


class RayBatcher(Batcher):
    """``Batcher``'s interface over ``ray.serve.batch``: its queue and wait replace ours; the bounded queue, the
    cancellation of queued requests' results and the shutdown answers stay."""

    def __init__(self, engine: Any, config: ServeConfig) -> None:
        from ray import serve

        super().__init__(engine.run_jobs, max_batch=config.max_batch, wait_ms=config.batch_wait_ms,
                         max_queue=config.max_queue, batching=config.batching)
        self.engine = engine
        self.waiting: set[Work] = set()
        self._batched = serve.batch(max_batch_size=self.max_batch,
                                    batch_wait_timeout_s=self.wait_s)(self._generate)

    async def start(self) -> None:
        self._wake = asyncio.Event()

    async def _generate(self, jobs: list[SpeechJob]) -> list[Any]:
        loop = asyncio.get_running_loop()
        groups: dict[tuple, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.batch_key, []).append(i)
        outcomes: list[Any] = [None] * len(jobs)
        for indices in groups.values():
            self.stats.batches.append(len(indices))
            done = await loop.run_in_executor(self._executor, self.run_jobs, [jobs[i] for i in indices])
            for i, outcome in zip(indices, done):
                outcomes[i] = outcome
        return outcomes

    def submit(self, job: SpeechJob) -> Work:
        if self.closing:
            raise Overloaded("the server is shutting down; retry on another replica", 503)
        if len(self.waiting) >= self.max_queue:
            self.stats.rejected += 1
            raise Overloaded(f"the queue is full ({self.max_queue} requests waiting); retry shortly", 429)
        loop = asyncio.get_running_loop()
        work = Work(job, loop.create_future())
        self.waiting.add(work)

        async def drive() -> None:
            try:
                outcome = await self._batched(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the request
                outcome = exc
            finally:
                self.waiting.discard(work)
            if not work.future.done():
                if isinstance(outcome, BaseException):
                    work.future.set_exception(outcome)
                else:
                    work.future.set_result(outcome)

        asyncio.ensure_future(drive())
        return work

    def submit_stream(self, job: SpeechJob, stream: Any) -> Work:
        from .batching import _call

        work = Work(job, asyncio.get_running_loop().create_future(), kind="stream", stream=stream)
        future = asyncio.get_running_loop().run_in_executor(self._executor, _call, stream, work.cancel)
        future.add_done_callback(lambda f: None if work.future.done() else work.future.set_result(f.result()))
        return work

    def cancel(self, work: Work) -> None:
        work.cancel.set()
        if not work.future.done():
            work.future.cancel()
            self.stats.cancelled += 1

    async def close(self, timeout: float) -> None:
        self.closing = True
        deadline = asyncio.get_running_loop().time() + timeout
        while self.waiting and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for work in list(self.waiting):
            if not work.future.done():
                work.future.set_exception(Overloaded("the replica shut down before this request finished; retry", 503))
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_app(config: ServeConfig, replicas: int = 1, gpus_per_replica: float | None = None) -> Any:
    """A bound Ray Serve application of the speech server (``serve.run(build_app(config))``)."""
    from ray import serve

    def builder() -> Any:
        from .app import create_app
        from .engine import Engine

        engine = Engine(config)
        return create_app(config, engine, warm_up=True, batcher=RayBatcher(engine, config))

    if gpus_per_replica is None:
        gpus_per_replica = 1.0 if _cluster_gpus() >= replicas else 0.0
    options = {"num_gpus": gpus_per_replica, "num_cpus": 1}

    @serve.deployment(num_replicas=replicas, ray_actor_options=options, max_ongoing_requests=config.max_queue + config.max_batch)
    @serve.ingress(builder)
    class BarkOmniSpeech:
        pass

    return BarkOmniSpeech.bind()


def _cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0)) if ray.is_initialized() else 0.0


def serve_ray(config: ServeConfig, replicas: int = 1) -> None:
    """Start (or join, with RAY_ADDRESS) a Ray cluster and serve until interrupted."""
    config.check_bind()
    try:
        import ray
        from ray import serve
    except ImportError:
        from bark_omni.errors import InvalidInputError

        raise InvalidInputError("--ray needs Ray Serve: pip install 'bark-omni-serve[ray]'") from None
    from .engine import Engine

    for line in Engine(config).check_safety():  # refuse here, before any replica starts
        print(f"bark-omni serve: {line}", file=sys.stderr)
    ray.init(ignore_reinit_error=True)
    serve.start(http_options={"host": config.host, "port": config.port})
    serve.run(build_app(config, replicas), name="bark-omni", route_prefix="/", blocking=True)
    print("bark-omni serve --ray: stopped", file=sys.stderr)
