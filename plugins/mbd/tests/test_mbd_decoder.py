"""The mbd decoder: registration, options, weight lookup, safe loading, and decoding with a tiny MBD."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bark_omni.errors import CheckpointError, InvalidInputError, MissingPluginError, UnsafeCheckpointError
from bark_omni_mbd import plugin
from bark_omni_mbd.errors import MBDWeightsNotFoundError
from bark_omni_mbd.options import MBDOptions, step_list
from bark_omni_mbd.weights import FILENAME, REPO_ID, locate_weights

needs_audiocraft = pytest.mark.usefixtures("tiny_mbd_path")


def fine_tokens(frames: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1024, size=(8, frames))


# registration and host errors ----------------------------------------------------------------------------------

def test_mbd_is_a_slow_24khz_decoder_from_its_entry_point(tiny_host):
    spec = tiny_host.decoders["mbd"]
    assert (spec.sample_rate, spec.latency, spec.bitrate_kbps, spec.package) == (24_000, "slow", 6.0, "bark-omni-mbd")
    assert tiny_host.plugins["mbd"].distribution == "bark-omni-mbd"


@pytest.mark.parametrize("name, package", [("mbd", "bark-omni-mbd"), ("vocos", "bark-omni-vocos")])
def test_uninstalled_decoder_names_its_package(make_host, name, package):
    host = make_host()  # the essential built-ins only
    with pytest.raises(MissingPluginError) as info:
        host.decoder(name)
    message = str(info.value)
    assert "\n" not in message and f"pip install {package}" in message and "encodec" in message


def test_unknown_decoder_lists_the_available_ones(make_host):
    with pytest.raises(MissingPluginError, match=r"no decoder named 'nope'.*available: encodec, mbd\)$"):
        make_host(plugin).decoder("nope")


# options -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, match", [
    ({"step": 3}, "unknown mbd decoder option.*step.*accepted: steps"),
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"steps": True}, "steps must be an integer"),
    ({"steps": 2.5}, "steps must be an integer"),
    ({"eq_match": "yes"}, "eq_match must be true or false"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"weights": 3}, "weights must be a path"),
])
def test_bad_options_are_typed_one_line_errors(options, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        MBDOptions.parse(options)
    assert "\n" not in str(info.value)


def test_step_list_reproduces_audiocraft_default_and_stays_valid():
    assert step_list(1000, 20) == list(range(1000))[::-50] + [0]  # audiocraft's generate_subsampled default
    assert step_list(1000, 1) == [999, 0]
    for steps in (2, 3, 7, 50, 333, 999):
        states = step_list(1000, steps)
        assert len(states) == steps + 1 and states[0] == 999 and states[-1] == 0
        assert all(a > b for a, b in zip(states, states[1:]))
    with pytest.raises(InvalidInputError, match="between 1 and 999"):
        step_list(1000, 1000)


# finding the weights -------------------------------------------------------------------------------------------

def test_offline_without_weights_says_how_to_get_them(no_mbd_weights):
    with pytest.raises(MBDWeightsNotFoundError) as info:
        locate_weights()
    message = str(info.value)
    assert "\n" not in message and REPO_ID in message and FILENAME in message and "weights" in message


def test_explicit_missing_path_is_named(no_mbd_weights, tmp_path):
    with pytest.raises(MBDWeightsNotFoundError, match=str(tmp_path / "nowhere")):
        locate_weights(tmp_path / "nowhere")


def test_weights_come_from_path_env_and_hf_cache(no_mbd_weights, tmp_path, monkeypatch):
    real = tmp_path / "file" / FILENAME
    real.parent.mkdir()
    real.write_bytes(b"x")
    assert locate_weights(real.parent) == real  # a folder holding the file
    monkeypatch.setenv("BARK_OMNI_MBD_WEIGHTS", str(real))
    assert locate_weights() == real
    monkeypatch.delenv("BARK_OMNI_MBD_WEIGHTS")
    repo = no_mbd_weights / f"models--{REPO_ID.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    shutil.copy(real, repo / "snapshots" / "abc123" / FILENAME)
    assert locate_weights() == repo / "snapshots" / "abc123" / FILENAME


# the package: safe loading -------------------------------------------------------------------------------------

@needs_audiocraft
def test_package_refuses_foreign_code_before_running_it(tmp_path):
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"sample_rate": 24_000, "n_bands": 1, 0: {"cfg": Path("/etc/passwd")}}, path)
    from bark_omni_mbd.package import read_mbd_package

    with pytest.raises(UnsafeCheckpointError, match="pathlib"):
        read_mbd_package(path)


@needs_audiocraft
def test_package_rejects_wrong_kinds_of_file(tmp_path, tiny_mbd_path):
    import torch

    from bark_omni_mbd.package import omegaconf_globals, read_mbd_package

    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not an audiocraft MultiBandDiffusion package"):
        read_mbd_package(tmp_path / "plain.pt")
    with torch.serialization.safe_globals(omegaconf_globals()):
        pkg = torch.load(tiny_mbd_path, weights_only=True)
    torch.save({**pkg, "sample_rate": 32_000}, tmp_path / "musicgen.pt")
    with pytest.raises(CheckpointError, match="32000 Hz.*mbd_comp_8.pt"):
        read_mbd_package(tmp_path / "musicgen.pt")
    pkg[0]["cfg"].n_q = 4
    torch.save(pkg, tmp_path / "comp4.pt")
    with pytest.raises(CheckpointError, match="4 codebooks.*mbd_comp_8.pt"):
        read_mbd_package(tmp_path / "comp4.pt")
    (tmp_path / "cut.pt").write_bytes(tiny_mbd_path.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        read_mbd_package(tmp_path / "cut.pt")


@needs_audiocraft
def test_real_audiocraft_loader_reads_what_we_wrote(tiny_mbd_path):
    """The tiny package is in audiocraft's own format: its loader (given the same allowlist) rebuilds it too."""
    import torch
    from audiocraft.models.loaders import load_diffusion_models

    from bark_omni_mbd.package import omegaconf_globals

    with torch.serialization.safe_globals(omegaconf_globals()):
        models, processors, cfgs = load_diffusion_models(str(tiny_mbd_path))
    assert len(models) == 4 and [c.filter.idx_band for c in cfgs] == [0, 1, 2, 3]


