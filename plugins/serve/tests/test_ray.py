"""The Ray Serve deployment on a local Ray instance (tiny model). Slow (a Ray start and a replica loading the
model): it runs with BARK_OMNI_SLOW_TESTS=1 and is bounded by the timeouts below."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

pytestmark = [
    pytest.mark.skipif(os.environ.get("BARK_OMNI_SLOW_TESTS") != "1",
                       reason="slow (starts Ray, ~2 min): run with BARK_OMNI_SLOW_TESTS=1"),
]


def test_ray_serve_batches_concurrent_requests(tiny_model_dir, tmp_path):
    ray = pytest.importorskip("ray", reason="ray[serve] is not installed: pip install 'bark-omni-serve[ray]'")
    from ray import serve

    from bark_omni_serve.config import ServeConfig
    from bark_omni_serve.ray_app import build_app
    from bark_omni_serve.server import free_port

    port = free_port()
    config = ServeConfig(model="tiny", device="cpu", max_duration_s=0.2, batch_wait_ms=300, port=port)
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app(config, replicas=1, gpus_per_replica=0), name="bark-omni", route_prefix="/",
                  blocking=False)

        async def three():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
                return await asyncio.gather(*(client.post("/v1/audio/speech", json={"input": f"Line {i}.", "seed": i})
                                              for i in range(3)))

        answers = asyncio.run(three())
        assert [r.status_code for r in answers] == [200, 200, 200], [r.text[:200] for r in answers]
        assert max(int(r.headers["x-bark-omni-batch-size"]) for r in answers) > 1
        assert len({r.headers["x-bark-omni-manifest-id"] for r in answers}) == 3
        manifest = httpx.get(f"http://127.0.0.1:{port}/v1/manifests/{answers[0].headers['x-bark-omni-manifest-id']}")
        assert manifest.status_code == 200 and manifest.json()["watermark"]
        refused = httpx.post(f"http://127.0.0.1:{port}/v1/audio/speech", json={"input": "I know where you live."})
        assert refused.status_code == 400 and "blocked" in refused.json()["error"]["message"]
    finally:
        serve.shutdown()
        ray.shutdown()
