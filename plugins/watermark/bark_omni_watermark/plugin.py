"""The watermark plugin: the outermost ``postprocess_audio`` wrapper (so the mark is the last change to every
output, after any other post-processing and after the decoder), a ``generation_finished`` note of what was
embedded (read by the provenance manifest), and ``bark-omni watermark detect|embed``.

Switching it off takes ``Host(block=["watermark"])`` or ``bark-omni generate --no-watermark`` (which warns).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

import typer

from bark_omni.hookspecs import hookimpl

PAYLOAD_ENV = "BARK_OMNI_WATERMARK_PAYLOAD"


def payload_for(request: Any) -> int:
    """The 16-bit payload of a request: ``BARK_OMNI_WATERMARK_PAYLOAD`` (e.g. an organisation id, ``0x1a2b``) or,
    by default, a hash of the request, so the mark links a file back to its manifest and replays stay exact."""
    raw = os.environ.get(PAYLOAD_ENV)
    if raw:
        from bark_omni.errors import InvalidInputError

        try:
            value = int(raw, 0)
        except ValueError:
            value = -1
        if not 0 <= value < 2**16:
            raise InvalidInputError(f"{PAYLOAD_ENV}={raw!r} must be an integer in 0..65535 (e.g. 0x1a2b)")
        return value
    described = {"text": request.text, "seed": request.seed, "model": request.model, "decoder": request.decoder,
                 "params": request.params, "style_text": getattr(request.modalities, "style_text", None)}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode("utf-8")).digest()
    return int.from_bytes(digest[:2], "big")


@hookimpl(wrapper=True, tryfirst=True)
def postprocess_audio(audio: Any, sample_rate: int, request: Any) -> Any:
    from .keys import resolve_key
    from .scheme import embed

    audio = yield
    return embed(audio, sample_rate, resolve_key(), payload_for(request))


@hookimpl(tryfirst=True)
def generation_finished(request: Any, result: Any) -> None:
    from .keys import key_id, resolve_key
    from .scheme import SCHEME

    payload = payload_for(request)
    result.extras["watermark"] = {"scheme": SCHEME, "payload": payload, "payload_hex": f"0x{payload:04x}",
                                  "key_id": key_id(resolve_key())}


def _key_option(key: Optional[str], key_file: Optional[Path]) -> Optional[bytes]:
    if key_file is not None:
        if not key_file.is_file():
            from bark_omni.errors import InvalidInputError

            raise InvalidInputError(f"key file {key_file} does not exist")
        return key_file.read_bytes().strip()
    return key.encode("utf-8") if key is not None else None


def _read_audio(path: Path) -> tuple[Any, int]:
    import soundfile as sf

    from bark_omni.errors import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist; pass an audio file (WAV, FLAC, OGG, MP3)")
    try:
        audio, sr = sf.read(path, dtype="float64", always_2d=False)
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise InvalidInputError(f"cannot read {path} as audio ({exc}); pass a WAV, FLAC, OGG or MP3 file") from None
    return audio, int(sr)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    group = typer.Typer(help="Check or apply the bark-omni audio watermark.", no_args_is_help=True)

    @group.command("detect")
    def detect(
        file: Path = typer.Argument(..., help="Audio file to check."),
        key: Optional[str] = typer.Option(None, help="Watermark key (default: $BARK_OMNI_WATERMARK_KEY or the public key)."),
        key_file: Optional[Path] = typer.Option(None, help="Read the key from this file."),
        threshold: float = typer.Option(1e-3, help="Report 'detected' when the p-value is at most this."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
    ) -> None:
        """Score, p-value and payload of FILE. Exit 0 if the watermark is detected, 1 if not."""
        from . import detect_watermark

        audio, sr = _read_audio(file)
        found = detect_watermark(audio, sr, key=_key_option(key, key_file), threshold=threshold)
        data = {"file": str(file), **found.as_dict()}
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        else:
            verdict = "watermark DETECTED" if found.detected else "no watermark found"
            payload = f", payload {data['payload_hex']}" if found.detected else ""
            typer.echo(f"{file}: {verdict} (score {found.score:.2f}, p-value {found.p_value:.3g}{payload})")
        raise typer.Exit(0 if found.detected else 1)

    @group.command("embed")
    def embed_cmd(
        file: Path = typer.Argument(..., help="Audio file to mark."),
        output: Path = typer.Option(..., "--output", "-o", help="Where to write the marked audio."),
        payload: str = typer.Option(..., help="16-bit payload, e.g. 4660 or 0x1234."),
        key: Optional[str] = typer.Option(None, help="Watermark key (default: $BARK_OMNI_WATERMARK_KEY or the public key)."),
        key_file: Optional[Path] = typer.Option(None, help="Read the key from this file."),
    ) -> None:
        """Mark an existing recording (e.g. audio made before the plugin was installed)."""
        from bark_omni.cli import write_wav
        from bark_omni.errors import InvalidInputError

        from . import embed_watermark

        try:
            value = int(payload, 0)
        except ValueError:
            raise InvalidInputError(f"--payload {payload!r} is not an integer; use e.g. 4660 or 0x1234") from None
        audio, sr = _read_audio(file)
        write_wav(output, embed_watermark(audio, sr, value, key=_key_option(key, key_file)), sr)
        typer.echo(f"wrote {output}", err=True)

    app.add_typer(group, name="watermark")
