"""Voice prompts: bundled presets, .npz files, transformers' speaker embeddings and prompts from a recording,
validated with errors that say what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bark_omni.errors import PromptError
from bark_omni.prompts import (
    AcousticOnlyPromptWarning,
    encode_audio,
    load_history_prompt,
    preset_names,
    prompt_from_audio,
    save_prompt,
    validate_prompt,
)


def test_all_271_presets_load_by_name():
    names = preset_names()
    assert len(names) == 271 and "v2/en_speaker_6" in names and "announcer" in names
    for name in names:
        prompt = load_history_prompt(name)
        assert prompt["coarse_prompt"].shape[0] == 2 and prompt["fine_prompt"].shape[0] == 8


def test_user_npz_round_trips(tmp_path):
    preset = load_history_prompt("v2/de_speaker_1")
    save_prompt(preset, tmp_path / "mine.npz")
    for value in (str(tmp_path / "mine.npz"), tmp_path / "mine.npz"):
        loaded = load_history_prompt(value)
        for key in preset:
            np.testing.assert_array_equal(loaded[key], preset[key])
            assert loaded[key].dtype == preset[key].dtype


def _broken(change):
    prompt = dict(load_history_prompt("v2/en_speaker_1"))
    change(prompt)
    return prompt


@pytest.mark.parametrize("change, expected", [
    (lambda p: p.pop("fine_prompt"), "lacks fine_prompt"),
    (lambda p: p.__setitem__("coarse_prompt", p["coarse_prompt"][:1]), "coarse_prompt must have shape (2, frames)"),
    (lambda p: p.__setitem__("fine_prompt", p["fine_prompt"][:4]), "fine_prompt must have shape (8, frames)"),
    (lambda p: p.__setitem__("semantic_prompt", p["semantic_prompt"][None]), "semantic_prompt must be a 1-D array"),
    (lambda p: p.__setitem__("fine_prompt", p["fine_prompt"].astype(np.float32)), "fine_prompt must hold integers, found dtype float32"),
    (lambda p: p["coarse_prompt"].__setitem__((0, 0), 1024), "coarse_prompt values must lie in 0..1023"),
    (lambda p: p["semantic_prompt"].__setitem__(0, 10_000), "semantic_prompt values must lie in 0..9999"),
    (lambda p: p.__setitem__("coarse_prompt", p["coarse_prompt"][:, :100]), "Bark needs about 1.50 coarse frames per semantic token"),
])
def test_malformed_prompts_say_what_is_wrong(change, expected):
    with pytest.raises(PromptError) as caught:
        validate_prompt(_broken(change), "my.npz")
    assert expected in str(caught.value) and str(caught.value).startswith("my.npz") and "\n" not in str(caught.value)


def test_unknown_names_get_hints(tmp_path):
    with pytest.raises(PromptError, match="did you mean .*v2/en_speaker_6"):
        load_history_prompt("v3/en_speaker_6")
    with pytest.raises(PromptError, match="does not exist"):
        load_history_prompt(str(tmp_path / "missing.npz"))
    (tmp_path / "pickled.npz").write_bytes(b"not a zip")
    with pytest.raises(PromptError, match="cannot read"):
        load_history_prompt(str(tmp_path / "pickled.npz"))


@pytest.fixture(scope="module")
def speaker_embeddings(tmp_path_factory, tiny_model_dir):
    """transformers' layout, written by BarkProcessor.save_pretrained from two bundled presets."""
    transformers = pytest.importorskip("transformers")
    source = tmp_path_factory.mktemp("embeddings-src")
    table = {"repo_or_path": str(source)}
    for voice in ("v2/en_speaker_6", "v2/fr_speaker_2"):
        prompt = load_history_prompt(voice)
        (source / "v2").mkdir(exist_ok=True)
        table[voice] = {}
        for key, array in prompt.items():
            np.save(source / f"{voice}_{key}.npy", array)
            table[voice][key] = f"{voice}_{key}.npy"
    tokenizer = transformers.BertTokenizer(vocab_file=str(tiny_model_dir / "vocab.txt"))
    target = tmp_path_factory.mktemp("embeddings")
    transformers.BarkProcessor(tokenizer=tokenizer, speaker_embeddings=table).save_pretrained(str(target))
    assert (target / "speaker_embeddings_path.json").is_file()
    return target


def test_transformers_speaker_embeddings(speaker_embeddings):
    import transformers

    ours = load_history_prompt(str(speaker_embeddings / "v2" / "fr_speaker_2"))
    processor = transformers.BarkProcessor.from_pretrained(str(speaker_embeddings))
    theirs = processor("hello", voice_preset="v2/fr_speaker_2")["history_prompt"]
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key].numpy())
        np.testing.assert_array_equal(ours[key], load_history_prompt("v2/fr_speaker_2")[key])
    with pytest.raises(PromptError, match="has no voice 'v2/de_speaker_0'.*v2/en_speaker_6"):
        load_history_prompt(speaker_embeddings / "v2" / "de_speaker_0")


def test_prompt_list_from_speaker_embeddings(speaker_embeddings, capsys):
    from bark_omni import cli

    with pytest.raises(SystemExit):
        cli.main(["prompt", "list", "--from", str(speaker_embeddings)])
    names = capsys.readouterr().out.split()
    assert names == [f"{speaker_embeddings}/v2/en_speaker_6", f"{speaker_embeddings}/v2/fr_speaker_2"]
    assert load_history_prompt(names[0])["semantic_prompt"].size == 309  # the listed names load as history_prompt


