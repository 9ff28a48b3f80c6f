"""The guardrail plugin: ``check_request`` runs the blocklist over every text a request carries, and
``bark-omni guardrails check|eval`` expose it on the command line."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from bark_omni.hookspecs import hookimpl


@hookimpl
def check_request(request: Any) -> Any:
    from . import check_request as check

    return check(request)


@hookimpl
def register_guardrails(register: Any) -> None:
    """The optional text classifier, when a model folder is configured or present (see ``classifier``)."""
    from bark_omni.specs import GuardrailSpec

    from .classifier import check, model_folder

    if model_folder() is not None:
        register(GuardrailSpec(name="classifier", check=check, package="bark-omni-guardrails",
                               description="transformers text classifier from a local folder"))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    group = typer.Typer(help="Prompt guardrails: check a text, or measure coverage and false positives.",
                        no_args_is_help=True)

    @group.command("check")
    def check(text: str = typer.Argument(..., help="Text to check."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON for machines.")) -> None:
        """Say whether TEXT would be blocked (exit 3) or allowed (exit 0), with the category and span."""
        from . import check_text

        verdict = check_text(text)
        if as_json:
            typer.echo(json.dumps({"allowed": verdict.allowed, "category": verdict.category,
                                   "span": verdict.span, "reason": verdict.reason}))
        elif verdict.allowed:
            typer.echo("allowed")
        else:
            start, end = verdict.span
            typer.echo(f"blocked ({verdict.category}) at [{start}:{end}] {text[start:end]!r}")
        raise typer.Exit(0 if verdict.allowed else 3)

    @group.command("eval")
    def evaluate_cmd(
        prompts: Optional[str] = typer.Option(None, help="JSONL of {text, label} (label 'benign' or a category); "
                                                         "default: the shipped evaluation set."),
        synthetic: int = typer.Option(5, help="Machine obfuscations per plain prompt to add (0: none)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
    ) -> None:
        """Coverage of harmful prompts and false positives on benign ones."""
        from pathlib import Path

        from bark_omni.errors import InvalidInputError

        from . import Prompt, evaluate, shipped_prompts, synthetic_prompts

        if prompts:
            path = Path(prompts)
            if not path.is_file():
                raise InvalidInputError(f"{path} does not exist; pass a JSONL file of {{\"text\", \"label\"}} rows")
            items = [Prompt(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            items = shipped_prompts()
        reports = {"hand-written": evaluate(items)}
        if synthetic:
            reports["synthetic obfuscations"] = evaluate(synthetic_prompts(items, per_prompt=synthetic))
        if as_json:
            typer.echo(json.dumps({k: r.as_dict() for k, r in reports.items()}, indent=2))
            return
        for title, report in reports.items():
            typer.echo(f"## {title}\n{report.as_table()}\n")
            if report.misses:
                typer.echo("missed: " + " | ".join(report.misses))
            if report.false_positives:
                typer.echo("false positives: " + " | ".join(report.false_positives))

    app.add_typer(group, name="guardrails")
