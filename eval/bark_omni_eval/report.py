"""What a run leaves behind for people: ``run.json`` (machines, baselines), ``report.md`` and ``plots/``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ARROWS = {"higher": "↑", "lower": "↓", "both": "↕"}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def _metric_keys(record: dict[str, Any]) -> list[str]:
    return sorted(record["summary"])


def plot_summary(record: dict[str, Any]) -> Any:
    """One panel per metric number: per-prompt means (bars), each seed (dots), the baseline (dashed line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in _metric_keys(record) if any(k.split(".", 1)[0] in i["metrics"] for i in record["items"])]
    if not keys:
        return None
    baseline = {r["key"]: r["baseline"] for r in record.get("comparison", {}).get("rows", [])}
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        metric, sub = key.split(".", 1)
        values = {}
        for item in record["items"]:
            if sub in item["metrics"].get(metric, {}):
                values.setdefault(item["prompt"], []).append(item["metrics"][metric][sub])
        prompts = list(values)
        means = [sum(v) / len(v) for v in values.values()]
        if all(m >= 0 for m in means):
            ax.bar(range(len(prompts)), means, color="#7aa6c2", label="mean")
        else:  # negative scales (LUFS, dBTP): bars from 0 would mislead
            ax.scatter(range(len(prompts)), means, marker="_", s=400, color="#2c6e99", label="mean")
        for x, prompt in enumerate(prompts):
            ax.scatter([x] * len(values[prompt]), values[prompt], color="black", s=12, zorder=3)
        if baseline.get(key) is not None:
            ax.axhline(baseline[key], color="#c0392b", linestyle="--", label="baseline")
            ax.legend(fontsize=7)
        summary = record["summary"][key]
        title = metric if sub == metric else key
        ax.set_title(f"{title} {ARROWS.get(summary['direction'], '')}", fontsize=9)
        ax.set_xticks(range(len(prompts)), prompts, rotation=30, ha="right", fontsize=7)
        ax.set_xlim(-0.6, max(len(prompts), 2) - 0.4)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_timings(record: dict[str, Any]) -> Any:
    """Seconds per stage for every clip, stacked, with the clip's real-time factor on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [i for i in record["items"] if i["timings"]]
    if not items:
        return None
    stages = list(dict.fromkeys(k for i in items for k in i["timings"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(items) + 2), 3.4))
    bottom = [0.0] * len(items)
    for stage in stages:
        heights = [i["timings"].get(stage, 0.0) for i in items]
        ax.bar(range(len(items)), heights, bottom=bottom, label=stage.removesuffix("_s"))
        bottom = [b + h for b, h in zip(bottom, heights)]
    for x, (item, total) in enumerate(zip(items, bottom)):
        if item["seconds"]:
            ax.text(x, total, f"RTF {total / item['seconds']:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(items)), [f"{i['prompt']}/s{i['seed']}" for i in items], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("seconds")
    ax.set_title("generation time per stage")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def markdown(record: dict[str, Any], plots: list[str], command: str = "") -> str:
    run, suite = record["run"], record["suite"]
    items = record["items"]
    made = [i for i in items if i["seconds"]]
    comparison = record.get("comparison")
    lines = [f"# Evaluation: {suite['name']}", ""]
    if suite.get("description"):
        lines += [suite["description"], ""]
    lines += [
        f"- model: `{run['model']}` (`{run['model_fingerprint'] or 'unknown'}`)"
        + (f", adapters `{run['adapters']}`" if run.get("adapters") else ", no adapters"),
        f"- {len(made)} of {len(items)} clips generated, {sum(i['seconds'] for i in made):.1f} s of audio, seeds {run['seeds']}, "
        f"device {run['device']}, {run['seconds']:.0f} s in all",
        f"- run at {run['created']} with " + ", ".join(f"{k} {v}" for k, v in run["versions"].items()),
        "",
    ]
    if comparison:
        bad = comparison["regressed"]
        verdict = f"**FAIL: {len(bad)} regression(s)** ({', '.join(bad)})" if bad else "**PASS**: no metric regressed"
        base = comparison["baseline"]
        lines += [f"## Against the baseline: {verdict}", "",
                  f"Baseline: suite `{base['suite']}` run at {base['created']} (`{base['model_fingerprint']}`).", ""]
    lines += ["## Summary", "", "Arrows: ↑ higher is better, ↓ lower is better, ↕ any change beyond the tolerance counts.", ""]
    rows = {r["key"]: r for r in comparison["rows"]} if comparison else {}
    header = "| metric | value | range | clips |" + (" baseline | change | tolerance | status |" if comparison else "")
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for key in sorted(set(record["summary"]) | set(rows)):
        s = record["summary"].get(key)
        arrow = ARROWS.get((s or rows.get(key, {})).get("direction") or "", "")
        value = _fmt(s["mean"]) if s else "–"
        spread = f"{_fmt(s.get('min'))} – {_fmt(s.get('max'))}" if s and "min" in s else "–"
        line = f"| {key} {arrow} | {value} | {spread} | {s['n'] if s else 0} |"
        if comparison:
            r = rows.get(key, {})
            status = {"regressed": "❌ regressed", "missing": "❌ missing", "improved": "✅ improved", "ok": "ok",
                      "new": "new"}.get(r.get("status", ""), "")
            delta = r.get("delta")
            line += (f" {_fmt(r.get('baseline'))} | {'–' if delta is None else f'{delta:+.3f}'} |"
                     f" {_fmt(r.get('tolerance'))} | {status} |")
        lines.append(line)
    lines.append("")
    if record["skipped"]:
        lines += ["## Skipped metrics", ""] + [f"- **{k}**: {v}" for k, v in sorted(record["skipped"].items())] + [""]
    metric_keys = sorted(record["summary"])
    per_clip = [k for k in metric_keys if any(k.split(".", 1)[0] in i["metrics"] for i in items)]
    lines += ["## Clips", "", "| clip | seconds | audio | " + " | ".join(per_clip) + " |",
              "|" + "---|" * (3 + len(per_clip))]
    for item in items:
        cells = []
        for key in per_clip:
            metric, sub = key.split(".", 1)
            cells.append(_fmt(item["metrics"].get(metric, {}).get(sub)) if metric in item["metrics"]
                         else ("skipped" if metric in item["skipped"] else "–"))
        audio = f"[wav]({item['audio']})" if item["audio"] else (item["error"] or "–")
        lines.append(f"| {item['prompt']} / seed {item['seed']} | {_fmt(item['seconds'], 2)} | {audio} | " + " | ".join(cells) + " |")
    lines.append("")
    skipped_items = [(i, m, why) for i in items for m, why in i["skipped"].items() if m not in record["skipped"]]
    if skipped_items:
        lines += ["Per-clip skips: " + "; ".join(f"{i['prompt']}/s{i['seed']} {m}: {why}" for i, m, why in skipped_items), ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots] + [""]
    if command:
        lines += ["## Reproduce", "", f"    {command}", ""]
    return "\n".join(lines)


def write_report(record: dict[str, Any], out_dir: Path, command: str = "") -> dict[str, Path]:
    """Write run.json, plots/*.png and report.md under ``out_dir`` (each file atomically)."""
    from bark_omni.files import atomic_output

    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for name, draw in (("metrics.png", plot_summary), ("timings.png", plot_timings)):
        fig = draw(record)
        if fig is None:
            continue
        import matplotlib.pyplot as plt

        with atomic_output(plots_dir / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        plots.append(f"plots/{name}")
    paths = {"json": out_dir / "run.json", "markdown": out_dir / "report.md"}
    with atomic_output(paths["json"]) as tmp:
        tmp.write_text(json.dumps(record, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    with atomic_output(paths["markdown"]) as tmp:
        tmp.write_text(markdown(record, plots, command), encoding="utf-8")
    return paths
