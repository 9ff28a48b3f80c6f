"""CLI command of the checkpoints plugin: ``convert``. Registered through the ``register_commands`` hook; nothing
heavy is imported until it runs."""

from __future__ import annotations

from pathlib import Path

import typer


def convert(
    src: str = typer.Argument(..., help="A model name ('bark', 'bark-small', 'tiny') or a directory in any known format."),
    dst: Path = typer.Argument(..., help="New directory for the safetensors + JSON layout."),
    to: str = typer.Option("bark-omni", "--to", help="Layout to write: 'bark-omni' (memory-mapped safetensors + JSON) "
                           "or 'transformers' (what transformers' BarkModel.from_pretrained loads)."),
) -> None:
    """Convert a Bark checkpoint (suno .pt, transformers, ...) to safetensors + JSON that load memory-mapped, or
    export it to transformers' Bark layout (--to transformers)."""
    from .converted import convert_model

    manifest = convert_model(src, dst, to=to)
    source = manifest["source"]
    typer.echo(f"converted {source['path']} ({source['format']}) to {dst}; fingerprint {manifest['fingerprint']}", err=True)
    typer.echo(str(dst))


def register(app: typer.Typer) -> None:
    """Add the command to ``app`` (once, however often the hook runs)."""
    if any(getattr(c, "name", None) == "convert" for c in app.registered_commands):
        return
    app.command("convert")(convert)
