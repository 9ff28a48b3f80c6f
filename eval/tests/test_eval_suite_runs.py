"""Suites end to end on the tiny model: loading and its errors, metrics as plugins (a third-party one too),
the JSON record, the Markdown report and plots, and baseline comparison through the CLI's exit code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bark_omni.errors import InvalidInputError
from bark_omni.hookspecs import hookimpl
from bark_omni.specs import MetricSpec
from bark_omni_eval import plugin as eval_plugin
from bark_omni_eval.baseline import compare, load_baseline
from bark_omni_eval.errors import SuiteError
from bark_omni_eval.report import write_report
from bark_omni_eval.runner import metric_errors, run_suite
from bark_omni_eval.suite import load_suite

SUITE = """
name = "unit"
model = "tiny"
seeds = [0, 1]
[generation]
max_gen_duration_s = 0.5
[[prompts]]
id = "hello"
text = "Hello there."
[[prompts]]
id = "styled"
text = "Hello again."
[prompts.modalities]
style_text = "whispering"
[metrics.loudness]
direction = "both"
tolerance = { lufs = 0.5, true_peak_dbtp = 0.5 }
[metrics.semantic_length]
tolerance = 2
[metrics.broken]
"""


class _TokenMetricPlugin:
    """A third party's metric: how many semantic tokens a clip has (token-level, so it varies on tiny)."""

    @hookimpl
    def register_metrics(self, register):
        register(MetricSpec("semantic_length", lambda result: {"tokens": float(result.semantic.size)},
                            higher_is_better=True, description="semantic tokens per clip"))
        register(MetricSpec("broken", _broken, description="always fails"))


def _broken(audio):
    raise InvalidInputError("this metric is broken on purpose")


def _write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\n[metrics.loudness]\n", "no prompts"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n", "names no metrics"),
    ("colour = 1\n[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.loudness]\n", "unknown key"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n[[prompts]]\nid = 'a'\ntext = 'ho'\n[metrics.loudness]\n", "unique"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.loudness]\ntolerance = -1\n", "tolerance"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.loudness]\ndirection = 'up'\n", "direction"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.wer]\nprompts = ['b']\n", "unknown prompt"),
    ("[[prompts]]\nid = 'a'\n[metrics.wer]\n", "neither text"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\n[prompts.modalities]\nsmell = 'roses'\n[metrics.wer]\n", "unknown key"),
    ("seeds = [-1]\n[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.wer]\n", "seeds"),
    ("[[prompts]\n", "not valid TOML"),
    ("[[prompts]]\nid = 'a'\ntext = 'hi'\nspeaker_reference = 'nope.wav'\n[metrics.wer]\n", "does not exist"),
])
def test_bad_suites_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_example_suite_loads():
    suite = load_suite(Path(eval_plugin.__file__).parent / "suites" / "example_tiny.toml")
    assert suite.model == "tiny" and {m.name for m in suite.metrics} >= {"wer", "fad", "loudness"}
    assert suite.metric("loudness").tolerance_for("lufs") == 1.5


