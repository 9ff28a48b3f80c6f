"""The plugin host: entry points, essential plugins, the allowlist, broken and misspelt plugins, docs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import bark_omni
from bark_omni import hookspecs
from bark_omni.errors import MissingPluginError, PluginError
from bark_omni.host import ESSENTIAL_PLUGINS, Host
from bark_omni.specs import DecoderSpec

ROOT = Path(__file__).resolve().parents[1]


class Misspelt:
    @bark_omni.hookimpl
    def register_decoder(self, register):  # the real hook is register_decoders
        pass


class GoodDecoder:
    @bark_omni.hookimpl
    def register_decoders(self, register):
        register(DecoderSpec(name="silence", sample_rate=16_000, latency="realtime", bitrate_kbps=0.0,
                             load=lambda models, options: (lambda fine: fine[0] * 0.0)))


def test_builtins_arrive_through_entry_points():
    host = Host(strict=True)
    assert ESSENTIAL_PLUGINS <= set(host.plugins)
    assert host.plugins["encodec"].distribution == "bark-omni"
    assert host.plugins["checkpoints"].distribution == "bark-omni-checkpoints-compat"
    assert "encodec" in host.decoders and "suno" in host.model_formats


def test_empty_allowlist_loads_only_essential_plugins(monkeypatch):
    monkeypatch.setenv("BARK_OMNI_LOAD_PLUGINS", "")
    with pytest.warns(UserWarning, match="safety plugin is switched off"):
        host = Host(strict=True)
    assert set(host.plugins) == set(ESSENTIAL_PLUGINS)


def test_essential_plugins_cannot_be_blocked():
    host = Host(strict=True, block=["encodec", "suno"])  # suno's format is the core's own since issue 12
    assert {"encodec", "suno"} <= set(host.plugins)


def test_each_host_has_its_own_manager():
    a, b = Host([GoodDecoder()], entry_points=False), Host(entry_points=False)
    assert "silence" in a.decoders and "silence" not in b.decoders
    assert a.pm is not b.pm


def test_misspelt_hook_is_an_error_in_strict_mode():
    with pytest.raises(PluginError, match="register_decoder"):
        Host([Misspelt()], entry_points=False, strict=True)


def test_misspelt_hook_is_skipped_and_reported_otherwise():
    with pytest.warns(UserWarning, match="misspelt"):
        host = Host([Misspelt(), GoodDecoder()], entry_points=False)
    assert host.plugins["Misspelt"].broken
    assert "silence" in host.decoders


def test_broken_entry_point_is_reported(monkeypatch):
    from importlib import metadata

    class FakeEntryPoint:
        name, value, group, dist = "exploding", "nowhere.at_all", "bark_omni", None

        def load(self):
            raise ImportError("No module named 'nowhere'")

    real = metadata.entry_points
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: [*real(**kw), FakeEntryPoint()])
    with pytest.warns(UserWarning, match="exploding"):
        host = Host()
    assert host.plugins["exploding"].broken and "nowhere" in host.plugins["exploding"].error
    with pytest.raises(PluginError, match="exploding"):
        Host(strict=True)


def test_unknown_decoder_names_the_package_to_install():
    with pytest.raises(MissingPluginError, match="pip install bark-omni-vocos"):
        Host(entry_points=False).decoder("vocos")


def test_every_hook_has_a_docstring_and_is_documented():
    docs = (ROOT / "docs" / "plugins.md").read_text()
    hooks = hookspecs.documented_hooks()
    assert len(hooks) >= 9
    for name, fn in hooks.items():
        assert inspect.getdoc(fn) and len(inspect.getdoc(fn)) > 40, f"{name} lacks a docstring"
        assert re.search(rf"`{name}\(", docs), f"{name} is missing from docs/plugins.md"


def test_postprocess_wrappers_chain_outermost_last(tiny_host):
    import numpy as np

    calls = []

    class Doubler:
        @bark_omni.hookimpl(wrapper=True)
        def postprocess_audio(self, audio, sample_rate, request):
            out = yield
            calls.append("doubler")
            return out * 2

    class Final:
        @bark_omni.hookimpl(wrapper=True, tryfirst=True)
        def postprocess_audio(self, audio, sample_rate, request):
            out = yield
            calls.append("final")
            return out + 1

    host = Host([Doubler(), Final()], allow=[], strict=True)
    out = host.pm.hook.postprocess_audio(audio=np.ones(3), sample_rate=24_000, request=None)
    assert calls == ["doubler", "final"]
    np.testing.assert_array_equal(out, np.full(3, 3.0))
