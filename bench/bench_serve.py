"""Load test of ``bark-omni serve`` on loopback: requests/s, p50/p95 latency and time to first byte at 1, 4 and 16
concurrent clients, batched vs unbatched, and a check that no request was lost or answered twice.

    .venv/bin/python bench/bench_serve.py --model tiny --device cpu --max-duration-s 0.3

Each level sends ``--requests`` requests (default max(4, clients)) (distinct texts and seeds) from ``c`` concurrent clients to one server
(real model, real guardrails, watermark and manifests); both modes run in one process, taking turns level by level, so their
ratio is taken under the same load. Every answer's manifest is fetched and must name the text that was sent; the
engine must have generated each request exactly once. ``--time-limit-s`` bounds the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def level(url: str, clients: int, requests: int, tag: str, stream: bool) -> dict:
    import httpx

    texts = [f"{tag} request {i}." for i in range(requests)]
    todo = list(enumerate(texts))
    rows: list[dict] = []

    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        async def worker():
            while todo:
                i, text = todo.pop(0)
                t0 = time.perf_counter()
                ttfb = None
                body = b""
                async with client.stream("POST", "/v1/audio/speech", json={
                        "input": text, "seed": i, "response_format": "pcm" if stream else "wav", "stream": stream}) as r:
                    async for part in r.aiter_bytes():
                        if ttfb is None:
                            ttfb = time.perf_counter() - t0
                        body += part
                rows.append(dict(text=text, status=r.status_code, latency=time.perf_counter() - t0, ttfb=ttfb or 0.0,
                                 manifest=r.headers.get("x-bark-omni-manifest-id"),
                                 batch=int(r.headers.get("x-bark-omni-batch-size", "1")), size=len(body)))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
        ok = [row for row in rows if row["status"] == 200]
        texts_back = []
        for row in ok:
            manifest = (await client.get(f"/v1/manifests/{row['manifest']}")).json()
            texts_back.append(manifest["request"]["text"])
    lost = sorted(set(texts) - set(texts_back))
    twice = len(texts_back) - len(set(texts_back))
    mismatched = sum(row["text"] != back for row, back in zip(ok, texts_back))
    return dict(clients=clients, n=len(rows), ok=len(ok), rps=len(ok) / wall,
                p50=percentile([r["latency"] for r in ok], 0.5), p95=percentile([r["latency"] for r in ok], 0.95),
                ttfb50=percentile([r["ttfb"] for r in ok], 0.5), batch=max(r["batch"] for r in ok),
                lost=len(lost), twice=twice, mismatched=mismatched)


def make_server(args, host, batching: bool):
    from bark_omni_serve.app import create_app
    from bark_omni_serve.config import ServeConfig
    from bark_omni_serve.engine import Engine
    from bark_omni_serve.server import ServerThread

    class Counting(Engine):
        rows = 0

        def generate(self, jobs):
            self.rows += len(jobs)
            return super().generate(jobs)

        def stream(self, job):
            self.rows += 1
            return super().stream(job)

    config = ServeConfig(model=args.model, device=args.device, max_duration_s=args.max_duration_s, batching=batching,
                         max_batch=16, max_queue=64, batch_wait_ms=args.batch_wait_ms, allow_public_key=True)
    engine = Counting(config, host)
    return ServerThread(create_app(config, engine, warm_up=True), timeout_s=900), engine


def run_all(args) -> list[dict]:
    """Both servers share one host (one loaded model) and take turns: per level, batched then unbatched (then
    streamed), so a level's figures are taken close together under the same background load."""
    from contextlib import ExitStack

    from bark_omni.host import Host

    host = Host()
    modes = [("batched", True, False), ("unbatched", False, False)] + ([("stream", False, True)] if args.stream else [])
    if args.reverse:  # who goes first within a level, to see the order's effect under a shared background load
        modes.reverse()
    out = []
    with ExitStack() as stack:
        servers = {}
        for name, batching, stream in modes:
            server, engine = make_server(args, host, batching)
            servers[name] = (stack.enter_context(server), engine, stream)
            asyncio.run(level(servers[name][0], 1, 1, f"warm-up-{name}", stream))
        for clients in args.clients:
            for name, (url, engine, stream) in servers.items():
                if time.monotonic() > args.deadline:
                    print(f"time limit reached; skipping {name} at {clients} clients", file=sys.stderr)
                    continue
                engine.rows = 0
                n = args.requests or max(4, clients)
                row = asyncio.run(level(url, clients, n, f"{name}-{clients}", stream))
                row.update(generated=engine.rows, mode=name)
                out.append(row)
                print(f"{name:>10} c={clients:<3} ok {row['ok']}/{row['n']} rps {row['rps']:.3f} p50 {row['p50']:.2f}s "
                      f"p95 {row['p95']:.2f}s ttfb50 {row['ttfb50']:.2f}s max-batch {row['batch']} lost {row['lost']} "
                      f"twice {row['twice']} generated {row['generated']}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--requests", type=int, default=0, help="requests per level (default: max(4, clients))")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--max-duration-s", type=float, default=0.3)
    parser.add_argument("--batch-wait-ms", type=float, default=20.0)
    parser.add_argument("--stream", action="store_true", help="also measure streamed (unbatched) responses")
    parser.add_argument("--reverse", action="store_true", help="run the modes in reverse order within each level")
    parser.add_argument("--time-limit-s", type=float, default=900.0)
    args = parser.parse_args()
    args.deadline = time.monotonic() + args.time_limit_s
    results = run_all(args)
    print("| mode | clients | ok | req/s | p50 s | p95 s | TTFB p50 s | max batch | lost | twice | generated |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['mode']} | {r['clients']} | {r['ok']}/{r['n']} | {r['rps']:.3f} | {r['p50']:.2f} | {r['p95']:.2f} "
              f"| {r['ttfb50']:.2f} | {r['batch']} | {r['lost']} | {r['twice']} | {r['generated']} |")
    by = {(r["mode"], r["clients"]): r for r in results}
    for clients in args.clients:
        b, u = by.get(("batched", clients)), by.get(("unbatched", clients))
        if b and u:
            print(f"batched/unbatched req/s at {clients} clients: {b['rps'] / u['rps']:.2f}x")
    bad = [r for r in results if r["lost"] or r["twice"] or r["mismatched"] or r["generated"] != r["ok"]]
    if bad:
        print(f"FAILED: lost or duplicated answers in {[(r['mode'], r['clients']) for r in bad]}")
        sys.exit(1)
    print("every request answered exactly once")


if __name__ == "__main__":
    main()
