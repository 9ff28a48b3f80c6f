"""The proof's pretrained tiny CLIP: it learns to tell shapes apart, loads through the image adapter's own path,
and is made once per config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("bark_omni_image", reason="bark-omni-image is not installed (requirements/local.txt installs it)")

from bark_omni_image.encoder import TINY  # noqa: E402

from bark_omni_train.encoder_pretraining import PretrainingConfig, corpus, linear_probe_accuracy, pretrain_tiny_clip  # noqa: E402
from bark_omni_train.factors import SHAPES, TaskSpec  # noqa: E402

SMALL = PretrainingConfig(images=3000, steps=800)  # about 30 s on one thread; the proof's default trains 1500 steps


def test_the_pretrained_encoder_tells_shapes_apart_where_the_random_one_does_not(tmp_path):
    torch.set_num_threads(1)
    path = pretrain_tiny_clip(tmp_path / "clip.safetensors", SMALL)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["config"]["steps"] == 800 and record["final_loss"] < record["first_loss"] / 3
    spec = TaskSpec(seed=5, image_classes=4, image_style="shape")  # shape only: colours are noise
    random, pretrained = linear_probe_accuracy(None, spec), linear_probe_accuracy(path, spec)
    assert random < 0.45  # chance 0.25
    assert pretrained > random + 0.2

    made = path.stat().st_mtime_ns
    assert pretrain_tiny_clip(path, SMALL) == path and path.stat().st_mtime_ns == made  # same config: kept


def test_the_corpus_covers_every_shape_colour_and_angle_and_follows_its_seed():
    images, labels = corpus(400, seed=0)
    assert len(images) == len(labels) == 400
    shapes = labels[labels[:, 0] < len(SHAPES)]
    assert set(shapes[:, 0]) == set(range(len(SHAPES))) and set(shapes[:, 1]) == set(range(8))
    textures = labels[labels[:, 0] == len(SHAPES)]
    assert 0.25 < len(textures) / len(labels) < 0.55 and len(set(textures[:, 2])) == 8
    again, _ = corpus(400, seed=0)
    other, _ = corpus(400, seed=1)
    assert np.array_equal(np.asarray(images[0]), np.asarray(again[0]))
    assert not np.array_equal(np.asarray(images[0]), np.asarray(other[0]))


def test_the_proof_trains_with_the_weights_it_is_given(tmp_path):
    from bark_omni_train.proof import proof_config

    make = lambda weights: proof_config(tmp_path / "m.jsonl", tmp_path / "out", tmp_path / "model", 0, "gated", 10,  # noqa: E731
                                        image_weights=weights).adapter_config["image"]
    pinned = {"encoder_precision": "float32"}  # the same features on every CPU
    assert make(tmp_path / "clip.safetensors") == {"encoder": TINY, "pretrained": str(tmp_path / "clip.safetensors"), **pinned}
    assert make(None) == {"encoder": TINY, "pretrained": None, **pinned}
