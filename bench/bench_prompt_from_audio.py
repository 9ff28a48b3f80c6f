"""Throughput of voice prompts from audio (clips/s): full (HuBERT + quantizer + EnCodec) vs acoustic-only.

    .venv/bin/python bench/bench_prompt_from_audio.py --model tiny --seconds 5 --clips 8

Models are loaded once (warm host); each clip is timed; medians and the ratio come from one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from bark_omni.host import Host
    from bark_omni.prompts import prompt_from_audio

    host = Host()
    rng = np.random.default_rng(0)
    clips = [(0.2 * rng.standard_normal(int(args.seconds * 24_000))).astype(np.float32) for _ in range(args.clips)]
    times: dict[str, list[float]] = {"full": [], "acoustic_only": []}
    for mode, semantic in (("full", None), ("acoustic_only", False)):
        prompt_from_audio(clips[0], sample_rate=24_000, model=args.model, host=host, device=args.device, semantic=semantic)
        for clip in clips:
            t0 = time.perf_counter()
            prompt_from_audio(clip, sample_rate=24_000, model=args.model, host=host, device=args.device, semantic=semantic)
            times[mode].append(time.perf_counter() - t0)
    for mode, values in times.items():
        median = statistics.median(values)
        print(f"{mode:<14} median {median * 1000:8.1f} ms/clip  {1 / median:7.2f} clips/s  ({args.seconds:g} s clips, n={len(values)})")
    print(f"full / acoustic-only time ratio: {statistics.median(times['full']) / statistics.median(times['acoustic_only']):.2f}")


if __name__ == "__main__":
    main()
