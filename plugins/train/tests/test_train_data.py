"""Data: the synthetic set verifies clean; verify names every broken or leaking row; prepare caches the
teacher's semantic tokens and EnCodec codes, redoes only what changed, and training refuses stale targets."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from bark_omni.cli import main
from bark_omni_train.errors import DataError
from bark_omni_train.manifest import read_manifest
from bark_omni_train.synthetic import make_dataset
from bark_omni_train.targets import TargetStore, TeacherSettings, encodec_codes, prepare_targets, teacher_semantic
from bark_omni_train.verify import verify_manifest


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """2 classes x 3 rows (1 for validation), with audio."""
    return make_dataset(tmp_path_factory.mktemp("small"), classes=2, per_class=3, val_per_class=1, tokens=8)


def rows_of(manifest):
    return [json.loads(line) for line in manifest.read_text().splitlines()]


def write_rows(path, rows, extra_lines=()):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(line + "\n" for line in extra_lines))


def test_synthetic_set_verifies_clean(small_set):
    report = verify_manifest(small_set)
    assert report["ok"], report["failures"]
    assert report["splits"] == {"val": 2, "train": 4} and set(report["domains"]) == {"foley", "music"}
    semantic = {r["label"]: set(r["semantic"]) for r in rows_of(small_set)}
    assert not set.intersection(*semantic.values()), "two classes share a motif token"


def test_verify_names_every_broken_and_leaking_row(small_set, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_set.parent, broken)
    rows = rows_of(broken / "manifest.jsonl")
    train_rows = [r for r in rows if r["split"] == "train"]
    val_rows = [r for r in rows if r["split"] == "val"]
    val_rows[0]["image"] = train_rows[0]["image"]  # the same picture in train and val: content leakage
    val_rows[1]["id"] = train_rows[1]["id"]  # the same id in train and val
    (broken / "audio" / "garbage.wav").write_bytes(b"RIFF....WAVEnot really audio")
    train_rows[2]["audio"] = "audio/garbage.wav"
    sf.write(broken / "audio" / "low.wav", np.full(8000, 0.1, dtype=np.float32), 8000)
    train_rows[3]["audio"] = "audio/low.wav"
    png = (broken / train_rows[3]["image"]).read_bytes()
    (broken / "images" / "torn.png").write_bytes(png[: len(png) // 2])
    train_rows[1]["image"] = "images/torn.png"
    train_rows[0]["control_events"] = [{"time_s": 0.1, "kind": "beat", "value": 7}, {"time_s": -1, "kind": "beat"}]
    lines = ['{"id": "no-split", "domain": "foley", "caption": "x"}', "{not json"]
    write_rows(broken / "manifest.jsonl", train_rows + val_rows, lines)
    from bark_omni_control.events import BUILTIN_KINDS  # the real kinds when installed, else none

    report = verify_manifest(broken / "manifest.jsonl", control_validators={k: v.validate for k, v in BUILTIN_KINDS.items()})
    assert not report["ok"]
    problems = {(f["row"], f["problem"].split(" (")[0]) for f in report["failures"]}
    text = json.dumps(report["failures"])
    expected = [
        (f"id {train_rows[2]['id']!r}", "does not decode"),
        (f"id {train_rows[3]['id']!r}", "sample rate 8000 Hz"),
        (f"id {train_rows[1]['id']!r}", "image torn.png does not decode"),
        (f"id {val_rows[0]['id']!r}", "same content as image"),
        (f"id {val_rows[1]['id']!r}", "id in several splits"),
        (f"id {train_rows[0]['id']!r}", "strength in [0, 1]"),
        (f"id {train_rows[0]['id']!r}", "time_s >= 0"),
        ("line 7", "split is missing"),
        ("line 8", "not valid JSON"),
    ]
    for where, what in expected:
        assert any(where in f["row"] and what in f["problem"] for f in report["failures"]), (where, what, text)
    assert {leak["by"] for leak in report["leakage"]} == {"id", "file content"}
    assert len(problems) >= len(expected)


def test_verify_cli_writes_report_and_exits_nonzero_naming_rows(small_set, tmp_path, capsys):
    report = tmp_path / "report.json"
    with pytest.raises(SystemExit) as ok:
        main(["data", "verify", str(small_set), "--report", str(report)])
    assert ok.value.code == 0 and json.loads(report.read_text())["ok"]
    bad = small_set.parent / "bad-cli.jsonl"
    rows = rows_of(small_set)
    rows[0]["image"] = "images/missing.png"
    write_rows(bad, rows)
    capsys.readouterr()
    with pytest.raises(SystemExit) as failed:
        main(["data", "verify", str(bad), "--report", str(tmp_path / "bad.json")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert failed.value.code != 0 and "Traceback" not in err
    assert len(errors) == 1 and rows[0]["id"] in errors[0] and "does not exist" in errors[0] and "1 problem" in errors[0]
    assert not json.loads((tmp_path / "bad.json").read_text())["ok"]


def test_prepare_caches_teacher_tokens_and_codes_and_redoes_only_changes(small_set, tmp_path, toy_models):
    rows = rows_of(small_set)
    rows[0].pop("semantic")  # this row's targets come from the teacher reading its caption
    manifest = small_set.parent / "teacher.jsonl"
    write_rows(manifest, rows)
    parsed = read_manifest(manifest)
    cache = tmp_path / "cache"
    settings = TeacherSettings(max_duration_s=0.3, seed=5)
    summary = prepare_targets(parsed, cache, toy_models, settings)
    assert summary == {"cache": str(cache), "rows": 6, "prepared": 6, "unchanged": 0}
    store = TargetStore(cache, toy_models.fingerprint)
    store.check(parsed)
    taught = store.load(parsed[0])
    expected, _ = teacher_semantic(toy_models, "a red circle", settings, parsed[0].id)
    assert taught.semantic.tolist() == expected.tolist() and len(expected) > 0
    assert store.load(parsed[1]).semantic.tolist() == rows[1]["semantic"]
    codes = store.load(parsed[1]).codes
    assert codes.shape[0] == 8 and abs(codes.shape[1] - 75 * (8 / 49.9 + 0.1)) <= 1
    np.testing.assert_array_equal(codes, encodec_codes(toy_models, parsed[1].audio))
    assert prepare_targets(parsed, cache, toy_models, settings)["unchanged"] == 6

    rows[2]["caption"] = "a caption edited after prepare"
    write_rows(manifest, rows)
    with pytest.raises(DataError, match=f"{rows[2]['id']}.*edited since prepare"):
        TargetStore(cache, toy_models.fingerprint).check(read_manifest(manifest))
    assert prepare_targets(read_manifest(manifest), cache, toy_models, settings)["prepared"] == 1
    with pytest.raises(DataError, match="prepared with model"):
        TargetStore(cache, "sha256:another-model")


def test_manifest_errors_are_one_line_and_name_rows(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "split": "train", "domain": "x", "text": "hi", "captoin": "typo"}\n'
                    '{"id": "a", "split": "val", "domain": "x", "text": "hi"}\n')
    with pytest.raises(DataError) as error:
        read_manifest(path)
    message = str(error.value)
    assert "\n" not in message and "line 1" in message and "captoin" in message
    path.write_text('{"id": "a", "split": "train", "domain": "x", "text": "hi"}\n'
                    '{"id": "a", "split": "val", "domain": "x", "text": "ho"}\n')
    with pytest.raises(DataError, match="lines 1 and 2"):
        read_manifest(path)
