"""What a host loads stays with that host: models, adapter weights and the CLI's plugin commands."""

from __future__ import annotations

import dataclasses

import pytest

from bark_omni.hookspecs import hookimpl
from bark_omni.models import load_models
from bark_omni.specs import ModelFormat


class RelabelledSuno:
    """A format plugin that reads suno's files but labels what it loads, so a test can tell who loaded a model."""

    @hookimpl
    def register_model_formats(self, register):
        from bark_omni.default_plugins.suno_format import detect_suno, load_suno

        def load(path, device):
            return dataclasses.replace(load_suno(path, device), format="relabelled")

        register(ModelFormat(name="relabelled", detect=detect_suno, load=load))


def test_models_belong_to_the_host_that_loaded_them(make_host, tiny_model_dir):
    plain, other = make_host(), make_host(RelabelledSuno())
    first = load_models(tiny_model_dir, plain, "cpu")
    assert load_models(tiny_model_dir, plain, "cpu") is first  # loaded once per host
    theirs = load_models(tiny_model_dir, other, "cpu")
    assert first.format == "suno" and theirs.format == "relabelled" and theirs is not first
    plain.clear_cache("models")
    assert load_models(tiny_model_dir, plain, "cpu") is not first


def test_adapter_weights_are_cached_per_host(make_host, tiny_models, tmp_path):
    pytest.importorskip("bark_omni_text")
    from bark_omni.fusion import FusionModel, loaded_fusion

    host, other = make_host(builtins=True), make_host(builtins=True)
    for h in (host, other):
        import bark_omni_text.plugin as text_plugin

        h.register(text_plugin, name="text")
    FusionModel.initialise(host, tiny_models, ["style_text"]).save_pretrained(tmp_path)
    once = loaded_fusion(host, tiny_models, tmp_path)
    assert loaded_fusion(host, tiny_models, tmp_path) is once
    assert loaded_fusion(other, tiny_models, tmp_path) is not once


class CountingCommands:
    def __init__(self):
        self.calls = 0

    @hookimpl
    def register_commands(self, app):
        self.calls += 1

        @app.command("counted")
        def counted() -> None:
            """A command of a test plugin."""


def test_cli_registers_plugin_commands_once_per_host(make_host, monkeypatch, capsys):
    from bark_omni import cli, host

    plugin = CountingCommands()
    monkeypatch.setattr(host, "_default_host", make_host(plugin))
    for _ in range(3):
        with pytest.raises(SystemExit):
            cli.main(["--help"])
    assert plugin.calls == 1 and capsys.readouterr().out.count("counted") == 3
    assert not any(getattr(c, "name", None) == "counted" for c in cli.app.registered_commands)  # the base app stays bare
