"""CLI conveniences: --version, -v/--log-level, shell completion, --format (also by extension), --json."""

from __future__ import annotations

import io
from pathlib import Path
import json
import subprocess
import sys

import numpy as np
import pytest


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bark_omni", *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_completion():
    import bark_omni

    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"bark-omni {bark_omni.__version__}"
    helped = _cli("--help")
    assert "--install-completion" in helped.stdout and "--log-level" in helped.stdout


def test_bad_log_level_is_one_line():
    done = _cli("--log-level", "loud", "models")
    assert done.returncode != 0 and "--log-level must be one of" in done.stderr and "Traceback" not in done.stderr


def test_log_levels():
    import logging

    from bark_omni.logs import configure_logging

    assert configure_logging(0, None) == logging.WARNING
    assert configure_logging(1, None) == logging.INFO
    assert configure_logging(2, None) == logging.DEBUG
    assert configure_logging(0, "ERROR") == logging.ERROR
    configure_logging(0, "warning")


def test_format_option_and_extension():

    from bark_omni.cli import with_format
    from bark_omni.errors import InvalidInputError

    assert with_format(Path("a/out.wav"), "mp3", stream=False) == Path("a/out.mp3")
    assert with_format(Path("a/out.flac"), None, stream=False) == Path("a/out.flac")
    assert with_format(Path("x.wav"), "raw", stream=True) == Path("x.wav")
    with pytest.raises(InvalidInputError, match="wav, flac, ogg, mp3"):
        with_format(Path("x.wav"), "aiff", stream=False)


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".mp3"])
def test_every_format_encodes_and_reads_back(suffix):
    import soundfile as sf

    from bark_omni.files import audio_format, encode_audio

    tone = (0.3 * np.sin(np.arange(24_000) / 24_000 * 2 * np.pi * 440)).astype(np.float32)
    data = encode_audio(tone, 24_000, audio_format(Path(f"x{suffix}")))
    back, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 24_000 and abs(len(back) - len(tone)) < 2_000  # mp3 pads its frames
    assert np.corrcoef(back[:20_000], tone[:20_000])[0, 1] > 0.9




def test_generate_format_json_and_device(tmp_path):
    import soundfile as sf

    done = _cli("generate", "--model", "tiny", "--text", "Hi there.", "--max-duration", "0.3", "--seed", "2",
                "--quiet", "--device", "cpu", "--format", "flac", "--json", "-o", str(tmp_path / "out.wav"))
    assert done.returncode == 0, done.stderr[-800:]
    summary = json.loads(done.stdout)
    assert summary["file"].endswith("out.flac") and summary["seed"] == 2 and summary["segments"] is None
    info = sf.info(str(tmp_path / "out.flac"))
    assert info.format == "FLAC" and abs(info.duration - summary["duration_s"]) < 0.01
