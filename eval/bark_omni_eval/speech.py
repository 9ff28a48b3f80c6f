"""Speech whose words and voice are known, from espeak-ng: the ground truth the metrics are validated on."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import numpy as np

from .audio import Clip, to_mono
from .errors import MetricUnavailable

VALIDATION_SENTENCES = (
    "Please call me when you get home tonight.",
    "It is going to rain tomorrow morning.",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "We will meet at the station at noon.",
    "My brother bought a new car last week.",
)
# Voices pocketsphinx understands best among espeak-ng's (measured: WER ~0.4 at 170 wpm; plain en-us is ~0.9).
CLEAR_VOICES = ("en-us+f2", "en-us+klatt2")
# Clearly different speakers for speaker-similarity checks.
DISTINCT_VOICES = ("en-us+f2", "en-us+m3", "en-gb+m7", "en-us+klatt2", "en-us+f4")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=256)
def _speak(text: str, voice: str, words_per_minute: int) -> tuple[bytes, int]:
    import soundfile as sf

    proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
                          capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MetricUnavailable(f"espeak-ng failed for voice {voice!r}: {message[0] if message else 'no output'}")
    audio, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return to_mono(audio).tobytes(), int(rate)


def speak(text: str, voice: str = CLEAR_VOICES[0], words_per_minute: int = 170) -> Clip:
    """``text`` spoken by espeak-ng's ``voice`` (cached per process; the array is a fresh copy)."""
    if not espeak_available():
        raise MetricUnavailable("espeak-ng is not installed; install it with `apt-get install -y espeak-ng`")
    raw, rate = _speak(text, voice, words_per_minute)
    return Clip(np.frombuffer(raw, dtype=np.float32).copy(), rate, name=f"{voice}:{text[:24]}")
