"""Real-time factor of every decoder on the same 10 s of Bark tokens, at real dimensions with random weights (CPU).

EnCodec 24 kHz (Bark's own decoder), Vocos (vocos-encodec-24khz layout: 8 ConvNeXt layers of 384) and
MultiBandDiffusion (4 bands, audiocraft's default U-Net with 128-dim EnCodec conditioning) decode the same tokens
in one run. EnCodec and Vocos report medians over --repeats; MBD is timed per U-Net call (median over every call of
a --mbd-steps decode) because one 20-step decode of 10 s takes many minutes on a CPU. The MBD row at 20 steps is
extrapolated from the measured fixed cost and per-step cost, and says so.

RTF = decode seconds / audio seconds (< 1 is faster than real time).

    .venv/bin/python bench/bench_decoders.py [--seconds 10] [--repeats 3] [--mbd-steps 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import torch

FRAME_RATE = 75
SAMPLE_RATE = 24_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def build_codec() -> Any:
    from bark_omni.checkpoints import encodec_24khz

    torch.manual_seed(0)
    return encodec_24khz()


def build_vocos_decoder(models: Any, workdir: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The plugin's decoder over a real-size Vocos written in the published layout, and its parameter count."""
    import yaml
    from bark_omni_vocos.plugin import load_vocos_decoder
    from bark_omni_vocos.tiny import REAL_BACKBONE, build_vocos
    from bark_omni_vocos.weights import CONFIG_FILE, WEIGHTS_FILE

    config, state = build_vocos(models.codec, REAL_BACKBONE, seed=0)
    (workdir / CONFIG_FILE).write_text(yaml.safe_dump(config))
    torch.save(state, workdir / WEIGHTS_FILE)
    n_params = sum(v.numel() for k, v in state.items() if not k.startswith("feature_extractor."))
    return load_vocos_decoder(models, {"weights": str(workdir)}), n_params


def build_mbd(models: Any, steps: int) -> Any:
    from bark_omni_mbd.configs import UNET
    from bark_omni_mbd.decoder import MBDDecoder
    from bark_omni_mbd.options import MBDOptions
    from bark_omni_mbd.package import diffusion_processes
    from bark_omni_mbd.tiny import build_bands

    bands = build_bands(UNET, seed=0)
    pkg: dict[Any, Any] = {"sample_rate": SAMPLE_RATE, "n_bands": len(bands)}
    for index, (cfg, model, processor) in enumerate(bands):
        pkg[index] = {"cfg": cfg, "model_state": model.state_dict(), "processor_state": processor.state_dict()}
    del bands
    return MBDDecoder(models.codec, diffusion_processes(pkg, "cpu"), MBDOptions(steps=steps))


def unet_call_times(decoder: Any) -> tuple[list[float], Callable[[], None]]:
    """Record the duration of every U-Net forward of every band; returns (times, remove_hooks)."""
    times: list[float] = []
    starts: list[float] = []
    handles = []
    for process in decoder.mbd.DPs:
        handles.append(process.model.register_forward_pre_hook(lambda *a: starts.append(time.perf_counter())))
        handles.append(process.model.register_forward_hook(lambda *a: times.append(time.perf_counter() - starts.pop())))
    return times, lambda: [h.remove() for h in handles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length the tokens stand for")
    parser.add_argument("--repeats", type=int, default=3, help="runs of EnCodec and Vocos (median reported)")
    parser.add_argument("--mbd-steps", type=int, default=2, help="diffusion steps of the timed MBD decode")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = int(round(args.seconds * FRAME_RATE))
    fine = np.random.default_rng(0).integers(0, 1024, size=(8, frames))
    audio_s = frames / FRAME_RATE

    log("building EnCodec, Vocos and MBD at real dimensions (random weights)...")
    from bark_omni.loop import codec_decode

    models = SimpleNamespace(codec=build_codec(), device="cpu")
    with tempfile.TemporaryDirectory() as workdir:
        vocos, vocos_params = build_vocos_decoder(models, Path(workdir))
    mbd = build_mbd(models, args.mbd_steps)
    n_bands = len(mbd.mbd.DPs)
    params = {
        "encodec": sum(p.numel() for p in models.codec.decoder.parameters()),
        "vocos": vocos_params,
        "mbd": sum(p.numel() for dp in mbd.mbd.DPs for p in dp.model.parameters()),
    }

    log("warming up...")
    short = fine[:, : FRAME_RATE]
    codec_decode(models.codec, short), vocos(short)
    log(f"timing EnCodec and Vocos ({args.repeats} runs each, alternating)...")
    results: dict[str, list[float]] = {"encodec": [], "vocos": []}
    for _ in range(args.repeats):
        results["encodec"] += timed(lambda: codec_decode(models.codec, fine), 1)
        results["vocos"] += timed(lambda: vocos(fine), 1)
    lengths = {"encodec": len(codec_decode(models.codec, fine)), "vocos": len(vocos(fine))}

    log(f"timing MBD: {args.mbd_steps} steps x {n_bands} bands on {audio_s:g} s (minutes on a CPU)...")
    call_times, remove = unet_call_times(mbd)
    start = time.perf_counter()
    mbd_audio = mbd(fine)
    mbd_total = time.perf_counter() - start
    remove()
    lengths["mbd"] = len(mbd_audio)
    per_call = statistics.median(call_times)
    step_cost = per_call * n_bands  # one diffusion step = one U-Net call per band
    fixed = mbd_total - sum(call_times)  # latents, noise, band processors, EnCodec reference and EQ matching

    print(f"# decoders on {audio_s:g} s of Bark tokens ({frames} frames x 8 codebooks), CPU, {args.threads} threads, "
          f"random weights at real dimensions; torch {torch.__version__}")
    print(f"{'decoder':<22} {'params':>9} {'decode s':>9} {'RTF':>8} {'x EnCodec':>10}  note")
    base = statistics.median(results["encodec"])
    for name in ("encodec", "vocos"):
        t = statistics.median(results[name])
        print(f"{name:<22} {params[name] / 1e6:>8.1f}M {t:>9.3f} {t / audio_s:>8.3f} {t / base:>10.2f}  "
              f"median of {args.repeats}; {lengths[name]} samples")
    print(f"{'mbd @' + str(args.mbd_steps) + ' steps':<22} {params['mbd'] / 1e6:>8.1f}M {mbd_total:>9.1f} "
          f"{mbd_total / audio_s:>8.2f} {mbd_total / base:>10.0f}  measured, 1 run; {lengths['mbd']} samples")
    for steps in (20,):
        total = fixed + steps * step_cost
        print(f"{'mbd @' + str(steps) + ' steps':<22} {params['mbd'] / 1e6:>8.1f}M {total:>9.1f} {total / audio_s:>8.2f} "
              f"{total / base:>10.0f}  extrapolated: fixed {fixed:.1f} s + {steps} x step")
    print(f"mbd per step (all {n_bands} bands): {step_cost:.2f} s = {step_cost / audio_s:.3f} s per audio second "
          f"(median U-Net call {per_call:.2f} s over {len(call_times)} calls; fixed cost {fixed:.2f} s)")


if __name__ == "__main__":
    main()
