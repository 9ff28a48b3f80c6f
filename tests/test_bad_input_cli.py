"""A corpus of bad command lines: each exits with status 2, one ``error:`` line on stderr (no traceback, at most
220 characters), before any generation, and leaves no output file behind. Run as people run it: a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("bark-omni")
MAX_LINE = 220
GENERATE = ["generate", "--model", "tiny", "--quiet", "--seed", "0", "--max-duration", "0.3"]


def run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BARK_OMNI_ALLOW_DOWNLOAD": "0"}
    return subprocess.run([str(BIN), *args], capture_output=True, cwd=cwd, timeout=300, env=env)


def check_refused(result: subprocess.CompletedProcess, tmp_path: Path, fragment: str) -> str:
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    shown = [line.split("\r")[-1].strip() for line in stderr.split("\n")]  # what a terminal shows (bars redraw)
    lines = [line for line in shown if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert len(lines[0].replace(str(tmp_path), "x" * 20)) <= MAX_LINE, lines[0]
    assert fragment in lines[0], lines[0]
    return lines[0]


def _control(tmp_path: Path, content: str) -> str:
    path = tmp_path / "inputs" / "control.json"
    path.write_text(content, encoding="utf-8")
    return str(path)


# (id, extra arguments of `generate -o out.wav` given tmp_path, a fragment of the error line)
GENERATE_CASES = [
    ("control-holds-5", lambda d: ["--text", "hi", "--control", _control(d, "5")], "control_events"),
    ("control-invalid-json", lambda d: ["--text", "hi", "--control", _control(d, "[{")], "not valid JSON"),
    ("control-missing", lambda d: ["--text", "hi", "--control", str(d / "inputs" / "none.json")], "control events"),
    ("control-bad-item", lambda d: ["--text", "hi", "--control", _control(d, '[{"kind": 3}]')], "control_events[0]"),
    ("seed-huge", lambda d: ["--text", "hi", "--seed", str(2**70)], "seed"),
    ("seed-negative", lambda d: ["--text", "hi", "--seed", "-1"], "seed"),
    ("text-temp-inf", lambda d: ["--text", "hi", "--text-temp", "inf"], "text_temp"),
    ("text-temp-nan", lambda d: ["--text", "hi", "--text-temp", "nan"], "text_temp"),
    ("waveform-temp-negative", lambda d: ["--text", "hi", "--waveform-temp", "-1"], "waveform_temp"),
    ("max-duration-0", lambda d: ["--text", "hi", "--max-duration", "0"], "max_gen_duration_s"),
    ("priority-inf", lambda d: ["--text", "hi", "--priority", "image=inf"], "finite"),
    ("priority-unknown", lambda d: ["--text", "hi", "--priority", "smell=1"], "unknown modality"),
    ("priority-not-a-number", lambda d: ["--text", "hi", "--priority", "image=lots"], "MODALITY=WEIGHT"),
    ("prompt-missing-npz", lambda d: ["--text", "hi", "--history-prompt", str(d / "none.npz")], "does not exist"),
    ("text-invalid-utf8", lambda d: ["--text", b"caf\xe9 \xff"], "invalid unicode"),
    ("text-absurdly-long", lambda d: ["--text", "word " * 20_001], "split it"),
    ("reference-audio-missing", lambda d: ["--text", "hi", "--reference-audio", str(d / "none.wav")], "does not exist"),
    ("decoder-unknown", lambda d: ["--text", "hi", "--decoder", "nope"], "no decoder named"),
    ("speed-unknown", lambda d: ["--text", "hi", "--speed", "warp"], "speed must be one of exact, fast, fastest"),
]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "inputs").mkdir()
    return tmp_path


def _outputs(tmp_path: Path) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*") if p.is_file() and "inputs" not in p.parts)


@pytest.mark.parametrize("make_args, fragment", [c[1:] for c in GENERATE_CASES], ids=[c[0] for c in GENERATE_CASES])
def test_generate_refuses_bad_arguments(make_args, fragment, workdir, tiny_model_dir):
    result = run([*GENERATE, "-o", str(workdir / "out.wav"), *make_args(workdir)], workdir)
    check_refused(result, workdir, fragment)
    assert _outputs(workdir) == []


OUTPUT_CASES = [
    ("existing-directory", lambda d: (d / "adir").mkdir() or d / "adir", "is a directory"),
    ("missing-parent", lambda d: d / "no" / "such" / "out.wav", "does not exist"),
    ("unsupported-extension", lambda d: d / "out.xyz", "use a .wav"),
    ("no-extension", lambda d: d / "out", "use a .wav"),
]


@pytest.mark.parametrize("make_output, fragment", [c[1:] for c in OUTPUT_CASES], ids=[c[0] for c in OUTPUT_CASES])
def test_generate_checks_the_output_path_before_generating(make_output, fragment, workdir, tiny_model_dir):
    output = make_output(workdir)
    result = run([*GENERATE, "--text", "hi", "-o", str(output)], workdir)
    check_refused(result, workdir, fragment)
    assert _outputs(workdir) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_generate_refuses_a_read_only_folder(workdir, tiny_model_dir):
    folder = workdir / "locked"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run([*GENERATE, "--text", "hi", "-o", str(folder / "out.wav")], workdir)
    finally:
        folder.chmod(stat.S_IRWXU)
    check_refused(result, workdir, "permission denied")
    assert _outputs(workdir) == []


def _manifest(tmp_path: Path, edit) -> Path:
    manifest = {
        "manifest_version": 1, "generation_id": "x",
        "audio": {"file": "a.wav", "float32_sha256": "0" * 64, "sample_rate": 24000},
        "request": {"text": "hi", "seed": 0, "model": "tiny", "decoder": "encodec",
                    "params": {"text_temp": 0.7, "waveform_temp": 0.7}},
        "inputs": {}, "model": {"name": "tiny", "fingerprint": "f"}, "decoder": {"name": "encodec", "options": {}},
        "safety": {"guardrails": True, "watermark": True}, "tokens_sha256": {},
    }
    edit(manifest)
    path = tmp_path / "inputs" / "a.wav.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _manifest_version() -> int:
    from bark_omni_provenance.manifest import MANIFEST_VERSION

    return MANIFEST_VERSION


REPLAY_CASES = [
    ("request-key-removed", lambda m: m["request"].pop("seed"), "request.seed"),
    ("decoder-null", lambda m: m.update(decoder=None), "'decoder'"),
    ("params-not-object", lambda m: m["request"].update(params=[1]), "request.params"),
    ("params-bad-value", lambda m: m["request"]["params"].update(top_k=-5), "top_k"),
    ("params-unknown", lambda m: m["request"]["params"].update(bogus=1), "unknown generation option"),
    ("inputs-not-object", lambda m: m.update(inputs=5), "'inputs'"),
]


@pytest.mark.parametrize("edit, fragment", [c[1:] for c in REPLAY_CASES], ids=[c[0] for c in REPLAY_CASES])
def test_replay_refuses_a_damaged_manifest(edit, fragment, workdir, tiny_model_dir):
    version = _manifest_version()

    def edit_with_version(manifest):
        manifest["manifest_version"] = version
        edit(manifest)

    path = _manifest(workdir, edit_with_version)
    result = run(["replay", str(path)], workdir)
    check_refused(result, workdir, fragment)


def test_replay_checks_its_output_path_first(workdir, tiny_model_dir):
    path = _manifest(workdir, lambda m: m.update(manifest_version=_manifest_version()))
    (workdir / "adir").mkdir()
    result = run(["replay", str(path), "-o", str(workdir / "adir")], workdir)
    check_refused(result, workdir, "is a directory")


def test_data_verify_names_lines_that_are_not_utf8(workdir):
    path = workdir / "inputs" / "data.jsonl"
    path.write_bytes(b'{"id": "a", "text": "caf\xe9"}\n')
    result = run(["data", "verify", str(path)], workdir)
    check_refused(result, workdir, "line 1: not valid UTF-8")


ADAPTER_CASES = [
    ("onto-existing-file", lambda d: (d / "taken").write_text("x") and d / "taken", "is a file"),
    ("missing-parent", lambda d: d / "no" / "such" / "adapters", "does not exist"),
]


@pytest.mark.parametrize("make_output, fragment", [c[1:] for c in ADAPTER_CASES], ids=[c[0] for c in ADAPTER_CASES])
def test_adapters_init_checks_its_output_first(make_output, fragment, workdir, tiny_model_dir):
    output = make_output(workdir)
    before = _outputs(workdir)
    result = run(["adapters", "init", "--modalities", "text", "--model", "tiny", "-o", str(output)], workdir)
    check_refused(result, workdir, fragment)
    assert _outputs(workdir) == before
