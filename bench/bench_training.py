"""Fusion training throughput on this machine: samples per second of optimizer steps with the tiny Bark.

Builds a small synthetic set (shapes and beats) in a temporary folder, prepares its targets, then times
``Trainer.train_step`` for each setting side by side (interleaved repeats; medians reported). Settings: the
installed image + control adapters (or only what is installed), micro-batch sizes, torch thread counts, with
and without image augmentation (augmented images cannot reuse cached CLIP features).

    .venv/bin/python bench/bench_training.py [--repeats 3] [--steps 8] [--batch 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def settings(batch: int) -> list[dict]:
    return [
        {"name": f"micro {m}, {t} thread{'s' if t > 1 else ''}, {'augmented' if aug else 'no augmentation'}",
         "micro_batch_size": m, "threads": t, "augment": aug}
        for m, t, aug in ((batch // 2, 1, True), (batch // 2, 2, True), (batch, 1, True), (batch // 2, 1, False))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps per repeat")
    parser.add_argument("--batch", type=int, default=16, help="global batch (samples per optimizer step)")
    args = parser.parse_args()

    from bark_omni.host import default_host
    from bark_omni.models import load_models
    from bark_omni_train import distributed
    from bark_omni_train.config import AugmentConfig, TrainConfig
    from bark_omni_train.manifest import read_manifest
    from bark_omni_train.synthetic import make_dataset
    from bark_omni_train.targets import prepare_targets
    from bark_omni_train.trainer import Trainer

    host = default_host()
    modalities = [m for m in ("image", "control_events") if any(a.modality == m for a in host.adapters.values())]
    if not modalities:
        raise SystemExit("no image or control adapter installed (pip install -e adapters/image adapters/control)")
    procs = distributed.start("cpu")
    models = load_models("tiny", host, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_dataset(Path(tmp) / "data", classes=4, per_class=16, val_per_class=2, audio=False)
        prepare_targets(read_manifest(manifest), Path(tmp) / "data" / "cache", models)
        trainers = {}
        for s in settings(args.batch):
            config = TrainConfig(manifest=str(manifest), output=str(Path(tmp) / s["name"].replace(" ", "_")), model="tiny",
                                 device="cpu", modalities=modalities, steps=10_000, batch_size=args.batch,
                                 micro_batch_size=s["micro_batch_size"], progress=False, semantic_eos=False,
                                 dropout={m: 0.4 for m in modalities},
                                 augment=AugmentConfig(crop=0.1, flip=0.5, colour=0.1) if s["augment"] else AugmentConfig())
            trainer = Trainer(config, procs, host)
            trainer.start_or_resume(False)
            trainers[s["name"]] = (s, trainer, trainer._loader())
        rates: dict[str, list[float]] = {name: [] for name in trainers}
        default_threads = torch.get_num_threads()
        for _ in range(args.repeats):
            for name, (s, trainer, chunks) in trainers.items():
                torch.set_num_threads(s["threads"])
                trainer.train_step(chunks)  # warm-up step (first use of a shape, cache fill)
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step(chunks)
                rates[name].append(args.batch * args.steps / (time.perf_counter() - start))
        torch.set_num_threads(default_threads)
    print(f"tiny Bark, adapters: {', '.join(modalities)}; global batch {args.batch}; {args.repeats} repeats x "
          f"{args.steps} steps; machine: {torch.get_num_threads()} torch threads by default")
    baseline = statistics.median(rates[next(iter(rates))])
    print(f"{'setting':<52} {'samples/s (median)':>18} {'min':>7} {'max':>7} {'vs first':>9}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<52} {median:>18.1f} {min(values):>7.1f} {max(values):>7.1f} {median / baseline:>8.2f}x")


if __name__ == "__main__":
    main()
