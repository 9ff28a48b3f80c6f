"""The serve plugin: the ``serve``, ``studio`` and ``batch`` commands (``register_commands``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from bark_omni.hookspecs import hookimpl

KEYS_ENV = "BARK_OMNI_SERVE_API_KEYS"


def _pairs(values: List[str], what: str) -> dict[str, str]:
    from bark_omni.errors import InvalidInputError

    found = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(f"--{what} takes NAME=PATH; got {item!r}")
        if not Path(path).expanduser().exists():
            raise InvalidInputError(f"--{what} {name}: {path} does not exist")
        found[name] = str(Path(path).expanduser().resolve())
    return found


def _keys(api_key: List[str], api_key_file: Optional[Path]) -> tuple[str, ...]:
    keys = list(api_key)
    keys += [k for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    if api_key_file is not None:
        keys += [line.strip() for line in api_key_file.read_text().splitlines() if line.strip()]
    return tuple(k.strip() for k in keys)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        model: str = typer.Option("bark", help="Model name or directory."),
        host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --api-key."),
        port: int = typer.Option(8000),
        device: Optional[str] = typer.Option(None),
        api_key: List[str] = typer.Option([], help=f"An accepted API key (repeatable; also {KEYS_ENV}=a,b)."),
        api_key_file: Optional[Path] = typer.Option(None, help="A file of API keys, one a line."),
        cors_origin: List[str] = typer.Option([], help="An origin allowed by CORS (repeatable)."),
        voice: List[str] = typer.Option([], help="A named voice prompt NAME=FILE.npz (repeatable)."),
        adapters: List[str] = typer.Option([], help="An adapter set requests may name, NAME=DIR (repeatable)."),
        max_batch: int = typer.Option(8), batch_wait_ms: float = typer.Option(20.0),
        max_queue: int = typer.Option(32), max_duration_s: float = typer.Option(30.0),
        no_batching: bool = typer.Option(False, "--no-batching"),
        allow_public_key: bool = typer.Option(False, "--allow-public-key",
                                              help="Sign with the public demo watermark key (marks prove nothing)."),
        allow_unmarked: bool = typer.Option(False, "--allow-unmarked",
                                            help="Serve without a watermarker or manifests (warns)."),
        ray: bool = typer.Option(False, "--ray", help="Run as a Ray Serve deployment (needs ray[serve])."),
        replicas: int = typer.Option(1, help="Ray Serve replicas (one per GPU when there are GPUs)."),
    ) -> None:
        """An OpenAI-compatible speech server: POST /v1/audio/speech, GET /v1/models."""
        from .config import ServeConfig

        config = ServeConfig(model=model, device=device, host=host, port=port, api_keys=_keys(api_key, api_key_file),
                             cors_origins=tuple(cors_origin), voices=_pairs(voice, "voice"),
                             adapters=_pairs(adapters, "adapters"), max_batch=max_batch, batch_wait_ms=batch_wait_ms,
                             max_queue=max_queue, max_duration_s=max_duration_s, batching=not no_batching,
                             allow_public_key=allow_public_key, allow_unmarked=allow_unmarked)
        if ray:
            from .ray_app import serve_ray

            serve_ray(config, replicas=replicas)
            return
        from .server import serve

        serve(config)

    @app.command("studio")
    def studio_cmd(
        model: str = typer.Option("bark", help="Model name or directory."),
        host: str = typer.Option("127.0.0.1"), port: int = typer.Option(7860),
        device: Optional[str] = typer.Option(None),
        max_duration_s: float = typer.Option(15.0),
    ) -> None:
        """A web page to try voices, images, control events and decoders by ear (Gradio)."""
        from .studio import launch

        launch(model=model, host=host, port=port, device=device, max_duration_s=max_duration_s)

    @app.command("batch")
    def batch_cmd(
        manifest: Path = typer.Argument(..., help="JSONL: one object a line with 'id' and 'text' (and seed, voice...)."),
        outdir: Path = typer.Argument(..., help="Folder for <id>.wav and <id>.wav.manifest.json."),
        model: str = typer.Option("bark"), device: Optional[str] = typer.Option(None),
        shard: str = typer.Option("0/1", help="i/n: this process takes every n-th item from i."),
        batch_size: int = typer.Option(4), max_duration_s: Optional[float] = typer.Option(None),
    ) -> None:
        """Generate every item of a JSONL file; resumable (done items are skipped) and shardable."""
        from bark_omni.errors import err

        from .batch import run_batch_file

        report = run_batch_file(manifest, outdir, model=model, device=device, shard=shard, batch_size=batch_size,
                                max_duration_s=max_duration_s, progress=err)
        typer.echo(f"done {report.done}, skipped {report.skipped} (already there), other shards {report.other}")
