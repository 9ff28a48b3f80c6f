"""CLI commands ``bark-omni train`` and ``bark-omni data synth|verify|prepare`` (heavy imports inside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from bark_omni.hookspecs import hookimpl


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _bar(desc: str) -> tuple[Any, Callable[[int, int], None]]:
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit="row", leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update


def train_command(
    config: Path = typer.Argument(..., help="Training config (TOML or JSON); see plugins/train/recipes/."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the config's output from its last checkpoint."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a config key: --set steps=200 --set augment.flip=0.5"),
) -> None:
    """Train adapters and the fusion block with Bark frozen (run under torchrun for several GPUs or nodes)."""
    from .config import load_config
    from .trainer import train

    report = train(load_config(config, set_ or []), resume=resume)
    if report:
        _echo_json(report)


data_app = typer.Typer(help="Check, prepare and synthesise training data.", no_args_is_help=True)


@data_app.command("verify")
def verify_command(
    manifest: Path = typer.Argument(..., help="JSONL manifest, one example per line."),
    report: Optional[Path] = typer.Option(None, help="Where to write the JSON report (default MANIFEST.verify.json)."),
    min_sample_rate: int = typer.Option(16_000, help="Lowest accepted audio sample rate (Hz)."),
    max_sample_rate: int = typer.Option(48_000, help="Highest accepted audio sample rate (Hz)."),
    min_duration: float = typer.Option(0.1, help="Shortest accepted audio (s)."),
    max_duration: float = typer.Option(30.0, help="Longest accepted audio (s)."),
) -> None:
    """Check splits for leakage (by id and content hash), that files decode, and sample rates and durations."""
    from bark_omni.host import default_host

    from .errors import DataError, name_rows
    from .verify import Bounds, verify_manifest, write_report

    kinds = {name: kind.validate for name, kind in default_host().control_kinds.items()}
    bar, update = _bar("verify")
    try:
        result = verify_manifest(manifest, Bounds(min_sample_rate, max_sample_rate, min_duration, max_duration),
                                 control_validators=kinds, progress=update)
    finally:
        bar.close()
    target = report or manifest.with_name(manifest.name + ".verify.json")
    write_report(result, target)
    summary = {k: result[k] for k in ("manifest", "ok", "rows", "valid_rows", "splits", "domains")}
    _echo_json({**summary, "failures": len(result["failures"]), "leakage": len(result["leakage"]), "report": str(target)})
    if not result["ok"]:
        problems = [f"{f['row']}: {f['problem']}" for f in result["failures"]]
        raise DataError(f"{len(problems)} problem(s): {name_rows(problems)}; every one is listed in {target}")


@data_app.command("prepare")
def prepare_command(
    manifest: Path = typer.Argument(..., help="JSONL manifest (check it first with `bark-omni data verify`)."),
    cache: Optional[Path] = typer.Option(None, help="Where targets go (default: a 'cache' folder beside the manifest)."),
    model: str = typer.Option("bark", help="The frozen Bark that teaches: 'bark', 'bark-small', 'tiny' or a directory."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    temp: float = typer.Option(0.7, help="Teacher's sampling temperature."),
    top_k: Optional[int] = typer.Option(None, help="Teacher's top-k."),
    max_duration: float = typer.Option(14.0, help="Longest semantic target (s)."),
    seed: int = typer.Option(0, help="Seed of the teacher's draws (one stream per row id)."),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)."),
) -> None:
    """Cache training targets: EnCodec codes of audio, semantic tokens from the frozen Bark teacher."""
    import torch

    from bark_omni.host import default_host
    from bark_omni.models import load_models

    if threads > 0:
        torch.set_num_threads(threads)

    from .manifest import read_manifest
    from .targets import TeacherSettings, prepare_targets

    rows = read_manifest(manifest)
    models = load_models(model, default_host(), device)
    bar, update = _bar("prepare")
    try:
        summary = prepare_targets(rows, cache or manifest.parent / "cache", models,
                                  TeacherSettings(temp=temp, top_k=top_k, max_duration_s=max_duration, seed=seed),
                                  progress=update)
    finally:
        bar.close()
    _echo_json(summary)


@data_app.command("synth")
def synth_command(
    out: Path = typer.Argument(..., help="Folder for images, audio and manifest.jsonl."),
    classes: int = typer.Option(4, help="Number of classes (2..8)."),
    per_class: int = typer.Option(48, help="Rows per class."),
    val_per_class: int = typer.Option(8, help="Validation rows per class."),
    tokens: int = typer.Option(48, help="Semantic tokens per row."),
    seed: int = typer.Option(0, help="Seed of everything random."),
    targets: str = typer.Option("pattern", help="'pattern': class token motifs; 'teacher': let Bark read captions."),
) -> None:
    """Write the synthetic shapes-and-beats dataset used to prove training works."""
    from .synthetic import make_dataset

    manifest = make_dataset(out, classes=classes, per_class=per_class, val_per_class=val_per_class, tokens=tokens,
                            seed=seed, targets=targets)
    _echo_json({"manifest": str(manifest), "rows": classes * per_class})


@data_app.command("task")
def task_command(
    out: Path = typer.Argument(..., help="Folder for images, manifest.jsonl and task.json."),
    seed: int = typer.Option(..., help="The task's seed: it draws classes, styles, rhythms and tokens."),
    image_classes: Optional[int] = typer.Option(None, help="Override: number of image classes (2..8)."),
    image_style: Optional[str] = typer.Option(None, help="Override: colour, shape or texture."),
    rhythm_classes: Optional[int] = typer.Option(None, help="Override: number of rhythms (2..5)."),
    rhythm_style: Optional[str] = typer.Option(None, help="Override: steady or swing."),
    distractor: bool = typer.Option(False, help="Give every row a caption (style_text) that carries neither factor."),
) -> None:
    """Write a two-factor task (the image decides what, the control events decide when) from a seed."""
    from dataclasses import asdict, replace

    from .factors import TaskSpec, make_task

    spec = TaskSpec.from_seed(seed)
    overrides = {"image_classes": image_classes, "image_style": image_style, "rhythm_classes": rhythm_classes,
                 "rhythm_style": rhythm_style}
    spec = replace(spec, distractor=distractor, **{k: v for k, v in overrides.items() if v is not None})
    _echo_json({"manifest": str(make_task(out, spec)), "spec": asdict(spec)})


def proof_command(
    out: Path = typer.Argument(..., help="Folder for the base model, tasks, runs and proof.json."),
    task_seeds: str = typer.Option("201,202,203", help="Comma-separated task seeds (pick ones nobody tuned on)."),
    train_seeds: str = typer.Option("0,1", help="Training seeds of the routed fusion (the ablation trains the first)."),
    sampling_seeds: str = typer.Option("0,1,2", help="Sampling seeds of the probe's generations."),
    steps: int = typer.Option(600, help="Training steps per run (600: about 10 min each on one CPU thread at the proof's size)."),
    distractor: bool = typer.Option(False, help="Give every row a caption (style_text) that carries neither factor."),
    image_encoder: str = typer.Option("pretrained", help="The tiny CLIP: 'pretrained' on a corpus of its own (about a "
                                      "minute, once), or 'random' (its seeded weights)."),
) -> None:
    """Train and probe the fusion on two-factor tasks; per-factor accuracies with 95% intervals (see docs/fusion.md)."""
    from .proof import run_proof

    ints = lambda text: [int(v) for v in text.split(",") if v.strip()]  # noqa: E731
    report = run_proof(out, ints(task_seeds), ints(train_seeds), ints(sampling_seeds), steps=steps,
                       spec_overrides={"distractor": True} if distractor else None, image_encoder=image_encoder)
    _echo_json({"proof": str(Path(out) / "proof.json"), "tables": str(Path(out) / "proof.md"), "tasks": list(report["tasks"])})


@hookimpl
def register_commands(app: typer.Typer) -> None:
    if any(c.name == "train" for c in app.registered_commands):
        return  # already added to this app (main() may run more than once in a process)
    app.command("train")(train_command)
    app.command("proof")(proof_command)
    app.add_typer(data_app, name="data")
