"""The four built-in adapters together through the fusion block: vanilla tokens at zero gates, gradients,
frozen Bark, routing priorities, the priority-0 latency knob, and batches with conditioning."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import bark_omni
import bark_omni.options
from bark_omni import loop as gen
from bark_omni.fusion import Conditioning, FusionModel, StageConditioning
from bark_omni.modality import ModalityBundle

MODALITIES = ("style_text", "reference_audio", "image", "control_events")  # the built-in adapters' modalities

pytest.importorskip("bark_omni_text")
pytest.importorskip("bark_omni_audio")
pytest.importorskip("bark_omni_image")
control = pytest.importorskip("bark_omni_control")

ADAPTER_PLUGINS = ["text", "audio", "image", "control"]
STAGES = ("text", "coarse", "fine")


@pytest.fixture(scope="module")
def host():
    """Only the essentials and the four adapters: other plugins (watermark, guardrails) are not under test."""
    return bark_omni.Host(strict=True, allow=ADAPTER_PLUGINS)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    import soundfile as sf
    from PIL import Image

    folder = tmp_path_factory.mktemp("inputs")
    t = np.arange(int(1.2 * 16_000)) / 16_000
    sf.write(folder / "voice.wav", np.stack([0.3 * np.sin(2 * np.pi * 180 * t), 0.2 * np.sin(2 * np.pi * 260 * t)], 1), 16_000)
    Image.fromarray((np.random.default_rng(0).random((24, 36, 4)) * 255).astype(np.uint8)).save(folder / "scene.png")
    return {"style_text": "whispering, sad", "reference_audio": str(folder / "voice.wav"), "image": str(folder / "scene.png"),
            "control_events": [control.ControlEvent(0.1, "beat", 1.0), (0.3, "sfx", "laughs")]}


@pytest.fixture(scope="module")
def fresh_dir(host, tiny_models, tmp_path_factory):
    directory = tmp_path_factory.mktemp("adapters")
    FusionModel.initialise(host, tiny_models, MODALITIES).save_pretrained(directory)
    return directory


def state_hash(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode() + value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def frozen_hashes(models) -> dict[str, str]:
    return {s: state_hash(getattr(models, s)) for s in (*STAGES, "codec")}


def hooks_and_wrappers(models) -> list[tuple]:
    """Every hook and instance-level forward override on the frozen modules (EnCodec's weight norm has its own)."""
    found = []
    for stage in (*STAGES, "codec"):
        for name, module in getattr(models, stage).named_modules():
            found.append((stage, name, type(module), tuple(module._forward_hooks), tuple(module._forward_pre_hooks),
                          tuple(module._backward_hooks), "forward" in module.__dict__))
    return found


def open_gates(model: FusionModel, value: float = 2.0, scale: float = 100.0) -> FusionModel:
    with torch.no_grad():
        for layers in model.fusion.cross.values():
            for layer in layers.values():
                layer.gate.fill_(value)
                layer.out.weight.mul_(scale)
    return model


def test_fresh_adapters_with_all_four_give_vanilla_tokens_and_leave_bark_alone(host, tiny_models, inputs, fresh_dir,
                                                                               monkeypatch):
    before, hooks = frozen_hashes(tiny_models), hooks_and_wrappers(tiny_models)
    assert not any(wrapped for *_, wrapped in hooks)
    calls = []
    original = StageConditioning.__call__
    monkeypatch.setattr(StageConditioning, "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    kwargs = dict(model=tiny_models.source, seed=5, silent=True, max_gen_duration_s=0.3, host=host, output_full=True)
    vanilla, _ = bark_omni.generate_audio("Four at once.", **kwargs)
    assert not calls, "with no modality the fusion code must not run at all"
    steered, _ = bark_omni.generate_audio("Four at once.", adapters=fresh_dir, **inputs, **kwargs)
    assert calls, "the four modalities must go through the fusion block"
    for key in vanilla:
        np.testing.assert_array_equal(steered[key], vanilla[key], err_msg=key)
    assert frozen_hashes(tiny_models) == before
    assert hooks_and_wrappers(tiny_models) == hooks, "attaching adapters must leave no hook or wrapper behind"


def test_gradients_reach_the_gates_then_every_adapter_and_never_frozen_weights(host, tiny_models, inputs):
    before = frozen_hashes(tiny_models)
    model = FusionModel.initialise(host, tiny_models, MODALITIES).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    text = gen.encode_text(tiny_models.tokenizer, "learn to listen")
    semantic = np.random.default_rng(0).integers(0, 10_000, 60)
    ids = torch.from_numpy(np.hstack([text, semantic]))[None]  # positions 0..315: semantic frames up to 59
    prepared = model.prepare([ModalityBundle(**inputs)])
    for step in range(2):
        optimizer.zero_grad()
        conditioning = Conditioning(model, model.encode(prepared, [{}]), track_grad=True).for_stage("semantic")
        logits = gen.gpt_forward(tiny_models.text, tiny_models.text.transformer.wte(ids), slice(0, 10_001), conditioning)
        torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:].clamp(max=10_000)).backward()
        gates = [layer.gate.grad for layer in model.fusion.cross["semantic"].values()]
        assert all(g is not None and g.abs().item() > 0 for g in gates)
        for modality in MODALITIES:
            grads = [p.grad.abs().sum().item() for p in model.adapters[modality].parameters() if p.grad is not None]
            if step == 0:  # tanh(0) = 0: only the gates learn first, which is what keeps fresh adapters exact
                assert sum(grads) == 0, modality
            else:
                assert sum(grads) > 0, f"no gradient reaches the {modality} adapter"
        optimizer.step()
    assert model.fusion.router.net[0].weight.grad.abs().sum() > 0
    for module in [tiny_models.text, tiny_models.codec, *(m for a in model.adapters.values() for m in a.frozen_modules().values())]:
        assert all(p.grad is None for p in module.parameters())
    assert frozen_hashes(tiny_models) == before