def test_speaker_embeddings_cannot_point_outside(speaker_embeddings, tmp_path):
    import shutil

    target = tmp_path / "evil"
    shutil.copytree(speaker_embeddings, target)
    table = json.loads((target / "speaker_embeddings_path.json").read_text())
    table["v2/en_speaker_6"]["fine_prompt"] = "../../etc/passwd"
    (target / "speaker_embeddings_path.json").write_text(json.dumps(table))
    with pytest.raises(PromptError, match="points outside"):
        load_history_prompt(target / "v2" / "en_speaker_6")


def _write_tone(path, rate, seconds, channels):
    import soundfile as sf

    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    sf.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate)


def test_prompt_from_a_recording(tmp_path, tiny_bark):
    import soundfile as sf
    import torch

    _write_tone(tmp_path / "voice24.wav", 24_000, 0.6, 1)
    with pytest.warns(AcousticOnlyPromptWarning, match="no semantic tokens"):
        prompt = prompt_from_audio(tmp_path / "voice24.wav", codec=tiny_bark.codec)
    samples, _ = sf.read(tmp_path / "voice24.wav", dtype="float32")
    with torch.inference_mode():
        codes = tiny_bark.codec.encode(torch.from_numpy(samples)[None, None])[0][0][0].numpy()
    assert prompt["semantic_prompt"].shape == (0,) and codes.shape == (8, 45)
    np.testing.assert_array_equal(prompt["fine_prompt"], codes)
    np.testing.assert_array_equal(prompt["coarse_prompt"], codes[:2])
    _write_tone(tmp_path / "voice16.wav", 16_000, 0.6, 2)  # stereo, another rate: mixed down and resampled
    with pytest.warns(AcousticOnlyPromptWarning):
        other = prompt_from_audio(tmp_path / "voice16.wav", codec=tiny_bark.codec)
    assert other["fine_prompt"].shape == (8, 45) and other["coarse_prompt"].shape == (2, 45)
    with pytest.raises(PromptError, match="at least 0.5 s"):
        prompt_from_audio(np.zeros(1000, dtype=np.float32), sample_rate=24_000, codec=tiny_bark.codec)
    with pytest.raises(PromptError, match="NaN"):
        prompt_from_audio(np.full(24_000, np.nan, dtype=np.float32), sample_rate=24_000, codec=tiny_bark.codec)
    assert encode_audio(tiny_bark.codec, samples).dtype == np.int64


def test_acoustic_only_prompt_in_generation(tiny_bark, compat_host, tmp_path):
    """Documented behaviour: the semantic stage runs unprompted, the coarse and fine stages follow the voice."""
    import bark_omni

    _write_tone(tmp_path / "voice.wav", 24_000, 1.0, 1)
    with pytest.warns(AcousticOnlyPromptWarning):
        prompt = prompt_from_audio(tmp_path / "voice.wav", codec=tiny_bark.codec)
    run = dict(seed=3, model=tiny_bark.source, silent=True, output_full=True, max_gen_duration_s=0.4, fine_temp=None,
               host=compat_host)
    plain, _ = bark_omni.generate_audio("Hello there.", None, **run)
    with pytest.warns(AcousticOnlyPromptWarning):
        voiced, audio = bark_omni.generate_audio("Hello there.", prompt, **run)
    np.testing.assert_array_equal(voiced["semantic_prompt"], plain["semantic_prompt"])
    assert voiced["coarse_prompt"].shape == plain["coarse_prompt"].shape
    assert not np.array_equal(voiced["coarse_prompt"], plain["coarse_prompt"]) and audio.size > 0


def test_prompt_cli(tmp_path, tiny_model_dir, capsys, monkeypatch):
    from bark_omni import cli, host

    monkeypatch.setattr(host, "_default_host", host.Host(strict=True, allow={"checkpoints"}))

    def run(*args):
        with pytest.raises(SystemExit) as done:
            cli.main(list(args))
        out, err = capsys.readouterr()
        return (done.value.code or 0), out, err

    _write_tone(tmp_path / "voice.wav", 22_050, 0.6, 1)
    code, out, err = run("prompt", "from-audio", str(tmp_path / "voice.wav"), str(tmp_path / "voice.npz"),
                         "--model", str(tiny_model_dir))
    assert code == 0 and "no semantic tokens" in err and (tmp_path / "voice.npz").is_file()
    code, out, err = run("prompt", "show", str(tmp_path / "voice.npz"), "--json")
    info = json.loads(out)
    assert info["acoustic_only"] and info["fine_prompt"]["shape"] == [8, 45]
    code, out, err = run("prompt", "show", "v2/en_speaker_6")
    assert code == 0 and "semantic_prompt  shape (309,)" in out
    code, out, err = run("prompt", "list")
    assert len(out.split()) == 271
    code, out, err = run("prompt", "from-audio", str(tmp_path / "missing.wav"), str(tmp_path / "out.npz"),
                         "--model", str(tiny_model_dir))
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "out.npz").exists()
    code, out, err = run("prompt", "show", "v2/no_such_voice")
    assert code == 2 and "unknown voice preset" in err
