"""The small parts: schedule, temperature-scaled domain sampling, the split of a global batch across
processes, augmentations, and config checking."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from bark_omni_train.augment import augment_image, loudness_jitter, reverberate, time_stretch
from bark_omni_train.config import AugmentConfig, load_config
from bark_omni_train.errors import ConfigError
from bark_omni_train.sampling import StepSampler, domain_probabilities, rank_chunks
from bark_omni_train.schedule import WarmupCosine


def test_warmup_then_cosine_to_the_floor():
    schedule = WarmupCosine(warmup=4, total=20, min_ratio=0.1)
    values = [schedule(s) for s in range(24)]
    assert values[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert values[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[4:], values[5:]))
    assert values[12] == pytest.approx(0.55) and values[20] == pytest.approx(0.1) and values[23] == pytest.approx(0.1)


def test_domain_temperature_flattens_the_mix():
    counts = {"speech": 900, "music": 100}
    assert domain_probabilities(counts, 1.0) == pytest.approx({"music": 0.1, "speech": 0.9})
    assert domain_probabilities(counts, 2.0)["music"] == pytest.approx(10 / 40)  # sqrt(100) / (sqrt(100) + sqrt(900))
    assert domain_probabilities(counts, 1000.0)["music"] == pytest.approx(0.5, abs=0.01)
    domains = ["speech"] * 90 + ["music"] * 10
    sampler = StepSampler(domains, batch_size=50, temperature=2.0, seed=3)
    drawn = Counter(domains[i] for step in range(40) for i in sampler.batch(step))
    assert drawn["music"] / 2000 == pytest.approx(0.25, abs=0.03)


def test_sampler_is_a_pure_function_of_seed_and_step_without_replacement_per_pass():
    sampler = StepSampler(["a"] * 12, batch_size=4, temperature=1.0, seed=7)
    sequence = [sampler.batch(s) for s in range(6)]
    assert sorted(sum(sequence[:3], [])) == list(range(12))  # one pass visits every row once
    assert sorted(sum(sequence[3:], [])) == list(range(12))
    assert sequence[:3] != sequence[3:]  # a new order each pass
    fresh = StepSampler(["a"] * 12, batch_size=4, temperature=1.0, seed=7)
    assert fresh.batch(4) == sequence[4] and fresh.batch(1) == sequence[1]  # random access, any order
    assert StepSampler(["a"] * 12, batch_size=4, temperature=1.0, seed=8).batch(0) != sequence[0]


@pytest.mark.parametrize("world", [1, 2, 4])
def test_processes_share_the_same_micro_batches(world):
    batch = list(range(100, 116))
    single = rank_chunks(batch, micro_batch_size=2, world_size=1, rank=0)
    shared = [chunk for rank in range(world) for chunk in rank_chunks(batch, 2, world, rank)]
    assert shared == single and len(single) == 8
    assert [slot for chunk in single for slot, _ in chunk] == list(range(16))


def test_loudness_reverb_and_stretch():
    import pyloudnorm as pyln

    rng = np.random.default_rng(0)
    sr = 16_000
    wav = (0.05 * np.sin(2 * np.pi * 220 * np.arange(sr * 2) / sr)).astype(np.float32)
    louder = loudness_jitter(wav, sr, np.random.default_rng(1), db=6.0)
    target = -23.0 + np.random.default_rng(1).uniform(-6, 6)
    assert pyln.Meter(sr).integrated_loudness(louder.astype(np.float64)) == pytest.approx(target, abs=0.3)
    wet = reverberate(wav, sr, rng)
    assert wet.shape == wav.shape and not np.allclose(wet, wav)
    assert np.sqrt(np.mean(wet ** 2)) == pytest.approx(np.sqrt(np.mean(wav ** 2)), rel=0.05)
    stretched = time_stretch(wav, np.random.default_rng(2), 0.2)
    rate = np.random.default_rng(2).uniform(0.8, 1.2)
    assert len(stretched) == pytest.approx(len(wav) / rate, rel=0.02)


def test_image_augmentation_is_reproducible_and_keeps_the_size():
    from PIL import Image

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8))
    cfg = AugmentConfig(crop=0.3, flip=0.5, colour=0.3)
    a = np.asarray(augment_image(image, np.random.default_rng(5), cfg))
    b = np.asarray(augment_image(image, np.random.default_rng(5), cfg))
    c = np.asarray(augment_image(image, np.random.default_rng(6), cfg))
    assert a.shape == (32, 48, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    mirrored = np.asarray(augment_image(image, np.random.default_rng(0), AugmentConfig(flip=1.0)))
    assert np.array_equal(mirrored, np.asarray(image)[:, ::-1])


def test_config_rejects_typos_and_takes_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('manifest = "m.jsonl"\nmodalities = ["image"]\nsteps = 10\n[augment]\nflip = 0.5\n')
    config = load_config(path, ["steps=20", "augment.crop=0.2", 'output="runs/x"'])
    assert (config.steps, config.augment.crop, config.augment.flip, config.output) == (20, 0.2, 0.5, "runs/x")
    config.check()
    path.write_text('manifest = "m.jsonl"\nmodalities = ["image"]\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match="unknown config key learning_rate"):
        load_config(path)
    json_path = tmp_path / "c.json"
    json_path.write_text(json.dumps({"manifest": "m", "modalities": ["image"], "steps": "ten"}))
    with pytest.raises(ConfigError, match="steps must be an integer"):
        load_config(json_path)
    with pytest.raises(ConfigError, match="multiple of processes"):
        load_config(json_path, ["steps=1", "batch_size=6", "micro_batch_size=4"]).check()
    with pytest.raises(ConfigError, match="unknown modality"):
        load_config(json_path, ["steps=1", 'modalities=["smell"]']).check()
    json_path.write_text(json.dumps({"manifest": "m", "modalities": ["image"], "token_bag_weight": {"smell": 1.0}}))
    with pytest.raises(ConfigError, match="unknown modality"):
        load_config(json_path).check()
    json_path.write_text(json.dumps({"manifest": "m", "modalities": ["image"], "history_dropout": 1.5}))
    with pytest.raises(ConfigError, match="history_dropout"):
        load_config(json_path).check()
    json_path.write_text(json.dumps({"manifest": "m", "modalities": ["image"], "sampled_history": -0.1}))
    with pytest.raises(ConfigError, match="sampled_history"):
        load_config(json_path).check()
    json_path.write_text(json.dumps({"manifest": "m", "modalities": ["image"], "router_z_weight": -1.0}))
    with pytest.raises(ConfigError, match="router_z_weight"):
        load_config(json_path).check()
