"""Watermark robustness by attack and clip length: detection rate at p <= 1e-3, the false-positive rate measured
on unmarked clips against unrelated keys, the detection rate at the threshold that keeps the *measured* FPR
<= 1e-3, and the quality cost (SNR), on real speech (espeak-ng, many voices). Run:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/watermark_robustness.py --lengths 3,6,10,20 --clips 2 --null-keys 5

--scheme audioseal (or both) measures AudioSeal side by side when its weights are present locally
($BARK_OMNI_AUDIOSEAL_DIR); AudioSeal has no key, so its null is the unmarked clips after the same attack, and
its threshold is the one that keeps the measured FPR <= 1e-3. Prints Markdown tables; --json adds raw figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def clips_of_length(seconds: float, count: int, seed: int) -> list:
    """``count`` espeak-ng clips cut to exactly ``seconds`` (sentences concatenated until long enough)."""
    import numpy as np

    from bark_omni_watermark import speech

    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        voice = speech.VOICES[int(rng.integers(len(speech.VOICES)))]
        rate, pitch = int(rng.integers(140, 185)), int(rng.integers(30, 70))
        audio = np.zeros(0)
        k = int(rng.integers(len(speech.SENTENCES)))
        while len(audio) < seconds * 24000:
            audio = np.concatenate([audio, speech.speak(speech.SENTENCES[k % len(speech.SENTENCES)], voice, rate, pitch)])
            k += 1
        out.append(audio[: int(seconds * 24000)])
    return out


def patchwork_table(by_length: dict, attacks: list[str]) -> list[str]:
    import numpy as np

    lengths = sorted(by_length)
    lines = ["| attack | " + " | ".join(f"{n:g} s" for n in lengths) + " | all |",
             "| --- |" + " --- |" * (len(lengths) + 1)]
    for name in attacks + ["overall"]:
        cells, hit, total = [], 0, 0
        for n in lengths:
            rows = {r.attack: r for r in by_length[n].rows}
            row = by_length[n].overall if name == "overall" else rows[name]
            cells.append(f"{row.detected}/{row.trials}")
            hit, total = hit + row.detected, total + row.trials
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {hit / max(total, 1):.2f} |")
    null = np.concatenate([np.asarray(by_length[n].null_p) for n in lengths])
    marked = np.concatenate([np.asarray(by_length[n].overall.marked_p) for n in lengths])
    cut = np.sort(null)[int(np.floor(1e-3 * len(null)))] if len(null) else 1.0
    lines.append(f"\nmeasured FPR at p <= 1e-3: {int((null <= 1e-3).sum())}/{len(null)} = {np.mean(null <= 1e-3):.5f}; "
                 f"share of null p <= 0.01: {np.mean(null <= 0.01):.4f}, <= 0.1: {np.mean(null <= 0.1):.4f}")
    lines.append(f"TPR at the threshold keeping the measured FPR <= 1e-3 (p < {cut:.3g}): {np.mean(marked < cut):.3f} "
                 f"over {len(marked)} marked trials")
    right = sum(by_length[n].overall.payloads_right for n in lengths)
    found = sum(by_length[n].overall.detected for n in lengths)
    lines.append(f"payload exact where detected: {right}/{found}")
    snr = [by_length[n].snr_db for n in lengths]
    lines.append("SNR (median per length): " + ", ".join(f"{n:g} s {v:.1f} dB" for n, v in zip(lengths, snr)))
    return lines


def audioseal_table(clips_by_length: dict, attacks: list[str], seed: int) -> list[str]:
    import numpy as np

    from bark_omni_audioseal import detect, embed
    from bark_omni_audioseal.models import load_models, weights_dir
    from bark_omni_watermark.attacks import ATTACKS
    from bark_omni_watermark.measure import snr_db

    folder = weights_dir()
    if folder is None:
        return ["AudioSeal: not measured (no weights in $BARK_OMNI_AUDIOSEAL_DIR or ~/.config/bark-omni/audioseal)"]
    models = load_models(str(folder))
    rng = np.random.default_rng(seed)
    marked_scores, null_scores, snrs = {}, [], []
    for n, clips in clips_by_length.items():
        for clean in clips:
            payload = int(rng.integers(0, 2**16))
            marked = embed(clean, 24000, payload, models=models).astype(np.float64)
            snrs.append(snr_db(clean, marked))
            for name in attacks:
                attack_seed = int(rng.integers(2**31))
                attacked = ATTACKS[name](marked, 24000, np.random.default_rng(attack_seed))
                marked_scores.setdefault((name, n), []).append(detect(attacked, 24000, models=models).score)
                null_scores.append(detect(ATTACKS[name](clean, 24000, np.random.default_rng(attack_seed)), 24000,
                                          models=models).score)
    null = np.sort(np.asarray(null_scores))[::-1]
    cut = null[int(np.floor(1e-3 * len(null)))] if len(null) else 1.0
    lengths = sorted(clips_by_length)
    lines = [f"AudioSeal ({models.source}): threshold {cut:.4f} keeps the measured FPR <= 1e-3 over {len(null)} nulls",
             "| attack | " + " | ".join(f"{n:g} s" for n in lengths) + " |", "| --- |" + " --- |" * len(lengths)]
    for name in attacks:
        lines.append(f"| {name} | " + " | ".join(
            f"{int((np.asarray(marked_scores[(name, n)]) > cut).sum())}/{len(marked_scores[(name, n)])}" for n in lengths) + " |")
    lines.append(f"SNR median {np.median(snrs):.1f} dB")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="3,6,10,20", help="clip lengths in seconds")
    parser.add_argument("--clips", type=int, default=2, help="clips per length")
    parser.add_argument("--null-keys", type=int, default=5)
    parser.add_argument("--attacks", default="", help="comma-separated subset (default: issue 15's attacks)")
    parser.add_argument("--scheme", default="patchwork", choices=["patchwork", "audioseal", "both"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from bark_omni_watermark import scheme
    from bark_omni_watermark.attacks import ISSUE_15_ATTACKS
    from bark_omni_watermark.measure import robustness

    start = time.perf_counter()
    attacks = [a for a in args.attacks.split(",") if a] or list(ISSUE_15_ATTACKS)
    lengths = [float(n) for n in args.lengths.split(",")]
    clips = {n: clips_of_length(n, args.clips, args.seed + int(10 * n)) for n in lengths}
    print(f"{args.clips} espeak-ng clips per length {args.lengths} s at 24 kHz, attacks {len(attacks)}, "
          f"{args.null_keys} unrelated keys per null trial, seed {args.seed}")
    reports = {}
    if args.scheme in ("patchwork", "both"):
        for n in lengths:
            def progress(stage: str, done: int, total: int, n: float = n) -> None:
                print(f"\r{n:g} s: {done}/{total} clips ({time.perf_counter() - start:.0f} s)", end="", file=sys.stderr,
                      flush=True)

            reports[n] = robustness(clips[n], 24000, key=b"bench-key", attacks=attacks, null_keys=args.null_keys,
                                    seed=args.seed, progress=progress)
        print(file=sys.stderr)
        print(f"\n## {scheme.SCHEME} (alpha {scheme.ALPHA}, cells {scheme.CELL_S * 1000:g} ms x {scheme.BAND_HZ:g} Hz, "
              f"search: speed +-{scheme.MAX_SPEED_CHANGE:g}, pitch +-{scheme.MAX_PITCH_CHANGE:g}, tempo "
              f"+-{scheme.MAX_TEMPO_CHANGE:g}): detected / trials at p <= 1e-3")
        print("\n".join(patchwork_table(reports, attacks)))
    if args.scheme in ("audioseal", "both"):
        print("\n## AudioSeal\n" + "\n".join(audioseal_table(clips, attacks, args.seed)))
    print(f"\n(ran in {time.perf_counter() - start:.0f} s)")
    if args.json:
        print(json.dumps({f"{n:g}": {r.attack: {"tpr": r.tpr, "fpr": r.fpr, "bit_accuracy": r.bit_accuracy}
                                     for r in rep.rows} for n, rep in reports.items()}, indent=2))


if __name__ == "__main__":
    main()
