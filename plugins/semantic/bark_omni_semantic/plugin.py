"""Registers the HuBERT + quantizer semantic tokenizer and the ``bark-omni semantic`` commands (entry point
``semantic`` in the ``bark_omni`` group). Nothing heavy is imported until a tokenizer loads or a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import typer

from bark_omni import hookimpl
from bark_omni.specs import SemanticTokenizerSpec

from .loading import COMMUNITY_FILE, COMMUNITY_REPO, NAME, load_tokenizer  # noqa: F401  (commands use them)


@hookimpl
def register_semantic_tokenizers(register: Callable[[SemanticTokenizerSpec], None]) -> None:
    register(SemanticTokenizerSpec(
        name=NAME, load=load_tokenizer, priority=10, package="bark-omni-semantic",
        description="HuBERT (transformers) hidden states + an LSTM quantizer head -> Bark's 10,000 semantic ids",
    ))


semantic_app = typer.Typer(help="Semantic tokens from audio: HuBERT + a quantizer (download, train).",
                           no_args_is_help=True)


@semantic_app.command("download")
def download_command() -> None:
    """Fetch HuBERT base (facebook/hubert-base-ls960) and the community quantizer into the Hugging Face cache."""
    from huggingface_hub import hf_hub_download

    from .hubert import HUBERT_NAME, load_hubert

    load_hubert(HUBERT_NAME, "cpu", allow_download=True)
    path = hf_hub_download(COMMUNITY_REPO, COMMUNITY_FILE)
    typer.echo(f"HuBERT {HUBERT_NAME} and the quantizer {path} are in the Hugging Face cache", err=True)


@semantic_app.command("train")
def train_command(
    output: Path = typer.Argument(..., help="Folder for the quantizer (safetensors + JSON) and its checkpoints."),
    model: str = typer.Option("tiny", help="The Bark model that teaches (a name or directory)."),
    clips: int = typer.Option(48, help="Teacher clips to generate (texts x voices)."),
    steps: int = typer.Option(300, help="Optimiser steps."),
    seconds: float = typer.Option(1.0, help="Length of each teacher clip in seconds."),
    seed: int = typer.Option(0, help="Seed of the data and the head."),
    hubert: Optional[str] = typer.Option(None, help="A HuBERT folder or hub id (default: the model's)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
    batch: int = typer.Option(8, help="Clips per optimiser step: the global batch, shared among torchrun's processes."),
) -> None:
    """Train a quantizer by self-distillation from frozen Bark (resumable: run it again to continue; under
    torchrun, every process takes a share of each batch)."""
    import json

    from .distill import DistillConfig, train_quantizer

    config = DistillConfig(model=model, clips=clips, steps=steps, seconds=seconds, seed=seed, hubert=hubert,
                           device=device, batch=batch)
    report = train_quantizer(config, output, progress=lambda msg: typer.echo(msg, err=True))
    if report:  # process 0 of a torchrun job reports; the others return nothing
        typer.echo(json.dumps(report, indent=2))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.add_typer(semantic_app, name="semantic")
