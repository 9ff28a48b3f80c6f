"""Guardrail coverage and false positives per obfuscation kind on generated adversarial / near-miss benign sets.

    .venv/bin/python bench/guardrails_adversarial.py --part heldout --per-seed 20 --seed 1

Seeds are split into a ``tune`` part (the blocklist may be adjusted while looking at it) and a ``heldout`` part
(report these figures; never tune on them). Each seed sentence gets --per-seed variants with 1-3 obfuscations
composed at random; a prompt counts toward every kind it contains. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="heldout", choices=["tune", "heldout"])
    parser.add_argument("--per-seed", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=10, help="print this many misses / false positives")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from bark_omni_guardrails import check_text
    from bark_omni_guardrails.adversarial import BENIGN, evaluate_items, generate

    start = time.perf_counter()
    items = generate(args.part, per_seed=args.per_seed, seed=args.seed)
    report = evaluate_items(items, lambda text: not check_text(text).allowed)
    harmful = sum(i.label != BENIGN for i in items)
    print(f"part {args.part}: {len(items)} prompts ({harmful} harmful, {len(items) - harmful} benign), "
          f"{args.per_seed} variants per seed, seed {args.seed}")
    print(report.as_table())
    if report.misses:
        print("\nplain harmful seeds missed: " + " | ".join(report.misses[: args.show]))
    if report.false_positives:
        print("plain benign seeds blocked: " + " | ".join(report.false_positives[: args.show]))
    print(f"(ran in {time.perf_counter() - start:.1f} s)")
    if args.json:
        print(json.dumps({k: vars(v) for k, v in report.rows.items()}, indent=2))


if __name__ == "__main__":
    main()
