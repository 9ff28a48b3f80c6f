"""Self-distillation of a quantizer from frozen (tiny) Bark: held-out split, figures with baselines, our format,
and a resumed run equal to an uninterrupted one."""

from __future__ import annotations

import json
import shutil

import torch
from safetensors.torch import load_file

from bark_omni_semantic.distill import DistillConfig, split_pairs, train_quantizer
from bark_omni_semantic.quantizer import load_quantizer


def test_held_out_clips_share_no_voice_and_no_text_with_training():
    train, held = split_pairs(40)
    assert len(train) == 30 and len(held) == 10
    assert not {t for t, _ in train} & {t for t, _ in held}
    assert not {v for _, v in train} & {v for _, v in held}


def test_recipe_reports_baselines_saves_our_format_and_resumes_exactly(tmp_path, tiny_host, tiny_model_dir):
    config = DistillConfig(model=str(tiny_model_dir), clips=8, steps=4, seconds=0.3, save_every=2, batch=4, hidden=16,
                           device="cpu")
    whole = train_quantizer(config, tmp_path / "whole", host=tiny_host)
    assert {"val_accuracy", "val_majority_rate", "uniform_chance"} <= set(whole) and whole["uniform_chance"] == 1e-4
    assert whole["val_clips"] == 2 and whole["train_clips"] == 6 and whole["val_frames"] > 0
    head, meta = load_quantizer(tmp_path / "whole")
    assert meta["figures"]["steps"] == 4 and head.hidden_size == 16

    (tmp_path / "part").mkdir()  # same data settings: the teacher data is reused, not generated again
    shutil.copy(tmp_path / "whole" / "data.safetensors", tmp_path / "part" / "data.safetensors")
    half = DistillConfig(**{**config.__dict__, "steps": 2})
    train_quantizer(half, tmp_path / "part", host=tiny_host)
    resumed = train_quantizer(config, tmp_path / "part", host=tiny_host)
    assert resumed["resumed_from_step"] == 2
    a, b = (load_file(str(tmp_path / d / "quantizer.safetensors")) for d in ("whole", "part"))
    assert all(torch.equal(a[k], b[k]) for k in a), "a resumed run ends where an uninterrupted one does"
    assert json.loads((tmp_path / "part" / "state.json").read_text())["step"] == 4
