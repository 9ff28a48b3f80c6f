"""bark-omni convert: safetensors + JSON that load memory-mapped, with every tensor and the fingerprint kept."""

from __future__ import annotations

import json
import sys

import pytest

from bark_omni.errors import CheckpointError
from bark_omni.fingerprints import fingerprint_modules
from bark_omni_compat.converted import MANIFEST, convert_model, load

STAGES = ("text", "coarse", "fine")


def fingerprint(weights) -> str:
    return fingerprint_modules({s: getattr(weights, s) for s in STAGES})


def test_round_trip_keeps_every_tensor(converted_tiny, tiny_bark, compat_host, tmp_path, compat):
    target, manifest = converted_tiny
    loaded = load(target, "cpu")
    for stage in STAGES:
        compat.assert_same_tensors(getattr(loaded, stage), getattr(tiny_bark, stage))
    compat.assert_same_tensors(loaded.codec, tiny_bark.codec)
    assert manifest["fingerprint"] == tiny_bark.fingerprint == fingerprint(loaded)
    assert manifest["source"]["format"] == "suno" and (target / "vocab.txt").is_file()
    again = convert_model(target, tmp_path / "again", compat_host)  # converted -> converted: the same bytes
    assert again["source"]["format"] == "converted" and again["fingerprint"] == manifest["fingerprint"]
    for name in ("text.safetensors", "coarse.safetensors", "fine.safetensors", "codec.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (target / name).read_bytes()


def test_transformers_model_converts_with_its_fingerprint(hf_bark, hf_loaded, compat_host, tmp_path, compat):
    original = hf_loaded
    manifest = convert_model(hf_bark[0], tmp_path / "hf-converted", compat_host)
    loaded = load(tmp_path / "hf-converted", "cpu")
    for stage in STAGES:
        compat.assert_same_tensors(getattr(loaded, stage), getattr(original, stage))
    compat.assert_same_tensors(loaded.codec, original.codec)
    assert manifest["fingerprint"] == fingerprint(original) == fingerprint(loaded)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")
def test_weights_stay_memory_mapped(converted_tiny):
    target, _ = converted_tiny
    loaded = load(target, "cpu")
    mapped = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].endswith(".safetensors"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                mapped.setdefault(fields[5].rsplit("/", 1)[-1], []).append((start, end))
    for stage in STAGES:
        module = getattr(loaded, stage)
        for name, tensor in module.state_dict().items():
            pointer = tensor.data_ptr()
            assert any(a <= pointer < b for a, b in mapped[f"{stage}.safetensors"]), name
    assert loaded.fine.lm_heads[0].weight is loaded.fine.transformer.wtes[1].weight


def test_destination_must_be_new(converted_tiny, legacy_suno_dir, compat_host, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="not an empty directory"):
        convert_model(legacy_suno_dir, occupied, compat_host)
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["stages"]["text"].__setitem__("file", "../text.safetensors"), "inside the directory"),
    (lambda m: m.__setitem__("version", 99), "layout version 99"),
    (lambda m: m["stages"].pop("fine"), "lacks one of the stages"),
])
def test_bad_manifests_are_refused(converted_tiny, tmp_path, edit, expected):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(converted_tiny[0], target)
    manifest = json.loads((target / MANIFEST).read_text())
    edit(manifest)
    (target / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=expected):
        load(target, "cpu")


def test_cli_convert_and_fingerprint(converted_tiny, legacy_suno_dir, tmp_path, capsys, monkeypatch):
    from bark_omni import cli, host

    monkeypatch.setattr(host, "_default_host", host.Host(strict=True, allow={"checkpoints"}))
    with pytest.raises(SystemExit) as done:
        cli.main(["convert", str(converted_tiny[0]), str(tmp_path / "out")])
    assert done.value.code in (0, None)
    out, errors = capsys.readouterr()
    assert out.strip() == str(tmp_path / "out") and converted_tiny[1]["fingerprint"] in errors
    with pytest.raises(SystemExit) as done:
        cli.main(["fingerprint", str(tmp_path / "out")])
    assert capsys.readouterr().out.strip() == converted_tiny[1]["fingerprint"]
    with pytest.raises(SystemExit) as done:
        cli.main(["convert", str(legacy_suno_dir), str(tmp_path / "out")])
    out, errors = capsys.readouterr()
    assert done.value.code == 2 and out == "" and errors.count("\n") == 1 and "not an empty directory" in errors


def test_registering_commands_does_not_import_torch():
    import os
    import subprocess

    code = ("import sys\nfrom bark_omni.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "BARK_OMNI_LOAD_PLUGINS": "checkpoints"})  # the essential plugins and ours
    assert "convert" in run.stdout and "prompt" in run.stdout and "fingerprint" in run.stdout, run.stderr
    assert run.stdout.strip().endswith("no torch")
