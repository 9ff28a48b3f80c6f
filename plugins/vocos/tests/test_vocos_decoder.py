"""The vocos decoder with a tiny Vocos built from vocos' own classes, in the published file layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bark_omni.errors import CheckpointError, InvalidInputError, UnsafeCheckpointError

pytest.importorskip("vocos", reason="vocos is not installed (pip install -e plugins/vocos installs it)")

from bark_omni_vocos.tiny import write_tiny_vocos  # noqa: E402
from bark_omni_vocos.weights import REPO_ID, VocosWeightsNotFoundError, locate_vocos  # noqa: E402


@pytest.fixture(scope="module")
def tiny_vocos_dir(tmp_path_factory, tiny_models):
    return write_tiny_vocos(tmp_path_factory.mktemp("vocos"), tiny_models.codec)


@pytest.fixture(scope="module")
def plain_vocos_dir(tmp_path_factory, tiny_models):
    """A tiny Vocos for the tiny Bark's own codec (what generate_audio(model="tiny") decodes with)."""
    return write_tiny_vocos(tmp_path_factory.mktemp("vocos-plain"), tiny_models.codec)


def fine_tokens(frames: int = 30) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 1024, size=(8, frames))


def test_vocos_is_registered_from_its_entry_point(tiny_host):
    spec = tiny_host.decoders["vocos"]
    assert (spec.sample_rate, spec.bitrate_kbps, spec.package) == (24_000, 6.0, "bark-omni-vocos")
    assert tiny_host.plugins["vocos"].distribution == "bark-omni-vocos"


def test_decodes_tiny_bark_tokens_to_24khz(tiny_host, tiny_models, tiny_vocos_dir):
    decode = tiny_host.decoder("vocos").load(tiny_models, {"weights": str(tiny_vocos_dir)})
    audio = decode(fine_tokens(30))
    assert audio.dtype == np.float32 and audio.shape == (30 * 320,) and np.isfinite(audio).all() and audio.std() > 0
    assert not np.allclose(audio, decode(fine_tokens(30)[:, ::-1].copy()))  # the tokens matter
    with pytest.raises(InvalidInputError, match=r"shape \(8, T>0\)"):
        decode(np.zeros((8, 0), dtype=np.int64))


def test_generate_audio_with_vocos(tiny_host, plain_vocos_dir):
    import bark_omni

    full, audio = bark_omni.generate_audio("Hello.", seed=0, model="tiny", silent=True, output_full=True,
                                           max_gen_duration_s=0.3, host=tiny_host, decoder="vocos",
                                           decoder_options={"weights": str(plain_vocos_dir)})
    assert audio.shape == (full["fine_prompt"].shape[1] * 320,)


def test_offline_without_weights_is_one_clear_line(monkeypatch, tmp_path, tiny_host, tiny_models):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("BARK_OMNI_VOCOS_WEIGHTS", raising=False)
    with pytest.raises(VocosWeightsNotFoundError) as info:
        tiny_host.decoder("vocos").load(tiny_models, {})
    assert "\n" not in str(info.value) and REPO_ID in str(info.value)
    with pytest.raises(VocosWeightsNotFoundError, match="does not hold config.yaml"):
        locate_vocos(tmp_path)


def test_options_are_checked(tiny_host, tiny_models):
    with pytest.raises(InvalidInputError, match="unknown vocos decoder option.*steps"):
        tiny_host.decoder("vocos").load(tiny_models, {"steps": 3})


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("config.yaml", "pytorch_model.bin"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_config_cannot_name_other_classes(tiny_models, tiny_vocos_dir, tmp_path):
    from bark_omni_vocos.weights import load_vocos

    bad = _copy(tiny_vocos_dir, tmp_path / "bad")
    config = yaml.safe_load((bad / "config.yaml").read_text())
    config["backbone"]["class_path"] = "os.system"
    (bad / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="backbone must be vocos.models.VocosBackbone"):
        load_vocos(bad, tiny_models.codec, "cpu")


def test_weights_are_loaded_safely_and_must_match_the_codec(tiny_models, tiny_vocos_dir, tmp_path):
    import torch

    from bark_omni_vocos.weights import load_vocos

    evil = _copy(tiny_vocos_dir, tmp_path / "evil")
    torch.save({"payload": Path("/etc/passwd")}, evil / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError):
        load_vocos(evil, tiny_models.codec, "cpu")
    other = _copy(tiny_vocos_dir, tmp_path / "other")
    state = torch.load(other / "pytorch_model.bin", weights_only=True)
    state["feature_extractor.codebook_weights"] += 1.0
    torch.save(state, other / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="other EnCodec codebooks"):
        load_vocos(other, tiny_models.codec, "cpu")
