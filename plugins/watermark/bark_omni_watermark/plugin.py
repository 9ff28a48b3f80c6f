"""The watermark plugin: registers the ``patchwork`` watermarker, which the pipeline itself applies to every
output after the decoder and after every ``postprocess_audio`` implementation (no hook order involved, so no
post-processor can touch the audio after the mark), and ``bark-omni watermark detect|embed``.

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
                 "params": request.options.as_dict(), "style_text": getattr(request.modalities, "style_text", None)}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=repr).encode("utf-8")).digest()
    return int.from_bytes(digest[:2], "big")


def mark(audio: Any, sample_rate: int, request: Any) -> tuple[Any, dict[str, Any]]:
    """What the pipeline calls last: ``audio`` marked with the signing key, and the manifest's record of it."""
    import warnings

    from .keys import PUBLIC_NOTE, signing_key
    from .scheme import SCHEME, embed

    key = signing_key()
    payload = payload_for(request)
    record: dict[str, Any] = {"scheme": SCHEME, "payload": payload, "payload_hex": f"0x{payload:04x}",
                              "key_id": key.key_id, "key_public": key.public}
    if key.public:
        record["note"] = PUBLIC_NOTE
        warnings.warn(f"bark-omni: {PUBLIC_NOTE}", UserWarning, stacklevel=2)
    return embed(audio, sample_rate, key.secret, payload), record


@hookimpl
def register_watermarkers(register: Any) -> None:
    from bark_omni.specs import WatermarkerSpec

    register(WatermarkerSpec(name="patchwork", apply=mark, priority=10, package="bark-omni-watermark",
                             description="keyed STFT patchwork mark with a 16-bit payload (numpy/scipy only)",
                             detect=_detect))


def _detect(audio: Any, sample_rate: int, **options: Any) -> Any:
    from . import detect_watermark

    return detect_watermark(audio, sample_rate, **options)


def _keys_given(keys: Optional[list[str]], key_files: Optional[list[Path]]) -> tuple[list[bytes], list[Path]]:
    return [k.encode("utf-8") for k in keys or []], list(key_files or [])


def _embed_quietly(audio: Any, sr: int, payload: int, key: bytes) -> Any:
    from .scheme import embed

    return embed(audio, sr, key, payload)


def _read_audio(path: Path) -> tuple[Any, int]:
    from bark_omni.audio import read_audio

    audio, sr = read_audio(path)
    return audio.astype("float64"), sr


@hookimpl
def register_commands(app: typer.Typer) -> None:
    group = typer.Typer(help="Check or apply the bark-omni audio watermark.", no_args_is_help=True)

    @group.command("detect")
    def detect(
        file: Path = typer.Argument(..., help="Audio file to check."),
        key: Optional[list[str]] = typer.Option(None, help="A key to try (repeat for several; default: "
                                                     "$BARK_OMNI_WATERMARK_KEY or this machine's service key)."),
        key_file: Optional[list[Path]] = typer.Option(None, help="Read a key to try from this file (repeatable)."),
        public_key: bool = typer.Option(False, "--public-key", help="Also try the public demo key (tried anyway "
                                                                      "when no key is given)."),
        threshold: float = typer.Option(1e-3, help="Report 'detected' when the p-value is at most this."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
    ) -> None:
        """Score, p-value and payload of FILE. Exit 0 if the watermark is detected, 1 if not."""
        from . import detect_watermark

        audio, sr = _read_audio(file)
        keys, files = _keys_given(key, key_file)
        found = detect_watermark(audio, sr, keys=keys, key_files=[str(f) for f in files], threshold=threshold,
                                 public=True if public_key else None)
        data = {"file": str(file), **found.as_dict()}
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        else:
            verdict = "watermark DETECTED" if found.detected else "no watermark found"
            payload = f", payload {data['payload_hex']}, key {found.key_id}" if found.detected else ""
            typer.echo(f"{file}: {verdict} (score {found.score:.2f}, p-value {found.p_value:.3g}{payload}, "
                       f"{found.keys_tried} key(s) tried)")
        if found.detected and found.key_public:
            from .keys import PUBLIC_NOTE

            typer.echo(f"warning: {PUBLIC_NOTE}", err=True)
        raise typer.Exit(0 if found.detected else 1)

    @group.command("embed")
    def embed_cmd(
        file: Path = typer.Argument(..., help="Audio file to mark."),
        output: Path = typer.Option(..., "--output", "-o", help="Where to write the marked audio."),
        payload: str = typer.Option(..., help="16-bit payload, e.g. 4660 or 0x1234."),
        key: Optional[str] = typer.Option(None, help="Watermark key (default: $BARK_OMNI_WATERMARK_KEY or this "
                                                     "machine's service key)."),
        key_file: Optional[Path] = typer.Option(None, help="Read the key from this file."),
        public_key: bool = typer.Option(False, "--public-key", help="Use the public demo key (proves nothing; warns)."),
    ) -> None:
        """Mark an existing recording (e.g. audio made before the plugin was installed)."""
        from bark_omni.files import write_audio
        from bark_omni.errors import InvalidInputError

        try:
            value = int(payload, 0)
        except ValueError:
            raise InvalidInputError(f"--payload {payload!r} is not an integer; use e.g. 4660 or 0x1234") from None
        from .keys import PUBLIC_NOTE, read_key_file, signing_key

        audio, sr = _read_audio(file)
        chosen = signing_key(read_key_file(key_file) if key_file is not None else key, public=public_key)
        if chosen.public:
            typer.echo(f"warning: {PUBLIC_NOTE}", err=True)
        write_audio(output, _embed_quietly(audio, sr, value, chosen.secret), sr)
        typer.echo(f"wrote {output}", err=True)

    app.add_typer(group, name="watermark")
