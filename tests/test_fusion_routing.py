"""How the fusion block combines modalities: each modality is attended on its own and the terms add up (a
modality is not diluted by another being present), a priority scales exactly its own modality's term, the
router can be switched off (the ablation), and adapters of the older format are refused clearly."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni.errors import CheckpointError
from bark_omni.fusion import FusionModel
from bark_omni.modality import ModalityBundle

pytest.importorskip("bark_omni_image")
control = pytest.importorskip("bark_omni_control")

EVENTS = [control.ControlEvent(0.1, "beat", 1.0), control.ControlEvent(0.2, "beat", 0.5)]


@pytest.fixture(scope="module")
def host():
    return bark_omni.Host(strict=True, allow=["image", "control"])


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)


def opened(model: FusionModel) -> FusionModel:
    """Non-zero gates and per-query routing terms, as a trained fusion has."""
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(1.0)
            if layer.route is not None:
                layer.route.weight.normal_(0, 0.5)
    return model


def delta(model: FusionModel, bundle: ModalityBundle, hidden: torch.Tensor) -> torch.Tensor:
    """What the last injected layer adds to ``hidden`` (positions 256.. : semantic frames 0..)."""
    stage = model.conditioning([bundle]).for_stage("semantic")
    layer = max(stage.layers)
    positions = torch.arange(256, 256 + hidden.shape[1])[None]
    with torch.inference_mode():
        return stage(layer, hidden, positions) - hidden


@pytest.fixture(scope="module")
def hidden(tiny_models):
    return torch.randn(1, 20, tiny_models.text.config.n_embd, generator=torch.Generator().manual_seed(0))


def test_without_router_the_terms_of_two_modalities_add_up(host, tiny_models, image, hidden):
    model = opened(FusionModel.initialise(host, tiny_models, ["image", "control_events"], routing="fixed"))
    assert model.fusion.router is None
    both = delta(model, ModalityBundle(image=image, control_events=EVENTS), hidden)
    alone = delta(model, ModalityBundle(image=image), hidden) + delta(model, ModalityBundle(control_events=EVENTS), hidden)
    torch.testing.assert_close(both, alone, rtol=1e-4, atol=1e-5)
    assert both.abs().sum() > 0


def test_a_priority_scales_its_own_modality_and_leaves_the_other_alone(host, tiny_models, image, hidden):
    """The output is ``a * I + b * C`` for priorities a (image) and b (control): each knob scales one term."""
    model = opened(FusionModel.initialise(host, tiny_models, ["image", "control_events"], seed=3))
    run = lambda a, b: delta(model, ModalityBundle(image=image, control_events=EVENTS,  # noqa: E731
                                                   priorities={"image": a, "control_events": b}), hidden)
    image_term, control_term = run(2, 1) - run(1, 1), run(1, 2) - run(1, 1)
    close = lambda x, y: torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)  # noqa: E731
    close(run(1, 1), image_term + control_term)
    close(run(3.5, 0.5), 3.5 * image_term + 0.5 * control_term)
    assert image_term.abs().sum() > 0 and control_term.abs().sum() > 0


def test_gates_are_per_layer_and_per_query(host, tiny_models, image, hidden):
    model = opened(FusionModel.initialise(host, tiny_models, ["image"], seed=1))
    conditioning = model.conditioning([ModalityBundle(image=image)])
    layer = model.fusion.cross["semantic"][str(max(conditioning.for_stage("semantic").layers))]
    routing = conditioning.context.routing
    with torch.inference_mode():
        gates = routing.gates(layer.route(layer.norm(hidden)), hidden.shape[1])
    assert gates.shape == (1, 20, 1) and float(gates.std()) > 0  # differs between queries


def test_adapters_of_the_older_format_are_refused_with_advice(host, tiny_models, tmp_path):
    FusionModel.initialise(host, tiny_models, ["image"]).save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "adapters.json").read_text())
    meta["format_version"] = 1
    (tmp_path / "adapters.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format 1.*retrain"):
        FusionModel.from_pretrained(tmp_path, host, tiny_models)


def test_fixed_routing_round_trips(host, tiny_models, tmp_path, image, hidden):
    model = opened(FusionModel.initialise(host, tiny_models, ["image"], routing="fixed"))
    model.save_pretrained(tmp_path)
    loaded = FusionModel.from_pretrained(tmp_path, host, tiny_models)
    assert loaded.config.routing == "fixed" and loaded.fusion.router is None
    bundle = ModalityBundle(image=image)
    torch.testing.assert_close(delta(loaded, bundle, hidden), delta(model, bundle, hidden))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_the_timing_term_tells_an_events_frame_from_its_neighbours(host, tiny_models, hidden, tmp_path):
    """A time weight only scales one direction (which Bark's final LayerNorm then removes); the timing term
    makes the event's frame and the frame next to it point differently. Measured where the event is all a query
    sees (format 4: no start token for a timed modality), then outside its window with the start token."""
    model = opened(FusionModel.initialise(host, tiny_models, ["control_events"], seed=4, dense_ratio=0.0,
                                          adapter_config={"control_events": {"window_s": 3 / 49.9}}))
    bundle = ModalityBundle(control_events=[control.ControlEvent(0.2, "beat", 1.0)])  # frame 9.98
    flat = delta(as_format_4(model, host, tiny_models, tmp_path / "flat"), bundle, hidden)
    assert flat[0, 10].abs().sum() > 0 and _cosine(flat[0, 10], flat[0, 11]) > 0.9999  # parallel: a weight only
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.when.weight.normal_(0, 1.0)
    timed = delta(as_format_4(model, host, tiny_models, tmp_path / "timed"), bundle, hidden)
    assert _cosine(timed[0, 10], timed[0, 11]) < 0.99
    assert timed[0, 15].abs().sum() == 0  # outside the window, without a start token: nothing
    # format 5: outside the window the event adds nothing; only the events' start token acts, as for a later event
    timed, later = (delta(model, ModalityBundle(control_events=[control.ControlEvent(t, "beat", 1.0)]), hidden)
                    for t in (0.2, 0.6))
    assert timed[0, 15].abs().sum() > 0
    torch.testing.assert_close(timed[0, 15], later[0, 15])
    assert not torch.allclose(timed[0, 10], later[0, 10])


def as_format_4(model: FusionModel, host, tiny_models, folder) -> FusionModel:
    """``model`` saved and loaded back as a format-4 file (its timed start token never attended)."""
    model.save_pretrained(folder)
    meta = json.loads((folder / "adapters.json").read_text())
    meta["format_version"] = 4
    del meta["fusion"]["timed_start"]
    (folder / "adapters.json").write_text(json.dumps(meta))
    return FusionModel.from_pretrained(folder, host, tiny_models)


def test_the_dense_layer_acts_only_where_a_modality_was_seen(host, tiny_models, hidden, tmp_path):
    model = opened(FusionModel.initialise(host, tiny_models, ["control_events"], seed=5, dense_ratio=0.5,
                                          adapter_config={"control_events": {"window_s": 2 / 49.9}}))
    bundle = ModalityBundle(control_events=[control.ControlEvent(0.2, "beat", 1.0)])
    closed = delta(model, bundle, hidden)
    closed_old = delta(as_format_4(model, host, tiny_models, tmp_path / "a"), bundle, hidden)
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.dense_gate.fill_(1.0)
    old = as_format_4(model, host, tiny_models, tmp_path / "b")
    assert not old.config.timed_start and model.config.timed_start
    dense = delta(old, bundle, hidden)
    assert not torch.allclose(dense[0, 10], closed_old[0, 10])  # the dense layer adds to what the event brought
    assert dense[0, :8].abs().sum() == 0 and dense[0, 13:].abs().sum() == 0  # frames that saw no event: exactly h
    # format 5: every frame sees the events' start token, so the dense layer shapes the frames between events too
    added = (delta(model, bundle, hidden) - closed)[0].abs().sum(-1)
    assert (added[:8] > 0).all() and (added[13:] > 0).all()


def test_adapters_of_format_2_load_with_no_timing_term_and_no_dense_layer(host, tiny_models, tmp_path, image, hidden):
    from safetensors.torch import load_file, save_file

    model = opened(FusionModel.initialise(host, tiny_models, ["image", "control_events"], seed=6, dense_ratio=0.0,
                                          attn_ratio=1.0))
    model.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "adapters.json").read_text())
    meta["format_version"] = 2
    del meta["fusion"]["dense_ratio"], meta["fusion"]["attn_ratio"]  # formats 2 and 3: attention d_model wide
    (tmp_path / "adapters.json").write_text(json.dumps(meta))
    state = load_file(str(tmp_path / "adapters.safetensors"))
    save_file({k: v for k, v in state.items() if not k.endswith(".when.weight")}, str(tmp_path / "adapters.safetensors"))
    loaded = FusionModel.from_pretrained(tmp_path, host, tiny_models)
    assert all(layer.dense is None and not layer.when.weight.any() and layer.q.out_features == tiny_models.text.config.n_embd
               for layer in loaded.fusion.cross["semantic"].values())
    assert not loaded.config.timed_start
    bundle = ModalityBundle(image=image, control_events=EVENTS)
    model.config = replace(model.config, timed_start=False)  # what format 2 computed
    torch.testing.assert_close(delta(loaded, bundle, hidden), delta(model, bundle, hidden))


def test_router_gates_stay_inside_their_bounds_and_keep_a_gradient():
    from bark_omni.fusion import GATE_LOGIT_BOUND, gate

    logits = torch.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True)
    g = gate(logits)
    floor = float(torch.sigmoid(torch.tensor(-GATE_LOGIT_BOUND)))
    assert float(g.min()) >= floor - 1e-7 and float(g.max()) <= 1 - floor + 1e-7 and float(g[2]) == 0.5
    g[1].backward()
    assert logits.grad[1] > 0  # a gate driven far down can still be reopened
    small = torch.linspace(-1, 1, 5)
    torch.testing.assert_close(gate(small), torch.sigmoid(small), atol=0.01, rtol=0)  # near 0: the plain sigmoid