def test_unknown_metric_or_option_fails_before_generating(tmp_path, make_host):
    host = make_host(eval_plugin)
    suite = load_suite(_write(tmp_path, "[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.loudness]\nwindow = 3\n"))
    with pytest.raises(SuiteError, match="no option"):
        run_suite(suite, host=host, out_dir=tmp_path / "out")
    suite = load_suite(_write(tmp_path, "[[prompts]]\nid = 'a'\ntext = 'hi'\n[metrics.bleu]\n"))
    with pytest.raises(SuiteError, match="unknown metric"):
        run_suite(suite, host=host, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_compare_directions_and_tolerances():
    def record(values):
        return {"summary": {k: {"mean": v, "direction": d, "tolerance": t} for k, (v, d, t) in values.items()}}

    base = record({"a.up": (1.0, "higher", 0.1), "b.down": (1.0, "lower", 0.1), "c.both": (0.0, "both", 1.0),
                   "d.gone": (1.0, "higher", 0.0)})
    now = record({"a.up": (0.85, "higher", 0.1), "b.down": (0.5, "lower", 0.1), "c.both": (0.9, "both", 1.0),
                  "e.new": (1.0, "higher", 0.0)})
    rows = {r["key"]: r["status"] for r in compare(now, base)["rows"]}
    assert rows == {"a.up": "regressed", "b.down": "improved", "c.both": "ok", "d.gone": "missing", "e.new": "new"}
    assert compare(now, base)["regressed"] == ["a.up", "d.gone"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    """One in-process run of SUITE on the tiny model, with a third-party metric registered."""
    from bark_omni.host import ESSENTIAL_PLUGINS, Host

    host = Host([eval_plugin, _TokenMetricPlugin()], strict=True, allow=set())
    assert ESSENTIAL_PLUGINS <= set(host.plugins)
    tmp_path = tmp_path_factory.mktemp("suite")
    suite = load_suite(_write(tmp_path, SUITE))
    out = tmp_path / "run"
    return run_suite(suite, host=host, model=str(tiny_model_dir), device="cpu", out_dir=out), out


def test_suite_run_report_and_baseline(tiny_run, tmp_path):
    record, out = tiny_run
    items = {f"{i['prompt']}/{i['seed']}": i for i in record["items"]}
    assert items["hello/0"]["audio"] == "audio/hello-seed0.wav" and (out / "audio/hello-seed0.wav").is_file()
    # no adapter weights were given: the styled prompt is reported as skipped, not silently dropped
    assert items["styled/0"]["error"].startswith("skipped:") and items["styled/0"]["audio"] is None
    assert set(record["summary"]) == {"loudness.lufs", "loudness.true_peak_dbtp", "semantic_length.tokens"}
    tokens = [i["metrics"]["semantic_length"]["tokens"] for i in record["items"] if i["metrics"]]
    assert len(tokens) == 2 and record["summary"]["semantic_length.tokens"]["mean"] == pytest.approx(np.mean(tokens))
    assert record["summary"]["loudness.lufs"]["direction"] == "both"
    # a metric that fails (rather than being unavailable) is recorded as an error, and fails the run
    assert record["skipped"]["broken"].startswith("error: this metric is broken")
    assert metric_errors(record) == ["broken: error: this metric is broken on purpose"]

    paths = write_report(record, out, command="bark-omni eval suite.toml")
    report = paths["markdown"].read_text(encoding="utf-8")
    assert "# Evaluation: unit" in report and "semantic_length.tokens" in report and "(plots/metrics.png)" in report
    assert (out / "plots" / "metrics.png").stat().st_size > 1000
    assert (out / "plots" / "timings.png").stat().st_size > 1000
    stored = load_baseline(paths["json"])
    assert compare(record, stored)["regressed"] == []

    # a baseline whose clips were 5 tokens longer: the shorter output now is a regression past tolerance 2
    stored["summary"]["semantic_length.tokens"]["mean"] += 5
    assert compare(record, stored)["regressed"] == ["semantic_length.tokens"]
    with_baseline = dict(record, comparison=compare(record, stored))
    report = write_report(with_baseline, tmp_path / "again")["markdown"].read_text(encoding="utf-8")
    assert "FAIL: 1 regression(s)" in report and "❌ regressed" in report


def _cli(*args, cwd):
    env = dict(os.environ, HF_HUB_OFFLINE="1", BARK_OMNI_ALLOW_DOWNLOAD="0")
    return subprocess.run([sys.executable, "-m", "bark_omni.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_cli_errors_are_one_line(tmp_path):
    bad = _cli("eval", str(_write(tmp_path, "[[prompts]]\n", "bad.toml")), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr
    suite = _write(tmp_path, SUITE)
    missing = _cli("eval", str(suite), "--baseline", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert missing.returncode == 2 and "baseline" in missing.stderr and not (tmp_path / "eval-unit").exists()


def test_cli_fails_on_a_regression_against_the_baseline(tiny_run, tmp_path):
    record, _ = tiny_run
    baseline = json.loads(json.dumps(record))
    del baseline["summary"]["semantic_length.tokens"]  # the CLI's host has no such third-party metrics
    baseline["summary"]["loudness.lufs"]["mean"] += 3.0  # louder than now by more than the 0.5 LU tolerance
    (tmp_path / "louder.json").write_text(json.dumps(baseline))
    suite = _write(tmp_path, SUITE.replace("[metrics.semantic_length]\ntolerance = 2\n[metrics.broken]\n", ""))
    run = _cli("eval", str(suite), "--model", "tiny", "-o", str(tmp_path / "new"), "-q", "--device", "cpu",
               "--baseline", str(tmp_path / "louder.json"), cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "loudness.lufs" in run.stdout
    assert "regression: 1 metric(s)" in run.stderr and "loudness.lufs" in run.stderr and "Traceback" not in run.stderr
    report = (tmp_path / "new" / "report.md").read_text(encoding="utf-8")
    assert "FAIL: 1 regression(s)** (loudness.lufs)" in report
    assert json.loads((tmp_path / "new" / "run.json").read_text())["comparison"]["regressed"] == ["loudness.lufs"]
