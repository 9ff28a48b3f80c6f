"""Training learns the conditioning (scaled-down proof with toy adapters): validation cross-entropy with the
modality present falls below the ablated one, absent modalities route to ~0, the trained adapters load
straight into ``generate_audio`` and steer it; the coarse stage trains from EnCodec codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bark_omni
from bark_omni_train.config import load_config
from bark_omni_train.trainer import METRICS_FILE, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toy_host, toy_dataset):
    out = tmp_path_factory.mktemp("learn")
    config = {
        "manifest": str(toy_dataset), "output": str(out / "run"), "model": "tiny", "modalities": ["image", "control_events"],
        "steps": 60, "batch_size": 8, "micro_batch_size": 4, "lr": 0.02, "weight_decay": 0.0, "warmup_steps": 5,
        "checkpoint_every": 0, "eval_every": 30, "steps_per_log": 10, "semantic_eos": False, "progress": False,
        "dropout": {"image": 0.5, "control_events": 0.5}, "cpu_threads": 1,
        "probe": {"modalities": ["image"], "tokens": 12, "max_rows": 4, "top_ks": [0]},
    }
    path = out / "config.json"
    path.write_text(json.dumps(config))
    return train(load_config(path), host=toy_host)


def test_present_modality_beats_ablation_and_no_modality_is_starved(trained):
    ce = trained["validation"]["ce_semantic"]
    assert ce["none"] == pytest.approx(9.2, abs=0.3)  # vanilla tiny Bark: about uniform over 10001 tokens
    # in the toy data each modality tells the class: each alone is used, and both together lose nothing
    assert ce["without_control_events"] < ce["none"] - 0.5 and ce["without_image"] < ce["none"] - 0.5
    assert ce["all"] <= min(ce["without_control_events"], ce["without_image"]) + 0.05
    routing = trained["validation"]["routing"]
    for modality in ("image", "control_events"):  # gated per present modality; none driven to zero
        assert 0.05 < routing[modality]["with_others"] <= 1.0 and 0.05 < routing[modality]["alone"] <= 1.0
    probe = trained["probe"]["image/top_k=none"]
    assert probe["rows"] == 4 and 0 <= probe["accuracy_with"] <= 1


def test_metrics_and_report_are_written(trained):
    output = Path(trained["output"])
    records = [json.loads(line) for line in (output / METRICS_FILE).read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train_records] == list(range(10, 61, 10))
    assert train_records[-1]["ce_semantic"] < train_records[0]["ce_semantic"] - 0.3
    assert all(r["samples_per_s"] > 0 and r["lr"] > 0 and np.isfinite(r["grad_norm"]) for r in train_records)
    assert [r["step"] for r in records if r["kind"] == "val"] == [30]
    assert json.loads((output / "report.json").read_text())["steps"] == 60
    from huggingface_hub import metadata_load  # the adapter folder is a shareable set: card with the run's figures

    card = metadata_load(Path(trained["adapters"]) / "README.md")
    assert card["library_name"] == "bark-omni" and sorted(card["modalities"]) == ["control_events", "image"]
    assert card["training"]["steps"] == 60
    assert card["training"]["validation.ce_semantic.all"] == pytest.approx(trained["validation"]["ce_semantic"]["all"])


def test_trained_adapters_load_into_generate_audio(trained, toy_host, toy_dataset):
    row = next(json.loads(line) for line in toy_dataset.read_text().splitlines() if json.loads(line)["split"] == "val")
    image = str(toy_dataset.parent / row["image"])
    kwargs = dict(model="tiny", seed=3, silent=True, max_gen_duration_s=0.3, host=toy_host, output_full=True)
    steered, _ = bark_omni.generate_audio(image=image, adapters=trained["adapters"], **kwargs)
    plain, _ = bark_omni.generate_audio(image=image, adapters=trained["adapters"], priorities={"image": 0}, text="x", **kwargs)
    assert len(steered["semantic_prompt"]) > 0
    assert not np.array_equal(steered["semantic_prompt"][: len(plain["semantic_prompt"])], plain["semantic_prompt"][: len(steered["semantic_prompt"])])


def test_coarse_stage_trains_on_encodec_codes(tmp_path, toy_host, toy_models):
    from bark_omni_train.manifest import read_manifest
    from bark_omni_train.synthetic import make_dataset
    from bark_omni_train.targets import prepare_targets

    manifest = make_dataset(tmp_path / "data", classes=2, per_class=3, val_per_class=1, tokens=8)
    prepare_targets(read_manifest(manifest), tmp_path / "data" / "cache", toy_models)
    config = {
        "manifest": str(manifest), "output": str(tmp_path / "run"), "model": "tiny", "modalities": ["image"],
        "adapter_config": {"image": {"stages": ["semantic", "coarse"]}}, "stages": ["semantic", "coarse"],
        "steps": 3, "batch_size": 4, "micro_batch_size": 2, "lr": 0.05, "warmup_steps": 0, "checkpoint_every": 0,
        "steps_per_log": 1, "progress": False, "max_coarse_tokens": 64, "cpu_threads": 1,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    report = train(load_config(path), host=toy_host)
    records = [json.loads(line) for line in (tmp_path / "run" / METRICS_FILE).read_text().splitlines()]
    assert all(np.log(1024) - 1.5 < r["ce_coarse"] < np.log(1024) + 1.5 for r in records if r["kind"] == "train")
    assert set(report["validation"]["ce_coarse"]) == {"all", "without_image", "none"}
    from safetensors.torch import load_file

    weights = load_file(str(Path(report["adapters"]) / "adapters.safetensors"))
    assert weights["fusion.cross.coarse.1.gate"].abs().item() > 0  # the coarse stage's gate was trained


def test_reference_audio_trains_through_its_augmentations(tmp_path, tiny_host, toy_models):
    pytest.importorskip("bark_omni_audio", reason="bark-omni-audio is not installed (requirements/local.txt installs it)")
    from bark_omni_train.examples import ExampleBuilder
    from bark_omni_train.manifest import read_manifest
    from bark_omni_train.synthetic import make_dataset
    from bark_omni_train.targets import TargetStore, prepare_targets

    manifest = make_dataset(tmp_path / "data", classes=2, per_class=2, val_per_class=1, tokens=50)  # 1.1 s clips
    rows = read_manifest(manifest)
    prepare_targets(rows, tmp_path / "data" / "cache", toy_models)
    config = {
        "manifest": str(manifest), "output": str(tmp_path / "run"), "model": "tiny", "modalities": ["reference_audio"],
        "steps": 2, "batch_size": 2, "micro_batch_size": 2, "lr": 0.05, "warmup_steps": 0, "checkpoint_every": 0,
        "progress": False, "augment": {"loudness_db": 6.0, "rir_prob": 1.0, "stretch": 0.04},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    parsed = load_config(path)
    builder = ExampleBuilder(rows, TargetStore(tmp_path / "data" / "cache"), toy_models.tokenizer, parsed)
    a, b = (builder.build(1, slot=s, step=0).inputs["reference_audio"] for s in (0, 1))
    clean = builder.input_of(1, "reference_audio")
    assert a[1] == clean[1] and not np.allclose(a[0][: len(clean[0])], clean[0][: len(a[0])])
    assert not np.array_equal(a[0], b[0])  # each slot draws its own room, loudness and stretch
    example = builder.build(1, slot=0, step=0)
    assert "reference_audio" not in example.cacheable  # augmented inputs are encoded afresh each step
    report = train(parsed, host=tiny_host)
    assert np.isfinite(report["validation"]["ce_semantic"]["all"])
    assert report["validation"]["ce_semantic"]["all"] != report["validation"]["ce_semantic"]["none"]
