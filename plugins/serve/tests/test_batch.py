"""``bark-omni batch``: sharded, resumable, every line checked first (tiny model)."""

from __future__ import annotations

import json

import pytest

from bark_omni.errors import InvalidInputError
from bark_omni_serve.batch import parse_shard, read_items, run_batch_file


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_shards_resume_and_skip(tmp_path, tiny_model_dir):
    jobs = _write(tmp_path / "in.jsonl", [{"id": f"item{i}", "text": f"Line {i}.", "seed": i} for i in range(3)])
    out = tmp_path / "out"
    first = run_batch_file(jobs, out, model="tiny", device="cpu", shard="0/2", max_duration_s=0.2)
    assert (first.done, first.skipped, first.other) == (2, 0, 1)
    assert sorted(p.name for p in out.iterdir()) == ["item0.wav", "item0.wav.manifest.json",
                                                      "item2.wav", "item2.wav.manifest.json"]
    again = run_batch_file(jobs, out, model="tiny", device="cpu", shard="0/2", max_duration_s=0.2)
    assert (again.done, again.skipped) == (0, 2)
    manifest = json.loads((out / "item2.wav.manifest.json").read_text())
    assert manifest["request"]["seed"] == 2 and manifest["watermark"]
    from bark_omni_serve.batch import is_done

    (out / "item2.wav.manifest.json").unlink()  # an item with half its files is not done: it will be made again
    assert is_done(out, "item0") and not is_done(out, "item2")


def test_every_line_is_checked_before_generating(tmp_path, monkeypatch):
    import bark_omni.api

    monkeypatch.setattr(bark_omni.api, "run_batch", lambda *a, **k: pytest.fail("generated before checking"))
    cases = [([{"id": "a", "text": "Hi."}, {"id": "a", "text": "Again."}], "appears twice"),
             ([{"id": "../x", "text": "Hi."}], "needs an \"id\""),
             ([{"id": "a", "text": "Hi.", "tempo": 2}], "unknown field"),
             ([{"id": "a", "text": "Hi."}, {"id": "b", "text": "Hi.", "text_temp": -1}], "item b: text_temp")]
    for rows, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            run_batch_file(_write(tmp_path / "bad.jsonl", rows), tmp_path / "o", model="tiny")
    (tmp_path / "broken.jsonl").write_text('{"id": "a"\n')
    with pytest.raises(InvalidInputError, match="line 1: not JSON"):
        read_items(tmp_path / "broken.jsonl")
    for shard in ("2/2", "x", "0/0"):
        with pytest.raises(InvalidInputError, match="--shard"):
            parse_shard(shard)


@pytest.mark.parametrize("args,message", [
    (["batch", "missing.jsonl", "out"], "missing.jsonl does not exist"),
    (["serve", "--model", "tiny", "--host", "0.0.0.0"], "refusing to serve on 0.0.0.0 without API keys"),
])
def test_cli_refusals_are_one_line(tmp_path, args, message):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bark_omni", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
