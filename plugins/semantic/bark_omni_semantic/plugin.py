"""Registers the HuBERT + quantizer semantic tokenizer and the ``bark-omni semantic`` commands (entry point
``semantic`` in the ``bark_omni`` group). Nothing heavy is imported until a tokenizer loads or a command runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from bark_omni import hookimpl
from bark_omni.specs import SemanticTokenizerSpec

NAME = "hubert-quantizer"
QUANTIZER_ENV, HUBERT_ENV = "BARK_OMNI_QUANTIZER", "BARK_OMNI_HUBERT"
COMMUNITY_REPO = "GitMylo/bark-voice-cloning"
COMMUNITY_FILE = "quantifier_hubert_base_ls960_14.pth"
TINY_HEAD = {"input_size": 32, "hidden_size": 64}
TINY_HEAD_SEED = 1357


def is_tiny(model: str) -> bool:
    from bark_omni.tiny import tiny_model_path

    return model == "tiny" or Path(model).expanduser().resolve() == tiny_model_path().resolve()


def tiny_head() -> Any:
    import torch

    from .quantizer import QuantizerHead

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_HEAD_SEED)
        return QuantizerHead(**TINY_HEAD).eval()


def community_quantizer() -> Path | None:
    """The community quantizer in the local Hugging Face cache, if a previous download left it."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(COMMUNITY_REPO, COMMUNITY_FILE)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def load_tokenizer(model: str, device: str, options: dict[str, Any]) -> Any:
    """The semantic tokenizer for ``model``: the tiny HuBERT and head for the tiny Bark, else HuBERT base
    (``$BARK_OMNI_HUBERT`` or the hub cache) and a quantizer (``$BARK_OMNI_QUANTIZER``: ours or a community .pth,
    else the community's from the hub cache). ``options``: ``hubert``, ``quantizer``, ``layer``."""
    from bark_omni.errors import ModelNotFoundError

    from .hubert import HUBERT_NAME, LAYER, TINY_LAYER, SemanticTokenizer, load_hubert, tiny_hubert_dir
    from .quantizer import load_quantizer

    quantizer = options.get("quantizer") or os.environ.get(QUANTIZER_ENV)
    tiny = is_tiny(model)
    hubert_source = options.get("hubert") or os.environ.get(HUBERT_ENV) or (tiny_hubert_dir() if tiny else HUBERT_NAME)
    if quantizer:
        head, config = load_quantizer(quantizer)
        layer = int(options.get("layer", config.get("layer", TINY_LAYER if tiny else LAYER)))
    elif tiny:
        head, layer = tiny_head(), TINY_LAYER
    else:
        found = community_quantizer()
        if found is None:
            raise ModelNotFoundError(f"no quantizer for HuBERT semantic tokens: set {QUANTIZER_ENV}=PATH or fetch "
                                     "the community one once online with `bark-omni semantic download`")
        head, _ = load_quantizer(found)
        layer = LAYER
    hubert = load_hubert(hubert_source, device)
    return SemanticTokenizer(hubert=hubert, head=head.to(device), layer=int(options.get("layer", layer)))


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
) -> None:
    """Train a quantizer by self-distillation from frozen Bark (resumable: run it again to continue)."""
    import json

    from .distill import DistillConfig, train_quantizer

    config = DistillConfig(model=model, clips=clips, steps=steps, seconds=seconds, seed=seed, hubert=hubert,
                           device=device)
    report = train_quantizer(config, output, progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(json.dumps(report, indent=2))


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.add_typer(semantic_app, name="semantic")
