"""The CLI end to end with the installed image and control adapters: synth -> verify -> prepare -> train ->
``generate_audio(adapters=...)``; bad input is one line on stderr and a non-zero exit."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bark_omni
from bark_omni.cli import main


def run(args, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def test_cli_pipeline_with_the_real_adapters(tmp_path, capsys):
    pytest.importorskip("bark_omni_image", reason="bark-omni-image is not installed (requirements/local.txt installs it)")
    pytest.importorskip("bark_omni_control", reason="bark-omni-control is not installed (requirements/local.txt installs it)")
    data = tmp_path / "data"
    code, out, _ = run(["data", "synth", data, "--classes", "2", "--per-class", "3", "--val-per-class", "1", "--tokens", "8"], capsys)
    manifest = data / "manifest.jsonl"
    assert code == 0 and json.loads(out)["manifest"] == str(manifest)
    code, out, _ = run(["data", "verify", manifest], capsys)
    assert code == 0 and json.loads(out)["ok"]
    code, out, _ = run(["data", "prepare", manifest, "--model", "tiny", "--device", "cpu"], capsys)
    assert code == 0 and json.loads(out)["prepared"] == 6
    config = tmp_path / "train.toml"
    config.write_text(f'manifest = "{manifest}"\noutput = "{tmp_path / "run"}"\nmodel = "tiny"\ndevice = "cpu"\n'
                      'modalities = ["image", "control_events"]\nsteps = 2\nbatch_size = 2\nmicro_batch_size = 2\n'
                      'checkpoint_every = 1\nprogress = false\ncpu_threads = 1\n')
    code, out, err = run(["train", config], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["steps"] == 2 and "none" in report["validation"]["ce_semantic"]
    code, _, err = run(["train", config], capsys)  # again without --resume: refused, nothing overwritten
    assert code != 0 and err.strip().startswith("error:") and "--resume" in err and "Traceback" not in err
    code, out, err = run(["train", config, "--resume", "--set", "steps=3"], capsys)
    assert code != 0 and "steps" in err  # a changed schedule is not a resumption
    row = json.loads(manifest.read_text().splitlines()[0])
    audio = bark_omni.generate_audio(image=str(data / row["image"]), control_events=row["control_events"],
                                     adapters=report["adapters"], model="tiny", seed=0, silent=True, max_gen_duration_s=0.2)
    assert audio.ndim == 1 and len(audio) > 0 and np.isfinite(audio).all()


def test_cli_errors_are_one_line(tmp_path, capsys):
    code, _, err = run(["train", tmp_path / "missing.toml"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('manifest = "x.jsonl"\nmodalities = ["image"]\nstepz = 3\n')
    code, _, err = run(["train", bad], capsys)
    assert code == 2 and "stepz" in err and "Traceback" not in err
    code, _, err = run(["data", "prepare", tmp_path / "none.jsonl", "--model", "tiny"], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(["proof", tmp_path / "proof", "--image-encoder", "clip"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--image-encoder is one of pretrained, random" in err
    assert not (tmp_path / "proof").exists()  # refused before anything was written


def test_data_task_writes_a_two_factor_task_with_a_distractor_on_request(tmp_path, capsys):
    code, stdout, _ = run(["data", "task", tmp_path / "t", "--seed", "7", "--image-classes", "3", "--distractor"], capsys)
    out = json.loads(stdout)
    assert code == 0 and out["spec"]["distractor"] is True and out["spec"]["image_classes"] == 3
    rows = [json.loads(line) for line in (tmp_path / "t" / "manifest.jsonl").read_text().splitlines()]
    assert {r["meta"]["image_class"] for r in rows} == {0, 1, 2} and all(r["caption"] for r in rows)
