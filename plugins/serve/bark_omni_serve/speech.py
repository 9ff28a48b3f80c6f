"""A speech request as the server receives it (JSON or a multipart form) -> a checked ``SpeechJob``.

Nothing a request names is opened as a path: voices are Bark's preset names, OpenAI's voice names, the operator's
named voices or an uploaded .npz; images and reference audio arrive as bytes (an upload, or base64 in JSON) and are
written by the server to its own temporary folder; adapters are names from the operator's allowlist.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping

from bark_omni.errors import InvalidInputError, shorten

from .config import OPENAI_VOICES, ServeConfig
from .formats import STREAMABLE, check_format

OPENAI_FIELDS = ("model", "input", "voice", "response_format", "speed", "instructions", "stream_format", "user")
OPTION_FIELDS = ("text_temp", "waveform_temp", "fine_temp", "top_k", "top_p", "min_eos_p", "max_gen_duration_s")
EXTENSION_FIELDS = ("seed", "style_text", "control_events", "priorities", "image", "reference_audio", "voice_prompt",
                    "adapters", "decoder", "decoder_options", "stream", "speed_preset", *OPTION_FIELDS)
FILE_FIELDS = ("image", "reference_audio", "voice_prompt")
SUFFIXES = {"image": ".png", "reference_audio": ".wav"}


@dataclass
class Uploads:
    """The server's own temporary folder for one request's files; removed when the request is done."""

    folder: str | None = None

    def write(self, name: str, data: bytes, limit: int) -> str:
        if len(data) > limit:
            raise InvalidInputError(f"{name} is {len(data)} bytes; this server takes uploads up to {limit} bytes")
        if not data:
            raise InvalidInputError(f"{name} is empty; upload the file's bytes")
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="bark-omni-serve-")
        path = os.path.join(self.folder, name + SUFFIXES.get(name, ".bin"))
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


@dataclass
class SpeechJob:
    """One checked request: the core's ``GenerationRequest`` plus how to answer it."""

    request: Any
    response_format: str = "wav"
    stream: bool = False
    adapters: str | None = None
    decoder_options: dict[str, Any] = field(default_factory=dict)
    uploads: Uploads = field(default_factory=Uploads)

    @property
    def batch_key(self) -> tuple:
        """Jobs with equal keys can share one ``run_batch`` call."""
        r = self.request
        return (r.model, r.decoder, r.options, self.adapters, json.dumps(self.decoder_options, sort_keys=True))


def _unknown_fields(body: Mapping[str, Any]) -> None:
    known = (*OPENAI_FIELDS, *EXTENSION_FIELDS)
    unknown = sorted(set(body) - set(known))
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InvalidInputError(f"unknown field {shorten(unknown[0], 40)}{hint}; see GET /docs for the fields")


def _decode_b64(name: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be the file's bytes in base64 (or a multipart upload)")
    text = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{name} must be the file's bytes in base64 or a multipart upload; this server never "
                                "opens a path given in a request") from None


