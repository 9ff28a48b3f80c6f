"""The ``bark-omni`` command as people run it: a real subprocess through the installed entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("bark-omni")


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, **(env or {})})


def test_generate_writes_a_wav(tmp_path, tiny_model_dir):
    import soundfile as sf

    out = tmp_path / "hello.wav"
    result = run("generate", "--model", "tiny", "--text", "Hello from bark-omni.", "--seed", "0",
                 "--max-duration", "0.5", "--quiet", "-o", str(out))
    assert result.returncode == 0, result.stderr
    audio, sr = sf.read(out)
    assert sr == 24_000 and audio.ndim == 1 and len(audio) > 0
    assert result.stdout == ""  # data files only; messages go to stderr
    assert f"wrote {out}" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--text", "  "], "text is empty"),
    (["--text", "hi", "--model", "nonexistent-model"], "unknown model"),
    (["--text", "hi", "--history-prompt", "v2/xx_speaker_0"], "unknown voice preset"),
    (["--text", "hi", "--decoder", "vocos-nope"], "no decoder named"),
    (["--text", "hi", "--text-temp", "0"], "text_temp"),
])
def test_errors_are_one_line_without_traceback_or_partial_file(tmp_path, args, message, tiny_model_dir):
    out = tmp_path / "never.wav"
    result = run("generate", "--model", "tiny", "--quiet", "-o", str(out), *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert list(tmp_path.iterdir()) == []


def test_help_and_plugins_list_do_not_import_torch():
    probe = (
        "import sys\n"
        "from bark_omni.cli import main\n"
        "for argv in (['--help'], ['plugins', 'list', '--json']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "NO-TORCH" in result.stderr, result.stderr[-2000:]


def test_plugins_list_json_shows_builtins_and_decoders():
    result = run("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["encodec"]["essential"] and "register_decoders" in names["encodec"]["hooks"]
    assert data["decoders"]["encodec"]["latency"] == "realtime"
    assert "suno" in data["model_formats"]


def test_allowlist_env_limits_plugins_list():
    result = run("plugins", "list", "--json", "--all", env={"BARK_OMNI_LOAD_PLUGINS": ""})
    data = json.loads(result.stdout)
    from bark_omni.host import ESSENTIAL_PLUGINS

    assert {p["name"] for p in data["plugins"]} == set(ESSENTIAL_PLUGINS)  # the built-in essentials only


def test_models_lists_what_is_local(tmp_path):
    result = run("models", "--json", env={"XDG_CACHE_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["bark"]["available"] is False and str(tmp_path / "suno" / "bark_v0") in rows["bark"]["looked_in"]
    assert rows["tiny"]["available"] is True
