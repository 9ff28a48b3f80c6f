"""The provenance plugin: a manifest beside every saved output (``sidecar_files``), and ``bark-omni replay``.

Opting out: ``bark-omni generate --no-manifest`` (or ``Host(block=["provenance"])``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from bark_omni.hookspecs import hookimpl


@hookimpl
def sidecar_files(path: Path, audio_sha256: str, request: Any, result: Any) -> dict[str, bytes]:
    """The manifest, written together with the audio it describes (it hashes the bytes being written)."""
    from .manifest import manifest_bytes, manifest_path_for

    return {manifest_path_for(Path(path)).name: manifest_bytes(Path(path), request, result, file_sha256=audio_sha256)}


@hookimpl
def register_commands(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        manifest: Path = typer.Argument(..., help="A .manifest.json written beside a generated file."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the replayed audio here."),
        device: Optional[str] = typer.Option(None, help="Device (default: the manifest's)."),
    ) -> None:
        """Regenerate what MANIFEST describes; exit 0 if the audio is bit-identical, 1 if it differs."""
        from bark_omni.errors import err
        from bark_omni.files import write_audio

        from bark_omni.validate import check_output_path

        from .replay import replay

        if output is not None:
            check_output_path(output)
        report = replay(manifest, device=device)
        if output is not None:
            write_audio(output, report.audio, report.sample_rate)
            err(f"wrote {output}")
        if report.identical:
            typer.echo(f"identical: float32 sha256 {report.actual_sha256[:16]}... matches the manifest")
            return
        typer.echo(f"DIFFERENT: {', '.join(report.differences)} (expected {report.expected_sha256[:16]}..., "
                   f"got {report.actual_sha256[:16]}...); same device, versions and watermark key are needed")
        raise typer.Exit(1)
