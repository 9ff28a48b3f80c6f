"""The image adapter: conformance, every image mode in, undecodable files out, the frozen CLIP tower."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bark_omni.errors import InvalidInputError, ModelNotFoundError
from bark_omni.testing import check_adapter_conformance
from bark_omni_image import plugin
from bark_omni_image.adapter import ImageAdapter
from bark_omni_image.encoder import TINY
from bark_omni_image.loading import load_image


def gradient(h: int = 40, w: int = 56) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / w * 255, y / h * 255, np.full_like(x, 128.0)], axis=-1).astype(np.uint8)


def test_conformance(make_host, tiny_models, tmp_path):
    path = tmp_path / "scene.png"
    Image.fromarray(gradient()).save(path)
    check_adapter_conformance(make_host(plugin).adapters["image"], tiny_models, samples=[str(path), gradient(20, 30)],
                              garbage=[np.full((4, 4, 3), np.nan), np.zeros((0, 5, 3)), np.zeros((5, 5, 7))])


def test_patch_tokens_conform_too(make_host, tiny_models):
    check_adapter_conformance(make_host(plugin).adapters["image"], tiny_models, samples=[gradient()], config={"tokens": "patches"})


def test_tiny_encoder_is_chosen_for_tiny_bark_and_is_deterministic(tiny_models):
    a, b = ImageAdapter(tiny_models, 16, {}), ImageAdapter(tiny_models, 16, {})
    assert a.config["encoder"] == TINY
    assert torch.equal(a.prepare(gradient()), b.prepare(gradient()))
    assert not any(k.startswith("visual") or "transformer" in k for k in a.state_dict())
    assert all(not p.requires_grad for p in a.frozen_modules()["visual"].parameters())


def test_every_mode_gives_the_same_rgb():
    rgb = gradient()
    reference = np.asarray(load_image(rgb))
    as_image = Image.fromarray(rgb)
    for mode in ("CMYK", "YCbCr", "P"):
        converted = as_image.convert(mode)
        out = np.asarray(load_image(converted))
        np.testing.assert_array_equal(out, np.asarray(converted.convert("RGB")))
        if mode != "P":  # P quantises to a palette; the others keep the colours
            assert np.abs(out.astype(int) - reference).mean() < 3
    np.testing.assert_array_equal(np.asarray(load_image(rgb.astype(np.float32) / 255)), reference)
    np.testing.assert_array_equal(np.asarray(load_image(np.moveaxis(rgb, -1, 0))), reference)  # channels first
    np.testing.assert_array_equal(np.asarray(load_image(torch.from_numpy(rgb))), reference)


def test_alpha_is_composited_on_white():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, 3] = 255  # top half opaque black, bottom half transparent
    out = np.asarray(load_image(rgba))
    assert (out[:4] == 0).all() and (out[4:] == 255).all()
    assert (np.asarray(load_image(Image.fromarray(rgba[..., [0, 3]], mode="LA"))) == out).all()


def test_greyscale_and_16_bit():
    grey = np.asarray(load_image(np.full((6, 6), 128, np.uint8)))
    assert grey.shape == (6, 6, 3) and (grey == 128).all()
    sixteen = np.full((6, 6), 65535 // 2, np.uint16)
    assert (np.asarray(load_image(sixteen)) == 127).all()
    as_pil = Image.fromarray(np.full((6, 6), 65535, np.uint16))
    assert as_pil.mode.startswith("I;16") and (np.asarray(load_image(as_pil)) == 255).all()
    assert (np.asarray(load_image(np.ones((6, 6), bool))) == 255).all()


def test_16_bit_png_file(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((6, 6), 65535, np.uint16)).save(path)
    assert (np.asarray(load_image(path)) == 255).all()


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\nbroken", b"GIF89a" + b"\x00" * 10, b"plain text"])
def test_undecodable_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match="cannot decode image"):
        load_image(path)


@pytest.mark.parametrize("value, message", [
    (np.full((4, 4), -1.0), "must lie in"),
    (np.full((4, 4), 300.0), "must lie in"),
    (np.full((4, 4), -3), "negative"),
    (np.full((4, 4), 70_000, np.int64), "0..65535"),
    (np.zeros((5, 5, 2)), "must be \\(H, W\\)"),
    (np.array([["a"]]), "must hold numbers"),
    ({"not": "an image"}, "must be a file path"),
    ("/nonexistent/picture.png", "does not exist"),
])
def test_unusable_arrays_and_values_are_clear_errors(value, message):
    with pytest.raises(InvalidInputError, match=message):
        load_image(value)


def test_real_clip_weights_missing_from_the_cache_is_a_clear_error(tiny_models, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="no local weights for open_clip ViT-B-32"):
        ImageAdapter(tiny_models, 16, {"encoder": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"})
    with pytest.raises(InvalidInputError, match="unknown open_clip model"):
        ImageAdapter(tiny_models, 16, {"encoder": "NoSuchNet"})


def test_a_local_weight_file_is_loaded_into_the_named_architecture(tiny_models, tmp_path):
    """``pretrained`` as a file: its weights (not the seeded ones) are what the adapter encodes with; a file that
    is missing, or made for another architecture, is a one-line error before anything runs."""
    from safetensors.torch import save_file

    from bark_omni_image.encoder import build_clip

    model, _ = build_clip(TINY, None)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    state["visual.conv1.weight"] = torch.randn_like(state["visual.conv1.weight"])
    path = tmp_path / "clip.safetensors"
    save_file(state, str(path))
    loaded = ImageAdapter(tiny_models, 16, {"encoder": TINY, "pretrained": str(path)})
    seeded = ImageAdapter(tiny_models, 16, {"encoder": TINY})
    assert torch.equal(loaded.frozen_modules()["visual"].conv1.weight, state["visual.conv1.weight"])
    assert not torch.allclose(loaded.prepare(gradient()), seeded.prepare(gradient()))
    with pytest.raises(ModelNotFoundError, match="not found; pass an existing file"):
        ImageAdapter(tiny_models, 16, {"encoder": TINY, "pretrained": str(tmp_path / "nothing.safetensors")})
    save_file({"visual.conv1.weight": state["visual.conv1.weight"]}, str(tmp_path / "part.safetensors"))
    with pytest.raises(InvalidInputError, match="does not fit open_clip 'tiny'") as caught:
        ImageAdapter(tiny_models, 16, {"encoder": TINY, "pretrained": str(tmp_path / "part.safetensors")})
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 220


def test_features_are_standardised_with_running_statistics_learnt_in_training():
    """The shared component of a frozen encoder's features (same for every image) is removed; single-image
    batches work; the statistics are buffers saved with the adapter, not trained weights."""
    import torch

    from bark_omni_image.adapter import FeatureStandardiser

    standardise = FeatureStandardiser(8).train()
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(8, generator=g) * 50
    for _ in range(60):
        standardise(shared + torch.randn(16, 8, generator=g))
    standardise(shared + torch.randn(1, 8, generator=g))  # one image in a batch is fine
    standardise.eval()
    out = standardise(shared + torch.randn(256, 8, generator=g))
    assert out.mean(0).abs().max() < 0.3 and (out.std(0) - 1).abs().max() < 0.3
    assert not list(standardise.parameters()) and set(standardise.state_dict()) == {"mean", "var", "seen"}


def test_encoder_precision_is_a_setting_that_acts(tiny_models):
    """The CLIP tower in bf16 gives float32 features within a rounding of float32's, not the same bits."""
    exact = ImageAdapter(tiny_models, 16, {"encoder_precision": "float32"}).prepare(gradient())
    rounded = ImageAdapter(tiny_models, 16, {"encoder_precision": "bfloat16"}).prepare(gradient())
    assert rounded.dtype == exact.dtype == torch.float32 and rounded.shape == exact.shape
    assert 0 < float((rounded - exact).norm() / exact.norm()) < 0.05
    with pytest.raises(InvalidInputError, match="encoder_precision"):
        ImageAdapter(tiny_models, 16, {"encoder_precision": 16})
