"""Long-form, streaming and offload figures (random weights: the numbers are speed and memory, not quality).

    python bench/bench_longform.py --dims tiny --segments 10 --seconds 12 --repeats 3   # 280 words, ~2 min of audio
    python bench/bench_longform.py --dims small --segments 3 --seconds 2 --stream-segments 2 --offload-seconds 1
    python bench/bench_longform.py --dims small --offload-only

Prints the figures side by side (medians over --repeats runs, ratios measured in the same run), then JSON:
* long-form audio seconds per wall second, segments batched (one voice prompt, interval 1) vs one by one;
* streaming: time to the first audio chunk vs the whole stream, and vs the non-streamed run;
* peak resident memory (VmHWM, each in a fresh process) with and without SUNO_OFFLOAD_CPU, through Bark's drop-in
  functions and through ``bark_omni.generate_audio``.
Random weights never end a segment early, so each segment lasts ``--seconds`` (``allow_early_stop=False``); at
Bark-small dimensions keep the text short (a few segments of a few seconds) so one run stays within minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

WORDS = ("the quick brown fox jumps over a lazy dog while seven people watch and wonder how it learned such "
         "tricks in one summer").split()


def make_text(segments: int, words_per_segment: int = 28) -> str:
    """``segments`` sentences of ``words_per_segment`` words (each a segment of its own at max_words=30)."""
    sentences = []
    for i in range(segments):
        words = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(words_per_segment)]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def model_dir(dims: str, root: Path) -> Path:
    """The tiny model, or Bark-shaped random stages at ``dims`` in suno's format (tokenizer and EnCodec from tiny)."""
    from bark_omni.tiny import ensure_tiny_model

    tiny = ensure_tiny_model()
    if dims == "tiny":
        return tiny
    from bark_omni.checkpoints import SMALL_FILES, save_stage
    from bark_omni.constants import ENCODEC_FILE, VOCAB_FILE
    from bark_omni.tiny import random_bark_modules

    target = root / dims
    target.mkdir(parents=True, exist_ok=True)
    for stage, module in random_bark_modules(dims).items():
        save_stage(target / SMALL_FILES[stage], module)
    for name in (VOCAB_FILE, ENCODEC_FILE):
        shutil.copy(tiny / name, target / name)
    return target


def _request(text: str, model: Path, seconds: float, **longform):
    from bark_omni.api import build_request
    from bark_omni.options import GenerationOptions

    options = GenerationOptions.from_kwargs(max_gen_duration_s=seconds, allow_early_stop=False)
    return build_request(text, "v2/en_speaker_6", options=options, seed=1, model=str(model), longform=longform)


def warm_up(host, model: Path) -> None:
    """One short run first, so that no timed run pays for loading the models."""
    from bark_omni.api import run

    run(_request("Hello there.", model, 0.5), host=host)


def bench_longform(host, model: Path, segments: int, seconds: float, repeats: int) -> dict:
    from bark_omni.api import run

    warm_up(host, model)
    text = make_text(segments)
    out = {}
    for label, batch in (("batched", segments), ("sequential", 1)):
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = run(_request(text, model, seconds, stable_mode_interval=1, batch_size=batch), host=host)
            wall = time.perf_counter() - start
            rates.append(len(result.audio) / result.sample_rate / wall)
        out[label] = {"audio_s_per_wall_s": round(statistics.median(rates), 3),
                      "audio_s": round(len(result.audio) / result.sample_rate, 1)}
    out["batched_over_sequential"] = round(out["batched"]["audio_s_per_wall_s"] / out["sequential"]["audio_s_per_wall_s"], 2)
    return out


def bench_streaming(host, model: Path, segments: int, seconds: float, repeats: int) -> dict:
    from bark_omni.api import run
    from bark_omni.streaming import stream_request

    text = make_text(segments)
    firsts, totals, plain = [], [], []
    for _ in range(repeats):
        request = _request(text, model, seconds, stable_mode_interval=0)
        start = time.perf_counter()
        first = None
        for chunk in stream_request(request, host=host):
            if first is None and chunk.samples.size:
                first = time.perf_counter() - start
        totals.append(time.perf_counter() - start)
        firsts.append(first)
        start = time.perf_counter()
        run(request, host=host)
        plain.append(time.perf_counter() - start)
    first, total, whole = (statistics.median(v) for v in (firsts, totals, plain))
    return {"first_audio_s": round(first, 2), "stream_total_s": round(total, 2), "non_streamed_s": round(whole, 2),
            "first_over_total": round(first / total, 3), "segments": segments}