def _voice(body: Mapping[str, Any], files: Mapping[str, bytes], config: ServeConfig, limit: int) -> Any:
    """The history prompt: an uploaded .npz (dict of arrays), a named voice, an OpenAI name or a Bark preset."""
    from bark_omni.prompts import preset_names, validate_prompt

    data = files.get("voice_prompt")
    if data is None and body.get("voice_prompt") is not None:
        data = _decode_b64("voice_prompt", body["voice_prompt"])
    if data is not None:
        if len(data) > limit:
            raise InvalidInputError(f"voice_prompt is {len(data)} bytes; this server takes uploads up to {limit} bytes")
        import numpy as np

        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception:
            raise InvalidInputError("voice_prompt must be an .npz voice prompt (numpy.savez of semantic_prompt, "
                                    "coarse_prompt, fine_prompt)") from None
        return validate_prompt(arrays, "the uploaded voice_prompt")
    voice = body.get("voice")
    if voice is None or voice == "":
        return None
    if not isinstance(voice, str) or len(voice) > 200:
        raise InvalidInputError(f"voice must be a voice name such as 'v2/en_speaker_6' or 'alloy'; got {shorten(voice)}")
    if voice in config.voices:
        return config.voices[voice]  # the operator's own file
    if voice in OPENAI_VOICES:
        return OPENAI_VOICES[voice]
    if voice in preset_names():
        return voice
    close = difflib.get_close_matches(voice, [*config.voices, *OPENAI_VOICES, *preset_names()], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise InvalidInputError(f"unknown voice {shorten(voice, 60)}{hint}; use a Bark preset (v2/en_speaker_0..9), an "
                            "OpenAI voice name, GET /v1/voices, or upload voice_prompt")


def _file(name: str, body: Mapping[str, Any], files: Mapping[str, bytes], uploads: Uploads, limit: int) -> str | None:
    data = files.get(name)
    if data is None and body.get(name) is not None:
        data = _decode_b64(name, body[name])
    return uploads.write(name, data, limit) if data is not None else None


def _options(body: Mapping[str, Any], config: ServeConfig) -> Any:
    from bark_omni.options import GenerationOptions

    flat = {name: body[name] for name in OPTION_FIELDS if body.get(name) is not None}
    duration = flat.get("max_gen_duration_s", config.max_duration_s)
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > config.max_duration_s:
        raise InvalidInputError(f"max_gen_duration_s {duration:g} is over this server's limit of "
                                f"{config.max_duration_s:g} s; ask for less")
    flat["max_gen_duration_s"] = duration
    speed = body.get("speed_preset") or "exact"
    return GenerationOptions.from_kwargs(speed=speed, **flat)


def _speed(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.25 <= value <= 4.0:
        raise InvalidInputError(f"speed must be a number in [0.25, 4.0]; got {shorten(value)}")
    if value != 1.0:
        raise InvalidInputError("this server supports speed=1.0 only (a tempo change after the watermark would "
                                "weaken it); use speed_preset='fast' for faster generation")


def parse_speech(body: Mapping[str, Any], config: ServeConfig, host: Any, files: Mapping[str, bytes] | None = None) -> SpeechJob:
    """A ``SpeechJob`` from a request's fields (``files``: multipart uploads by field name). Raises
    ``InvalidInputError`` with one line; the caller turns it into a 400."""
    from bark_omni.api import build_request
    from bark_omni.modality import ModalityBundle

    files = dict(files or {})
    if not isinstance(body, Mapping):
        raise InvalidInputError("the request body must be a JSON object with at least 'input'")
    _unknown_fields(body)
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("input must be the text to speak, e.g. {\"input\": \"Hello there.\"}")
    if len(text) > config.max_input_chars:
        raise InvalidInputError(f"input is {len(text)} characters; this server takes up to {config.max_input_chars}")
    model = body.get("model") or config.model
    if model not in config.model_ids:
        raise InvalidInputError(f"model {shorten(model, 60)} is not served here; GET /v1/models lists {', '.join(config.model_ids)}")
    fmt = check_format(body.get("response_format") or "wav")
    _speed(body.get("speed"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidInputError("stream must be true or false")
    events = body.get("control_events")
    if isinstance(events, str):  # a form field holds JSON text; never a path
        try:
            events = json.loads(events)
        except json.JSONDecodeError:
            raise InvalidInputError("control_events must be a JSON list such as [{\"time_s\": 0.5, \"kind\": \"beat\"}]") from None
    if events is not None and not isinstance(events, list):
        raise InvalidInputError("control_events must be a list such as [{\"time_s\": 0.5, \"kind\": \"beat\"}]")
    adapters = body.get("adapters")
    if adapters is not None and adapters not in config.adapters:
        allowed = ", ".join(config.adapters) or "none"
        raise InvalidInputError(f"adapters {shorten(adapters, 60)} is not one this server offers (offered: {allowed})")
    decoder_options = body.get("decoder_options") or {}
    if not isinstance(decoder_options, dict):
        raise InvalidInputError("decoder_options must be a JSON object such as {\"steps\": 10}")
    for key, value in decoder_options.items():  # numbers only: a string could name a file (e.g. Vocos' weights)
        if not isinstance(value, (int, float)) or len(str(key)) > 40:
            raise InvalidInputError(f"decoder_options.{shorten(key, 40)} must be a number here (this server never "
                                    "takes a path or name from a request); e.g. {\"steps\": 10}")
    decoder = body.get("decoder") or "encodec"
    if decoder not in host.decoders:
        raise InvalidInputError(f"decoder {shorten(decoder, 40)} is not installed here; installed: {', '.join(sorted(host.decoders))}")
    style = body.get("style_text") if body.get("style_text") is not None else body.get("instructions")
    uploads = Uploads()
    try:
        voice = _voice(body, files, config, config.max_upload_bytes)
        modalities = ModalityBundle(
            style_text=style, control_events=events, priorities=body.get("priorities") or {},
            image=_file("image", body, files, uploads, config.max_upload_bytes),
            reference_audio=_file("reference_audio", body, files, uploads, config.max_upload_bytes))
        request = build_request(text, voice, options=_options(body, config), modalities=modalities,
                                seed=body.get("seed"), model=config.model, decoder=decoder)
    except BaseException:
        uploads.remove()
        raise
    return SpeechJob(request=request, response_format=fmt, stream=stream and fmt in STREAMABLE,
                     adapters=config.adapters.get(adapters) if adapters else None,
                     decoder_options=decoder_options, uploads=uploads)


def form_fields(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A multipart form's text fields (numbers and booleans parsed from their text) and its files' bytes
    (read by the caller); returns (fields, {})."""
    fields: dict[str, Any] = {}
    for name, value in form.items():
        if not isinstance(value, str):
            continue
        fields[name] = _form_value(name, value)
    return fields, {}


def _form_value(name: str, value: str) -> Any:
    if name in ("seed", "top_k"):
        try:
            return int(value)
        except ValueError:
            raise InvalidInputError(f"{name} must be an integer; got {shorten(value)}") from None
    if name in (*OPTION_FIELDS, "speed"):
        try:
            return float(value)
        except ValueError:
            raise InvalidInputError(f"{name} must be a number; got {shorten(value)}") from None
    if name == "stream":
        return value.strip().lower() in ("1", "true", "yes", "on")
    if name in ("priorities", "decoder_options"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise InvalidInputError(f"{name} must be a JSON object") from None
    return value
