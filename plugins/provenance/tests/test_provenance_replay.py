"""Provenance end to end on the tiny model: the CLI writes a watermarked WAV and its manifest, replay gives the
same audio bit for bit, opting out works, and telemetry stays off unless switched on."""

import json

import numpy as np
import pytest
import soundfile as sf

import bark_omni
from bark_omni.errors import InvalidInputError
from bark_omni_provenance import load_manifest, manifest_path_for, rate, replay
from bark_omni_provenance import telemetry, telemetry_plugin
from bark_omni_provenance.replay import rebuild_request

TEXT = "Provenance check, short and sweet."


@pytest.fixture(autouse=True)
def local_state(tmp_path, monkeypatch):
    """Telemetry and its settings live in the test's folder; its switch is unset (the default: off)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("BARK_OMNI_TELEMETRY", raising=False)
    monkeypatch.delenv("BARK_OMNI_TELEMETRY_FILE", raising=False)
    monkeypatch.setenv("BARK_OMNI_WATERMARK_KEY", WATERMARK_KEY)


WATERMARK_KEY = "provenance-tests-key"  # one key for generation and replay, and none made in the real home


@pytest.fixture(scope="module")
def generated(tmp_path_factory, tiny_model_dir):
    from bark_omni.cli import main

    out = tmp_path_factory.mktemp("gen") / "speech.wav"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(out.parent / "config"))
        patch.setenv("BARK_OMNI_WATERMARK_KEY", WATERMARK_KEY)
        with pytest.raises(SystemExit) as info:
            main(["generate", "--model", "tiny", "--text", TEXT, "--max-duration", "0.5", "-q", "-o", str(out)])
    assert info.value.code in (0, None)
    return out


def test_manifest_is_written_beside_the_audio_with_everything(generated):
    manifest = load_manifest(manifest_path_for(generated))
    assert manifest["audio"]["file"] == generated.name
    assert isinstance(manifest["request"]["seed"], int)  # drawn when not given, so the run is replayable
    assert manifest["request"]["params"]["max_gen_duration_s"] == 0.5
    assert manifest["model"]["fingerprint"].startswith("sha256:")
    assert set(manifest["tokens_sha256"]) == {"semantic", "coarse", "fine"}
    assert manifest["safety"] == {"guardrails": True, "watermark": True, "notes": []}
    versions = {p["name"]: p for p in manifest["plugins"]}
    assert versions["watermark"]["distribution"] == "bark-omni-watermark" and versions["provenance"]["active"]
    assert set(manifest["timings"]) >= {"semantic_s", "decode_s"}
    audio, sr = sf.read(generated, dtype="float32")
    assert sr == manifest["audio"]["sample_rate"] and len(audio) == manifest["audio"]["samples"]
    assert 0 <= manifest["watermark"]["payload"] < 2**16


def test_replay_is_bit_exact(generated, tmp_path):
    from bark_omni.files import write_audio
    from bark_omni_provenance.manifest import sha256_file

    manifest = load_manifest(manifest_path_for(generated))
    report = replay(manifest_path_for(generated))
    assert report.identical and report.tokens_identical and report.differences == []
    again = tmp_path / "again.wav"
    write_audio(again, report.audio, report.sample_rate)
    assert sha256_file(again) == manifest["audio"]["file_sha256"] == sha256_file(generated)


def test_result_save_from_python_writes_the_pair_the_cli_writes(generated, tmp_path):
    from bark_omni.api import run
    from bark_omni.files import sha256_file

    manifest = load_manifest(manifest_path_for(generated))
    result = run(rebuild_request(manifest))  # the default host, as the CLI uses
    saved = result.save(tmp_path / "from-python.wav")
    ours = load_manifest(manifest_path_for(saved))
    assert sha256_file(saved) == ours["audio"]["file_sha256"] == manifest["audio"]["file_sha256"]
    for key in ("request", "inputs", "model", "decoder", "device", "tokens_sha256", "watermark", "safety", "plugins"):
        assert ours[key] == manifest[key], key
    assert ours["audio"]["file"] == "from-python.wav"


def test_replay_refuses_changed_or_in_memory_inputs(generated, tmp_path):
    manifest = load_manifest(manifest_path_for(generated))
    prompt = tmp_path / "voice.npz"
    prompt.write_bytes(b"not the same file")
    manifest["inputs"]["history_prompt"] = {"path": str(prompt), "sha256": "0" * 64, "replayable": True}
    with pytest.raises(InvalidInputError, match="has changed since generation"):
        rebuild_request(manifest)
    manifest["inputs"]["history_prompt"] = {"sha256": "ab", "replayable": False}
    with pytest.raises(InvalidInputError, match="in-memory value"):
        rebuild_request(manifest)
    with pytest.raises(InvalidInputError, match="not a JSON manifest"):
        load_manifest(prompt)


def test_telemetry_is_off_by_default_and_rating_is_recorded(generated, tmp_path):
    assert not telemetry.enabled()
    assert not telemetry.log_file().exists()  # nothing was recorded by the generation
    path = rate(manifest_path_for(generated), 4)
    event = json.loads(path.read_text().splitlines()[-1])
    assert event["event"] == "rating" and event["rating"] == 4
    assert event["generation_id"] == load_manifest(manifest_path_for(generated))["generation_id"]
    for bad in (0, 6):
        with pytest.raises(InvalidInputError, match="1 to 5"):
            rate(manifest_path_for(generated), bad)


def test_enabled_telemetry_records_latency_and_quality_without_text(generated):
    telemetry.set_enabled(True)
    assert telemetry.enabled()
    request = rebuild_request(load_manifest(manifest_path_for(generated)))
    audio, sr = sf.read(generated, dtype="float32")
    result = bark_omni.GenerationResult(semantic=np.zeros(3, np.int64), coarse=np.zeros((2, 3)), fine=np.zeros((8, 3)),
                                        audio=audio, sample_rate=sr, timings={"semantic_s": 0.5, "decode_s": 0.1},
                                        model_fingerprint="sha256:abc")
    telemetry_plugin.generation_finished(request=request, result=result)
    event = json.loads(telemetry.log_file().read_text().splitlines()[-1])
    assert event["event"] == "generation" and event["real_time_factor"] == pytest.approx(0.6 / (len(audio) / sr), abs=1e-3)
    assert set(event["quality"]) == {"rms_dbfs", "peak", "clipped_fraction", "silence_fraction"}
    assert TEXT not in json.dumps(event) and event["text_chars"] == len(TEXT)


def test_opting_out_of_manifest_and_watermark(tmp_path, tiny_model_dir, capsys):
    from bark_omni.cli import main

    out = tmp_path / "plain.wav"
    with pytest.raises(SystemExit) as info:
        main(["generate", "--model", "tiny", "--text", TEXT, "--max-duration", "0.3", "-q", "-o", str(out),
              "--no-manifest", "--no-watermark", "--seed", "1"])
    assert info.value.code in (0, None)
    assert out.exists() and not manifest_path_for(out).exists()
    assert "warning: watermark switched off by --no-watermark" in capsys.readouterr().err


def test_adapter_weights_directory_is_hashed_and_checked(tmp_path):
    from bark_omni_provenance.manifest import _describe_input
    from bark_omni_provenance.replay import _input

    weights = tmp_path / "adapters"
    weights.mkdir()
    (weights / "image.safetensors").write_bytes(b"weights v1")
    described = _describe_input(str(weights))
    assert described["replayable"] and _input(described, "adapters") == str(weights.resolve())
    (weights / "image.safetensors").write_bytes(b"weights v2")
    with pytest.raises(InvalidInputError, match="has changed since generation"):
        _input(described, "adapters")
