"""The eval distribution registers like a third party: metrics through register_metrics, commands through
register_commands, and loading it imports nothing heavy."""

import subprocess
import sys

import typer

from bark_omni_eval import plugin as eval_plugin
from bark_omni_eval.runner import metric_scope

BUILTIN = {"wer", "speaker_similarity", "loudness", "fad", "fad_vggish", "fad_clap", "clap_score",
           "conditional_dependence", "guardrail_blocklist", "watermark_detection"}


def test_metrics_register_through_the_hook(make_host):
    host = make_host(eval_plugin)
    assert set(host.metrics) == BUILTIN
    assert all(spec.description for spec in host.metrics.values())
    scopes = {name: metric_scope(spec) for name, spec in host.metrics.items()}
    assert scopes["wer"] == "clip" and scopes["fad"] == "suite" and scopes["guardrail_blocklist"] == "suite"
    assert host.metrics["wer"].higher_is_better is False and host.metrics["speaker_similarity"].higher_is_better


def test_installed_entry_point_loads_the_plugin():
    from importlib import metadata

    names = {ep.name: ep.value for ep in metadata.entry_points(group="bark_omni")}
    assert names.get("eval") == "bark_omni_eval.plugin"


def test_commands_are_added_without_heavy_imports():
    code = (
        "import sys, typer\n"
        "from bark_omni_eval import plugin\n"
        "app = typer.Typer()\n"
        "plugin.register_commands(app=app)\n"
        "plugin.builtin_metrics()\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'pocketsphinx', 'resemblyzer', 'jiwer') if m in sys.modules]\n"
        "print(sorted(c.name for c in app.registered_commands), [g.name for g in app.registered_groups], heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['bench', 'eval', 'voice-cloning'] ['metrics'] []"


def test_metrics_list_command(make_host, monkeypatch):
    from typer.testing import CliRunner

    import bark_omni.host

    monkeypatch.setattr(bark_omni.host, "default_host", lambda: make_host(eval_plugin))
    app = typer.Typer()
    eval_plugin.register_commands(app=app)
    result = CliRunner().invoke(app, ["metrics", "list"])
    assert result.exit_code == 0
    assert "speaker_similarity" in result.output and "suite" in result.output
