"""Response formats: which ones this machine can encode, and the encoding. soundfile (libsndfile) writes WAV,
FLAC, Ogg/Opus and (libsndfile >= 1.1) MP3; ffmpeg, when installed, adds AAC. ``pcm`` is raw 16-bit little-endian
mono at the model's rate (24 kHz for Bark), as OpenAI's ``pcm``."""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any

from bark_omni.errors import InvalidInputError

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
               "pcm": "audio/pcm"}
SOUNDFILE = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "opus": ("OGG", "OPUS"), "mp3": ("MP3", None)}
STREAMABLE = ("wav", "pcm")
"""Formats whose bytes are sent while generating; the others are sent once the audio is complete."""


@functools.lru_cache(maxsize=None)
def supported() -> tuple[str, ...]:
    """The response formats this machine can encode."""
    import soundfile as sf

    found = ["wav", "pcm"]
    formats = sf.available_formats()
    for name, (container, subtype) in SOUNDFILE.items():
        if name in found or container not in formats:
            continue
        if subtype is None or subtype in sf.available_subtypes(container):
            found.append(name)
    if shutil.which("ffmpeg"):
        found.append("aac")
        found.extend(n for n in ("mp3", "opus", "flac") if n not in found)
    return tuple(found)


def check_format(name: Any) -> str:
    if name not in MEDIA_TYPES:
        raise InvalidInputError(f"response_format must be one of {', '.join(MEDIA_TYPES)}; got {name!r}")
    if name not in supported():
        raise InvalidInputError(f"response_format {name!r} needs ffmpeg or a newer libsndfile on the server; this "
                                f"server supports {', '.join(supported())}")
    return name


def encode(audio: Any, sample_rate: int, fmt: str) -> bytes:
    """The bytes of a response body in ``fmt`` (one of ``supported()``)."""
    import io

    import numpy as np
    import soundfile as sf

    from bark_omni.streaming import pcm16

    samples = np.asarray(audio, dtype=np.float32)
    if fmt == "pcm":
        return pcm16(samples)
    if fmt in SOUNDFILE and SOUNDFILE[fmt][0] in sf.available_formats():
        container, subtype = SOUNDFILE[fmt]
        buffer = io.BytesIO()
        sf.write(buffer, np.clip(samples, -1.0, 1.0), sample_rate, format=container, subtype=subtype)
        return buffer.getvalue()
    return _ffmpeg(samples, sample_rate, fmt)


def _ffmpeg(samples: Any, sample_rate: int, fmt: str) -> bytes:
    from bark_omni.streaming import pcm16

    container = {"aac": "adts", "mp3": "mp3", "opus": "ogg", "flac": "flac"}[fmt]
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(sample_rate),
                           "-ac", "1", "-i", "pipe:0", "-f", container, "pipe:1"],
                          input=pcm16(samples), capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not encode {fmt}: {done.stderr.decode(errors='replace')[-200:]}")
    return done.stdout