# decoding ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mbd_decode(tiny_mbd_path, tiny_host, tiny_models):
    def make(**options):
        return tiny_host.decoder("mbd").load(tiny_models, {"weights": str(tiny_mbd_path), **options})

    return make


def test_decodes_to_24khz_audio_of_the_token_length(mbd_decode, tiny_models):
    from bark_omni.loop import codec_decode

    fine = fine_tokens(24)
    audio = mbd_decode(steps=2)(fine)
    assert audio.dtype == np.float32 and audio.shape == (24 * 320,)  # 75 Hz frames at 24 kHz
    assert np.isfinite(audio).all() and audio.std() > 0
    plain = mbd_decode(steps=2, eq_match=False)
    assert not np.allclose(plain(fine), plain(fine_tokens(24, seed=1)))  # the tokens condition the diffusion
    reference = codec_decode(tiny_models.codec, fine)
    assert 0.5 < audio.std() / reference.std() < 2.0  # EQ matching keeps EnCodec's level
    assert np.array_equal(audio, mbd_decode(steps=2)(fine))  # seeded: reproducible
    assert not np.array_equal(audio, mbd_decode(steps=2, seed=1)(fine))
    assert not np.allclose(audio, mbd_decode(steps=2, eq_match=False)(fine))


def test_steps_set_the_number_of_model_evaluations(mbd_decode):
    decode = mbd_decode(steps=3)
    calls = []
    hooks = [dp.model.register_forward_hook(lambda *a: calls.append(1)) for dp in decode.mbd.DPs]
    try:
        decode(fine_tokens(8))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(calls) == 3 * 4  # steps x bands


def test_decoding_leaves_the_global_rng_alone(mbd_decode):
    import torch

    decode = mbd_decode(steps=1)
    state = torch.random.get_rng_state()
    decode(fine_tokens(8))
    assert torch.equal(state, torch.random.get_rng_state())


def test_bad_tokens_are_typed_errors(mbd_decode):
    decode = mbd_decode(steps=1)
    with pytest.raises(InvalidInputError, match=r"shape \(8, T>0\)"):
        decode(np.zeros((2, 10), dtype=np.int64))
    with pytest.raises(InvalidInputError, match=r"integers in \[0, 1024\)"):
        decode(np.full((8, 10), 1024))


def test_generate_audio_with_mbd(tiny_mbd_path, tiny_host):
    import bark_omni

    full, audio = bark_omni.generate_audio("Hello there.", seed=0, model="tiny", silent=True, output_full=True,
                                           max_gen_duration_s=0.3, host=tiny_host, decoder="mbd",
                                           decoder_options={"steps": 2, "weights": str(tiny_mbd_path)})
    assert audio.shape == (full["fine_prompt"].shape[1] * 320,) and np.isfinite(audio).all()


def test_cli_decoder_steps(tiny_mbd_path, tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from bark_omni.cli import main

    monkeypatch.setenv("BARK_OMNI_MBD_WEIGHTS", str(tiny_mbd_path))
    out = tmp_path / "mbd.wav"
    with pytest.raises(SystemExit) as info:
        main(["generate", "--text", "Hello.", "--model", "tiny", "--seed", "0", "--max-duration", "0.3", "-q",
              "--decoder", "mbd", "--decoder-steps", "2", "-o", str(out)])
    assert info.value.code in (0, None)
    audio, rate = sf.read(out)
    assert rate == 24_000 and len(audio) % 320 == 0 and len(audio) > 0
    out.unlink()
    with pytest.raises(SystemExit) as info:
        main(["generate", "--text", "Hello.", "--model", "tiny", "--seed", "0", "--max-duration", "0.3", "-q",
              "--decoder", "mbd", "--decoder-steps", "0", "-o", str(out)])
    assert info.value.code != 0 and not out.exists()
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: mbd decoder option steps")


def test_plugins_list_shows_mbd_latency(capsys):
    import json

    from bark_omni.cli import main

    with pytest.raises(SystemExit) as info:
        main(["plugins", "list", "--json"])
    assert info.value.code in (0, None)
    decoders = json.loads(capsys.readouterr().out)["decoders"]
    assert decoders["mbd"]["latency"] == "slow" and decoders["encodec"]["latency"] == "realtime"
