"""``bark-omni adapters init`` and the modality options of ``bark-omni generate``, as people run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).with_name("bark-omni")
ONLY_ADAPTERS = {"BARK_OMNI_LOAD_PLUGINS": "text,audio,image,control"}  # the essentials and the four adapters


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300, env={**os.environ, **ONLY_ADAPTERS})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    import soundfile as sf
    from PIL import Image

    folder = tmp_path_factory.mktemp("cli-inputs")
    sf.write(folder / "voice.flac", 0.3 * np.sin(np.arange(36_000) * 0.07), 22_050)
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(folder / "grey.png")
    (folder / "events.json").write_text(json.dumps([{"time_s": 0.1, "kind": "beat"}, [0.2, "sfx", "laughs"]]))
    (folder / "broken.json").write_text("[{time_s: 1")
    return {"audio": folder / "voice.flac", "image": folder / "grey.png", "events": folder / "events.json",
            "broken": folder / "broken.json"}


def test_init_then_generate_with_all_four(tmp_path, inputs, tiny_model_dir):
    adapters = tmp_path / "adapters"
    init = run("adapters", "init", "--model", "tiny", "--modalities", "image,audio,text,control", "-o", str(adapters))
    assert init.returncode == 0, init.stderr
    assert init.stdout.strip() == str(adapters)
    meta = json.loads((adapters / "adapters.json").read_text())
    assert meta["fusion"]["modalities"] == ["style_text", "reference_audio", "image", "control_events"]
    assert (adapters / "adapters.safetensors").stat().st_size > 0
    again = run("adapters", "init", "--model", "tiny", "--modalities", "text", "-o", str(adapters))
    assert again.returncode != 0 and "already holds adapters; pass --force" in again.stderr

    out = tmp_path / "steered.wav"
    generated = run("generate", "--model", "tiny", "-t", "Four at once.", "--seed", "1", "--max-duration", "0.2", "-q",
                    "--adapters", str(adapters), "--style", "whispering, sad", "--reference-audio", str(inputs["audio"]),
                    "--image", str(inputs["image"]), "--control", str(inputs["events"]),
                    "--priority", "image=2", "--priority", "text=0.5", "-o", str(out))
    assert generated.returncode == 0, generated.stderr
    assert out.stat().st_size > 44 and "Traceback" not in generated.stderr


@pytest.fixture(scope="module")
def style_only(tmp_path_factory, tiny_models) -> Path:
    """Adapters for the style text only, and a copy that claims another base model."""
    import bark_omni
    from bark_omni.fusion import FusionModel

    folder = tmp_path_factory.mktemp("style-only")
    host = bark_omni.Host(strict=True, allow=["text"])
    FusionModel.initialise(host, tiny_models, ["style_text"]).save_pretrained(folder / "mine")
    FusionModel.initialise(host, tiny_models, ["style_text"]).save_pretrained(folder / "other")
    meta = json.loads((folder / "other" / "adapters.json").read_text())
    meta["fusion"]["base_fingerprint"] = "sha256:0123456789abcdef"
    (folder / "other" / "adapters.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("args, message", [
    # an image these style-only adapters lack is no longer an error: it takes its training-free route (tests/test_routes.py)
    (["--style", "calm", "--adapters", "{other}"], "were made for base model sha256:0123456789abcdef"),
])
def test_generate_errors_are_one_clear_line(tmp_path, inputs, style_only, args, message):
    places = {"image": inputs["image"], "mine": style_only / "mine", "other": style_only / "other"}
    out = tmp_path / "never.wav"
    result = run("generate", "--model", "tiny", "-t", "Hi.", "-q", "-o", str(out), *[a.format(**places) for a in args])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not out.exists()


def test_init_refuses_unknown_modalities(tmp_path):
    result = run("adapters", "init", "--model", "tiny", "--modalities", "image,smell", "-o", str(tmp_path / "x"))
    assert result.returncode != 0 and "unknown modality 'smell'" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("options, message", [
    ({"priorities": ["text=loud"]}, "--priority takes MODALITY=WEIGHT"),
    ({"priorities": ["smell=1"]}, "unknown modality 'smell'"),
    ({"priorities": ["image=-1"]}, "must be a finite number >= 0"),
    ({"control": "broken"}, "is not valid JSON"),
    ({"control": "missing"}, "cannot read control events"),
])
def test_bad_modality_options_are_clear_errors(inputs, tmp_path, options, message):
    from bark_omni.cli import cli_modalities
    from bark_omni.errors import InvalidInputError

    control = {"broken": inputs["broken"], "missing": tmp_path / "none.json"}.get(options.get("control"))
    with pytest.raises(InvalidInputError, match=message):
        cli_modalities(None, None, None, control, options.get("priorities", []))


def test_modality_options_become_a_bundle(inputs):
    from bark_omni.cli import cli_modalities

    bundle = cli_modalities("calm", inputs["audio"], inputs["image"], inputs["events"], ["audio=2", "control_events=0.5"])
    assert bundle.style_text == "calm" and bundle.reference_audio == str(inputs["audio"]) and bundle.image == str(inputs["image"])
    assert bundle.control_events == [{"time_s": 0.1, "kind": "beat"}, [0.2, "sfx", "laughs"]]
    assert bundle.priorities == {"reference_audio": 2.0, "control_events": 0.5}
