"""The semantic tokenizer: community quantizer files (both versions, exact layout, weights_only), our format, a
real transformers HuBERT loaded with from_pretrained, and full voice prompts from audio (API and CLI)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from bark_omni.errors import CheckpointError, UnsafeCheckpointError
from bark_omni_semantic import plugin
from bark_omni_semantic.hubert import TINY_HUBERT, SemanticTokenizer, load_hubert
from bark_omni_semantic.quantizer import QuantizerHead, community_keys, load_quantizer, save_quantizer

SMALL = dict(input_size=12, hidden_size=8)


def community_file(path, version, info=True, **sizes):
    """A quantizer .pth exactly as the community writes one: torch.save of the state dict, then a JSON
    ``<name>/.info`` appended to the zip (the older files have none)."""
    torch.manual_seed(version)
    head = QuantizerHead(**{**SMALL, **sizes}, version=version, intermediate_size=16)
    torch.save(head.state_dict(), path)
    if info:
        meta = {"input_size": head.input_size, "hidden_size": head.hidden_size, "output_size": 10_000, "version": version}
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(f"{path.stem}/.info", json.dumps(meta))
    return head


@pytest.mark.parametrize("version,info", [(0, False), (0, True), (1, True)])
def test_community_checkpoints_load_with_their_exact_layout(tmp_path, version, info):
    path = tmp_path / "quantifier_hubert_base_ls960_14.pth"
    written = community_file(path, version, info)
    assert set(written.state_dict()) == community_keys(version)
    head, config = load_quantizer(path)
    assert config["version"] == version and (head.input_size, head.hidden_size) == (12, 8)
    x = torch.randn(1, 7, 12)
    torch.testing.assert_close(head(x), written.eval()(x))


def test_bad_quantizer_files_are_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"lstm.weight_ih_l0": torch.zeros(4, 3)}, wrong)
    with pytest.raises(CheckpointError, match="not a HuBERT quantizer"):
        load_quantizer(wrong)
    pickled = tmp_path / "pickled.pth"
    torch.save({"fc.weight": torch.zeros(1), "obj": object.__new__(json.JSONDecoder)}, pickled)
    with pytest.raises((UnsafeCheckpointError, CheckpointError)):
        load_quantizer(pickled)


def test_our_format_round_trips(tmp_path):
    torch.manual_seed(0)
    head = QuantizerHead(**SMALL, version=1, intermediate_size=16)
    save_quantizer(head, tmp_path / "q", {"hubert": "tiny", "layer": 2, "accuracy": 0.5})
    loaded, config = load_quantizer(tmp_path / "q")
    assert config["layer"] == 2 and config["format"] == "bark-omni-quantizer"
    assert all(torch.equal(a, b) for a, b in zip(head.state_dict().values(), loaded.state_dict().values()))


def test_hubert_from_a_saved_tiny_config_feeds_the_head(tmp_path):
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    HubertModel(HubertConfig(**TINY_HUBERT)).save_pretrained(tmp_path / "hubert")
    hubert = load_hubert(tmp_path / "hubert", "cpu")
    head = QuantizerHead(input_size=TINY_HUBERT["hidden_size"], hidden_size=8)
    ids = SemanticTokenizer(hubert, head, layer=2)(np.random.default_rng(0).standard_normal(24_000).astype(np.float32) * 0.1, 24_000)
    assert ids.dtype == np.int64 and 0 <= ids.min() and ids.max() < 10_000
    assert 48 <= ids.size <= 50, "HuBERT's 320-sample hop at 16 kHz gives ~50 ids per second, Bark's rate"


def voice(seconds=2.0, rate=24_000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_prompt_from_audio_is_full_and_loads_no_gpt_stage(make_host, tiny_model_dir, monkeypatch):
    import bark_omni.models as models
    from bark_omni.prompts import prompt_from_audio

    monkeypatch.setattr(models, "load_models", lambda *a, **k: pytest.fail("the GPT stages must not load"))
    host = make_host(plugin)
    prompt = prompt_from_audio(voice(), sample_rate=24_000, model=tiny_model_dir, host=host, device="cpu")
    n = prompt["semantic_prompt"].size
    assert 95 <= n <= 100 and abs(prompt["coarse_prompt"].shape[1] - 1.5 * n) <= 1
    assert prompt["fine_prompt"].shape == (8, prompt["coarse_prompt"].shape[1])
    bare = prompt_from_audio(voice(), sample_rate=24_000, model=tiny_model_dir, host=host, device="cpu", semantic=False)
    assert bare["semantic_prompt"].size == 0


def test_cli_prompt_from_audio_fills_the_semantic_part(tmp_path, tiny_model_dir):
    import soundfile as sf
    from typer.testing import CliRunner

    from bark_omni.cli import app_with_plugins

    sf.write(tmp_path / "me.wav", voice(3.0), 24_000)
    out = tmp_path / "me.npz"
    result = CliRunner().invoke(app_with_plugins(), ["prompt", "from-audio", str(tmp_path / "me.wav"), str(out), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    with np.load(out) as data:
        assert data["semantic_prompt"].size >= 140 and data["coarse_prompt"].shape[0] == 2