def test_priorities_scale_the_routing_and_absent_modalities_are_left_out(host, tiny_models, inputs):
    model = FusionModel.initialise(host, tiny_models, MODALITIES)
    bundle = ModalityBundle(**inputs, priorities={"reference_audio": 2.0, "style_text": 0.5})
    context = model.conditioning([bundle]).context
    expected = context.raw_weights * torch.tensor([[0.5, 2.0, 1.0, 1.0]])
    torch.testing.assert_close(context.weights, expected)
    image_only = model.conditioning([ModalityBundle(image=inputs["image"])]).context
    n_image_tokens = model.adapters["image"].n_tokens
    assert image_only.tokens.shape[1] == 1 + n_image_tokens  # only the image's start token and its tokens
    assert image_only.weights[0, [0, 1, 3]].abs().sum() == 0


def test_priority_zero_skips_the_adapter_entirely(host, tiny_models, inputs, fresh_dir, monkeypatch):
    from bark_omni_image.adapter import ImageAdapter
    from bark_omni_text.adapter import StyleTextAdapter

    calls: dict[str, int] = {"image": 0, "text": 0}
    for name, cls in (("image", ImageAdapter), ("text", StyleTextAdapter)):
        for method in ("prepare", "forward"):
            original = getattr(cls, method)
            monkeypatch.setattr(cls, method, lambda self, *a, _o=original, _n=name: calls.__setitem__(_n, calls[_n] + 1) or _o(self, *a))
    bark_omni.generate_audio("Skip the image.", image=inputs["image"], style_text="calm", priorities={"image": 0},
                             adapters=fresh_dir, model=tiny_models.source, seed=1, silent=True, max_gen_duration_s=0.1, host=host)
    assert calls["image"] == 0 and calls["text"] >= 2


def test_a_modality_the_adapters_lack_takes_its_training_free_route(host, tiny_models, inputs, tmp_path):
    FusionModel.initialise(host, tiny_models, ["style_text"]).save_pretrained(tmp_path)
    request = bark_omni.build_request("x", modalities=ModalityBundle(image=inputs["image"], style_text="whispering"),
                                      model=tiny_models.source, seed=0,
                                      options=bark_omni.options.GenerationOptions.from_kwargs(max_gen_duration_s=0.2))
    result = bark_omni.run(request, adapters=tmp_path, host=host, device="cpu")
    assert [r["modality"] for r in result.routes] == ["image"], "style_text goes to its adapter, image to its route"


def test_a_batch_with_different_modalities_per_row_matches_each_row_alone(host, tiny_models, inputs):
    """Open gates, so a row's conditioning changes its tokens; each batched row must still equal the row
    generated alone, so every row met its own conditioning (no mix-up between rows)."""
    model = open_gates(FusionModel.initialise(host, tiny_models, MODALITIES, seed=1), value=1.0, scale=20.0)
    rows = [{"text": "Only words.", "seed": 1},
            {"text": "Only words.", "seed": 1, "image": inputs["image"], "control_events": inputs["control_events"]},
            {"text": "A voice and a style.", "seed": 3, "reference_audio": inputs["reference_audio"],
             "style_text": "whispering", "priorities": {"style_text": 2.0}}]
    shared = dict(model=tiny_models.source, silent=True, output_full=True, host=host, adapters=model, max_gen_duration_s=0.3)
    batch = bark_omni.generate_batch(rows, **shared)
    alone = [bark_omni.generate_audio(**row, **shared) for row in rows]
    for i, ((full_b, audio_b), (full_a, audio_a)) in enumerate(zip(batch, alone)):
        for key in full_a:
            np.testing.assert_array_equal(full_b[key], full_a[key], err_msg=f"row {i} {key}")
        np.testing.assert_array_equal(audio_b, audio_a)
    assert not np.array_equal(batch[0][0]["semantic_prompt"], batch[1][0]["semantic_prompt"]), \
        "the image and events must steer row 1 away from row 0 (same text and seed)"


def test_the_coarse_stage_is_conditioned_only_by_adapters_that_ask_for_it(host, tiny_models, inputs):
    model = FusionModel.initialise(host, tiny_models, MODALITIES, adapter_config={"reference_audio": {"stages": ["semantic", "coarse"]}})
    conditioning = model.conditioning([ModalityBundle(**inputs)])
    n_audio = model.adapters["reference_audio"].prepare(inputs["reference_audio"]).shape[0]
    assert int(conditioning.context.stage_masks["coarse"].sum()) == 1 + n_audio  # its start token and its frames
    assert model.conditioning([ModalityBundle(style_text="calm")]).for_stage("coarse") is None
    open_gates(model)
    semantic = np.random.default_rng(0).integers(0, 10_000, 40)
    run = lambda c: gen.generate_coarse(tiny_models.coarse, semantic, generator=torch.Generator().manual_seed(0),  # noqa: E731
                                        conditioning=c)
    assert not np.array_equal(run(conditioning.for_stage("coarse")), run(None))
