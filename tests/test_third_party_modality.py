"""A modality the core has never heard of, added by a third-party distribution (examples/emotion-modality): loaded
through the entry point its pyproject declares, checked for conformance, and used from Python and the CLI."""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni.errors import InvalidInputError, MissingPluginError
from bark_omni.fusion import FusionModel
from bark_omni.modality import ModalityBundle
from bark_omni.options import GenerationOptions
from bark_omni.testing import check_adapter_conformance

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "emotion-modality"


@pytest.fixture(scope="module")
def emotion_plugin():
    """The plugin module, imported from the entry point the example's pyproject declares (as an install would)."""
    entry_points = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["entry-points"]["bark_omni"]
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module(entry_points["emotion"])
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [n for n in sys.modules if n == "bark_omni_emotion" or n.startswith("bark_omni_emotion.")]:
            del sys.modules[name]


@pytest.fixture
def host(make_host, emotion_plugin):
    return make_host(emotion_plugin)


def spec_of(host):
    return host.adapter_for("emotion")


def test_registering_an_adapter_adds_the_modality(host, make_host):
    assert "emotion" not in make_host().modalities
    assert "emotion" in host.modalities
    assert host.modality_name("mood") == "emotion" and host.modality_name("emotion") == "emotion"
    with pytest.raises(InvalidInputError, match="unknown modality 'smell'"):
        host.modality_name("smell")


def test_the_new_adapter_passes_the_conformance_checks(host, tiny_models):
    check_adapter_conformance(spec_of(host), tiny_models, samples=["happy", {"sad": 1, "calm": 3}],
                              garbage=["bored", {"happy": -1}, {}])


def _run(host, tiny_models, modalities, adapters):
    request = bark_omni.build_request("Hello there.", modalities=modalities, seed=3, model=tiny_models.source,
                                      options=GenerationOptions.from_kwargs(max_gen_duration_s=0.3))
    return bark_omni.run(request, host=host, adapters=adapters)


def test_fresh_adapters_leave_bark_unchanged_and_trained_ones_steer_it(host, tiny_models):
    fusion = FusionModel.initialise(host, tiny_models, ["emotion"], seed=0)
    plain = _run(host, tiny_models, ModalityBundle(), None)
    fresh = _run(host, tiny_models, ModalityBundle(emotion="happy"), fusion)
    np.testing.assert_array_equal(fresh.semantic, plain.semantic)  # gates at zero: vanilla Bark
    with torch.no_grad():
        for layers in fusion.fusion.cross.values():
            for layer in layers.values():
                layer.gate.fill_(2.0)
                layer.out.weight.mul_(100.0)
    happy = _run(host, tiny_models, ModalityBundle(emotion="happy"), fusion)
    sad = _run(host, tiny_models, ModalityBundle({"emotion": "sad"}), fusion)
    assert not np.array_equal(happy.semantic, sad.semantic)


def test_a_host_without_the_plugin_refuses_the_modality(make_host, tiny_models):
    with pytest.raises(MissingPluginError, match="'emotion'"):
        _run(make_host(), tiny_models, ModalityBundle(emotion="happy"), None)
    with pytest.raises(InvalidInputError, match="unknown modality 'emotion' in priorities"):
        _run(make_host(), tiny_models, ModalityBundle(priorities={"emotion": 2.0}), None)


def test_the_cli_passes_any_installed_modality(host, monkeypatch):
    from bark_omni import cli
    from bark_omni import host as host_module

    monkeypatch.setattr(host_module, "_default_host", host)
    bundle = cli.cli_modalities(None, None, None, None, ["mood=0.5"], ["mood=happy"])
    assert bundle.inputs == {"emotion": "happy"} and bundle.priorities == {"emotion": 0.5}
    with pytest.raises(InvalidInputError, match="--input takes MODALITY=VALUE"):
        cli.cli_modalities(None, None, None, None, [], ["happy"])
