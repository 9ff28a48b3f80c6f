"""Where the frozen encoders' time goes: torch.profiler over one call of each, as the adapters run them.

    OMP_NUM_THREADS=1 .venv/bin/python bench/encoder_profile.py [--rows 10] [--repeats 5]

First, a request's ``prepare`` (the four adapters) right after a plain generation, as a cold request meets it, with
the audio runner's convolutions over 2 s pieces against one pass over the whole reference, alternating: time, page
faults and system time, medians of ``--repeats`` (the faults depend on what the allocator kept from earlier calls,
so this runs first in a fresh process). Then the bench's encoders (bench_fusion: EnCodec's encoder over a 10 s
reference, open_clip's ViT-B-32 on a 224 px image, random weights) through ``Adapter.run_frozen`` at the default
precision, so from their runners, and EnCodec's own encoder under the same autocast, without a runner, for
comparison: one warm-up call each, then a profiled one; printed: the operators with the most self time. Last, how
far each runner's output is from its encoder's own under the same autocast, and each from float32 (relative norm
of the difference).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile

import bench_fusion as bf
from bark_omni.fusion import encoder_dtype
from bark_omni_audio.encoder import Chunked


def profiled(label: str, call, rows: int) -> None:
    call()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        call()
    print(f"\n{label}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = bf.bark_small()
    model, bundle = bf.four_modalities(models)
    dtype = encoder_dtype(torch.device("cpu"))
    pieces_report(models, model, bundle, args.repeats)  # first:
    # the profiles below leave the allocator holding memory that a fresh process's first requests fault in
    for modality in ("reference_audio", "image"):
        adapter, value = model.adapters[modality], bundle.inputs[modality]
        profiled(f"{modality}: prepare, the encoder from its runner ({dtype or torch.float32})",
                 lambda: adapter.prepare(value), args.rows)
    encoder = model.adapters["reference_audio"].frozen_modules()["codec"].encoder
    samples = torch.randn(1, 1, 240_000) * 0.1

    def plain() -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            encoder(samples)

    profiled(f"EnCodec's encoder itself, no runner ({dtype or torch.float32} autocast)", plain, args.rows)
    image = model.adapters["image"]
    inputs = {"reference_audio": (encoder, samples),
              "image": (image.frozen_modules()["visual"], torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)))}
    print(f"\nrunner against the encoder itself ({dtype or torch.float32} autocast), relative difference of the outputs")
    for modality, (module, x) in inputs.items():
        runner = model.adapters[modality].runner(module, dtype)
        with torch.no_grad():
            exact = module(x).float()
            with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                own, ran = module(x).float(), runner(x).float()
        rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
        print(f"  {modality:<16} runner vs itself {rel(ran, own):.2e}   itself vs float32 {rel(own, exact):.2e}"
              f"   runner vs float32 {rel(ran, exact):.2e}")


def pieces_report(models, model, bundle, repeats: int) -> None:
    """A request's ``prepare`` (all four adapters) with the audio adapter's runner running EnCodec's convolutions
    over 2 s pieces against one pass over the whole reference (the same runner with its piece longer than the
    input), each right after a plain 64-token generation, alternating; CPU ms, minor page faults and system ms per
    call, medians."""
    adapter = model.adapters["reference_audio"]
    model.prepare([bundle])
    (_, runner), = adapter._runners.values()
    assert isinstance(runner, Chunked), "the audio adapter's runner is not EnCodec's in pieces"
    pieces = runner.chunk
    rows: dict[str, list[tuple[float, int, float]]] = {"one pass": [], "2 s pieces": []}
    for _ in range(repeats):
        for label, chunk in (("one pass", 10**9), ("2 s pieces", pieces)):
            runner.chunk = chunk
            bf.generate(models, None, 64)
            before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
            model.prepare([bundle])
            seconds, after = time.process_time() - t0, resource.getrusage(resource.RUSAGE_SELF)
            rows[label].append((1000 * seconds, after.ru_minflt - before.ru_minflt, 1000 * (after.ru_stime - before.ru_stime)))
    runner.chunk = pieces
    print(f"\na request's prepare (the four adapters) after a plain generation, EnCodec's convolutions in one pass or in "
          f"pieces, medians of {repeats}")
    for label, runs in rows.items():
        ms, faults, system = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"  {label:<11} {ms:7.1f} ms   {faults:8.0f} page faults   {system:6.1f} ms system time")


if __name__ == "__main__":
    main()