PEAK = """
# VmHWM is this process's own peak: ru_maxrss would carry the parent's over fork/exec
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024)
"""
OFFLOAD_SCRIPTS = {
    "dropin": """
import sys, torch
import bark_omni.generation as g
torch.manual_seed(0)
g.preload_models()
s = g.generate_text_semantic("Hello there, this is a test.", max_gen_duration_s=float(sys.argv[1]), allow_early_stop=False, silent=True)
a = g.codec_decode(g.generate_fine(g.generate_coarse(s, silent=True)))
""" + PEAK,
    "generate_audio": """
import sys, warnings
warnings.simplefilter("ignore")
import bark_omni
bark_omni.generate_audio("Hello there, this is a test.", seed=0, silent=True, max_gen_duration_s=float(sys.argv[1]),
                         allow_early_stop=False)
""" + PEAK,
}
"""Each entry point in a fresh process: Bark's drop-in functions, and ``bark_omni.generate_audio`` (the pipeline)."""


def peak_rss_mib(script: str, model: Path, seconds: float, offload: bool) -> int:
    env = dict(os.environ, BARK_OMNI_MODEL=str(model), SUNO_OFFLOAD_CPU=str(offload), BARK_OMNI_LOAD_PLUGINS="")
    done = subprocess.run([sys.executable, "-c", script, str(seconds)], env=env, capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip().splitlines()[-1])


def bench_offload(model: Path, seconds: float, repeats: int = 1) -> dict:
    out = {}
    for name, script in OFFLOAD_SCRIPTS.items():
        peaks = {label: statistics.median(peak_rss_mib(script, model, seconds, flag) for _ in range(repeats))
                 for label, flag in (("resident", False), ("offload", True))}
        out[name] = {f"{label}_peak_rss_mib": int(peak) for label, peak in peaks.items()}
        out[name]["offload_over_resident"] = round(peaks["offload"] / peaks["resident"], 3)
    return out


def table(report: dict) -> str:
    """The figures side by side, for reading (the JSON after it is for machines)."""
    rows = [f"dims={report['dims']} segments={report['segments']} s/segment={report['seconds_per_segment']} "
            f"threads={report['threads']} repeats={report['repeats']} (medians)"]
    if "longform" in report:
        lf = report["longform"]
        rows.append(f"long-form  audio s per wall s: batched {lf['batched']['audio_s_per_wall_s']}  "
                    f"sequential {lf['sequential']['audio_s_per_wall_s']}  ratio {lf['batched_over_sequential']}  "
                    f"({lf['batched']['audio_s']} s of audio)")
    if "streaming" in report:
        st = report["streaming"]
        rows.append(f"streaming  first audio {st['first_audio_s']} s  stream total {st['stream_total_s']} s  "
                    f"not streamed {st['non_streamed_s']} s  ({st['segments']} segments)")
    for name, figures in report.get("offload", {}).items():
        rows.append(f"offload    {name}: peak RSS {figures['resident_peak_rss_mib']} MiB resident, "
                    f"{figures['offload_peak_rss_mib']} MiB with SUNO_OFFLOAD_CPU ({figures['offload_over_resident']}x)")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", choices=("tiny", "small"), default="tiny")
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=12.0, help="audio seconds per segment")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--stream-segments", type=int, default=3, help="segments of the streamed text")
    parser.add_argument("--offload-seconds", type=float, default=2.0, help="audio seconds of the offload runs")
    parser.add_argument("--offload-only", action="store_true")
    parser.add_argument("--no-offload", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch

    from bark_omni.host import Host

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory() as tmp:
        model = model_dir(args.dims, Path(tmp))
        report = {"dims": args.dims, "segments": args.segments, "seconds_per_segment": args.seconds,
                  "threads": torch.get_num_threads(), "repeats": args.repeats}
        if not args.offload_only:
            host = Host(block=["watermark", "guardrails", "provenance"])
            report["longform"] = bench_longform(host, model, args.segments, args.seconds, args.repeats)
            report["streaming"] = bench_streaming(host, model, args.stream_segments, args.seconds, args.repeats)
        if not args.no_offload:
            report["offload"] = bench_offload(model, args.offload_seconds, args.repeats)
    print(table(report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
