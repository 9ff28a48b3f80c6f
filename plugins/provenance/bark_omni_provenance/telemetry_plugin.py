"""The telemetry plugin (opt-in, local only): records each generation when enabled, and adds
``bark-omni rate MANIFEST 1-5`` and ``bark-omni telemetry enable|disable|status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bark_omni.hookspecs import hookimpl


@hookimpl
def generation_finished(request: Any, result: Any) -> None:
    from . import telemetry

    if telemetry.enabled():
        telemetry.append(telemetry.generation_event(request, result))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    @app.command("rate")
    def rate_cmd(
        manifest: Path = typer.Argument(..., help="The .manifest.json of the generation you rate."),
        rating: int = typer.Argument(..., help="1 (bad) to 5 (excellent)."),
    ) -> None:
        """Record your 1-5 rating of a generation in the local telemetry file (never sent anywhere)."""
        from bark_omni.errors import err

        from .telemetry import rate

        path = rate(manifest, rating)
        err(f"recorded rating {rating} in {path}")

    group = typer.Typer(help="Opt-in local telemetry (off by default; nothing leaves this machine).",
                        no_args_is_help=True)

    @group.command("enable")
    def enable() -> None:
        """Record latency and quality signals of each generation in a local JSONL file."""
        from .telemetry import log_file, set_enabled

        set_enabled(True)
        typer.echo(f"telemetry on: events go to {log_file()} (local only)")

    @group.command("disable")
    def disable() -> None:
        """Stop recording."""
        from .telemetry import set_enabled

        set_enabled(False)
        typer.echo("telemetry off")

    @group.command("status")
    def status() -> None:
        """Say whether telemetry is on and where its file is."""
        from .telemetry import enabled, log_file

        typer.echo(f"telemetry {'on' if enabled() else 'off'}; file {log_file()}")

    app.add_typer(group, name="telemetry")
