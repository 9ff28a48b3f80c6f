"""Bad input gets a typed exception with a one-line message that says what to do."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import bark_omni
from bark_omni.errors import CheckpointError, InvalidInputError, ModelNotFoundError, PromptError
from bark_omni.loop import encode_text
from bark_omni.models import clear_model_cache

FAST = dict(silent=True, max_gen_duration_s=0.3, seed=0)


def one_line(exc: BaseException, path: object = None) -> str:
    """The message, checked to be one line of at most 200 characters (a folder of the test's own counted as 20)."""
    message = str(exc)
    measured = message.replace(str(path), "x" * 20) if path is not None else message
    assert "\n" not in message and len(measured) <= 200, message
    return message


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text(text, tiny_host):
    with pytest.raises(InvalidInputError) as info:
        bark_omni.generate_audio(text, model="tiny", host=tiny_host, **FAST)
    assert "text='" in one_line(info.value)


def test_long_text_warns_how_much_is_cut(tiny_models):
    with pytest.warns(UserWarning, match=r"the last \d+ tokens \(\d+(\.\d)?%\) are dropped"):
        ids = encode_text(tiny_models.tokenizer, "word " * 300)
    assert len(ids) == 256


@pytest.mark.parametrize("value, match", [
    ("v2/en_speaker_42", "unknown voice preset"),
    ("v3/en_speaker_1", "did you mean"),
    (12, "must be a preset name"),
])
def test_unknown_prompt(value, match, tiny_host):
    with pytest.raises(PromptError, match=match) as info:
        bark_omni.generate_audio("hi", value, model="tiny", host=tiny_host, **FAST)
    one_line(info.value)


def _prompt(**override):
    prompt = {"semantic_prompt": np.arange(100) % 10_000, "coarse_prompt": np.zeros((2, 150), np.int64),
              "fine_prompt": np.zeros((8, 150), np.int64)}
    prompt.update(override)
    return {k: v for k, v in prompt.items() if v is not None}


@pytest.mark.parametrize("override, match", [
    ({"fine_prompt": None}, "lacks fine_prompt"),
    ({"coarse_prompt": np.zeros((3, 150), np.int64)}, r"shape \(2, frames\)"),
    ({"semantic_prompt": np.full(100, 10_000)}, "0..9999"),
    ({"coarse_prompt": np.zeros((2, 40), np.int64)}, "coarse frames per semantic token"),
    ({"fine_prompt": np.zeros((8, 150), np.float32)}, "integers"),
])
def test_malformed_prompt(override, match, tmp_path, tiny_host):
    path = tmp_path / "voice.npz"
    np.savez(path, **_prompt(**override))
    with pytest.raises(PromptError, match=match) as info:
        bark_omni.generate_audio("hi", str(path), model="tiny", host=tiny_host, **FAST)
    one_line(info.value)


def test_valid_custom_prompt_is_accepted(tmp_path, tiny_host):
    path = tmp_path / "voice.npz"
    np.savez(path, **_prompt())
    audio = bark_omni.generate_audio("hi", str(path), model="tiny", host=tiny_host, **FAST)
    assert audio.dtype == np.float32 and audio.ndim == 1


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    yield target
    clear_model_cache()


def test_unreadable_checkpoint(model_copy, tiny_host):
    (model_copy / "coarse.pt").write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="coarse.pt") as info:
        bark_omni.generate_audio("hi", model=model_copy, host=tiny_host, **FAST)
    one_line(info.value, model_copy)


@pytest.mark.parametrize("source, target", [("text.pt", "fine.pt"), ("coarse.pt", "text.pt"), ("fine.pt", "coarse.pt")])
def test_checkpoint_of_another_stage_is_refused_when_loading(source, target, model_copy, tiny_host):
    shutil.copy(model_copy / source, model_copy / target)
    stage = source.split(".")[0]
    with pytest.raises(CheckpointError, match=f"{target} holds a {stage} model, not Bark's {target.split('.')[0]}") as info:
        bark_omni.generate_audio("hi", model=model_copy, host=tiny_host, **FAST)
    one_line(info.value, model_copy)


def test_checkpoint_with_foreign_vocabulary_is_refused(model_copy, tiny_host):
    import torch

    from bark_omni.safe_load import safe_torch_load

    checkpoint = safe_torch_load(model_copy / "coarse.pt")
    checkpoint["model_args"]["input_vocab_size"] = 500
    torch.save(checkpoint, model_copy / "coarse.pt")
    with pytest.raises(CheckpointError, match="vocabularies 500/12096") as info:
        bark_omni.generate_audio("hi", model=model_copy, host=tiny_host, **FAST)
    one_line(info.value, model_copy)


@pytest.mark.parametrize("content", ["tensor", "wrong keys", "wrong shape"])
def test_malformed_encodec_weights(content, model_copy, tiny_host):
    import torch

    from bark_omni.constants import ENCODEC_FILE
    from bark_omni.safe_load import safe_torch_load

    path = model_copy / ENCODEC_FILE
    state = safe_torch_load(path)
    if content == "tensor":
        state = torch.zeros(3)
    elif content == "wrong keys":
        state = {f"renamed.{k}": v for k, v in state.items()}
    else:
        key = next(iter(state))
        state[key] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=ENCODEC_FILE) as info:
        bark_omni.generate_audio("hi", model=model_copy, host=tiny_host, **FAST)
    one_line(info.value, model_copy)


@pytest.mark.parametrize("vocab", ["", "[PAD]\n[UNK]\n"])
def test_implausible_vocab_is_refused(vocab, model_copy, tiny_host):
    from bark_omni.errors import BarkOmniError

    (model_copy / "vocab.txt").write_text(vocab, encoding="utf-8")
    with pytest.raises(BarkOmniError, match="vocab") as info:
        bark_omni.generate_audio("hi", model=model_copy, host=tiny_host, **FAST)
    one_line(info.value, model_copy)


def test_unknown_model_name(tiny_host):
    with pytest.raises(ModelNotFoundError, match="'bark', 'bark-small', 'tiny'"):
        bark_omni.generate_audio("hi", model="bark-huge", host=tiny_host, **FAST)


def test_missing_real_weights_say_where_and_how(tmp_path, monkeypatch, tiny_host):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError) as info:
        bark_omni.generate_audio("hi", model="bark-small", host=tiny_host, **FAST)
    message = one_line(info.value, tmp_path)
    assert str(tmp_path / "suno" / "bark_v0") in message and "bark-omni download bark-small" in message


@pytest.mark.parametrize("kwargs, match", [
    ({"text_temp": 0}, "text_temp"),
    ({"waveform_temp": -1}, "waveform_temp"),
    ({"seed": -3}, "seed"),
    ({"bogus": 1}, "unknown argument"),
])
def test_bad_arguments(kwargs, match, tiny_host):
    with pytest.raises(InvalidInputError, match=match):
        bark_omni.generate_audio("hi", model="tiny", host=tiny_host, silent=True, **kwargs)
