"""The fusion block: vanilla tokens when nothing is present or gates are at zero; gradients reach gates and
projections; nothing is attached to the frozen modules; adapter weights round-trip and check their base."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from torch import nn

import bark_omni
from bark_omni import loop as gen
from bark_omni.errors import CheckpointError, MissingPluginError
from bark_omni.fusion import Adapter, FusionModel, build_conditioning
from bark_omni.modality import ModalityBundle
from bark_omni.specs import AdapterSpec


class VectorAdapter(Adapter):
    """A toy image adapter: the 'image' is any float vector of length 8, projected into 4 context tokens."""

    modality = "image"
    kind = "toy-vector"
    version = "1"

    def __init__(self, d_ctx, config=None):
        super().__init__(d_ctx, config)
        self.proj = nn.Linear(8, 4 * d_ctx)

    def prepare(self, value):
        return torch.as_tensor(np.asarray(value, dtype=np.float32).reshape(8))

    def forward(self, prepared):
        x = torch.stack(list(prepared)).to(self.proj.weight.device)
        tokens = self.proj(x).view(len(prepared), 4, self.d_ctx)
        return tokens, torch.ones(len(prepared), 4, dtype=torch.bool)


class ToyPlugin:
    @bark_omni.hookimpl
    def register_adapters(self, register):
        register(AdapterSpec(name="toy-vector", modality="image",
                             build=lambda models, d_ctx, config: VectorAdapter(d_ctx, config)))


@pytest.fixture(scope="module")
def toy_host():
    return bark_omni.Host([ToyPlugin()], strict=True)


def state_hash(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode() + value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def test_fresh_adapters_give_vanilla_tokens_and_leave_bark_untouched(toy_host, tiny_models, tmp_path):
    before = {s: state_hash(getattr(tiny_models, s)) for s in ("text", "coarse", "fine")}
    model = FusionModel.initialise(toy_host, tiny_models, ["image"])
    model.save_pretrained(tmp_path)
    kwargs = dict(model=tiny_models.source, seed=2, silent=True, max_gen_duration_s=0.6, host=toy_host, output_full=True)
    vanilla, _ = bark_omni.generate_audio("Gates at zero.", **kwargs)
    steered, _ = bark_omni.generate_audio("Gates at zero.", image=np.ones(8), adapters=tmp_path, **kwargs)
    for key in vanilla:
        np.testing.assert_array_equal(steered[key], vanilla[key])
    assert {s: state_hash(getattr(tiny_models, s)) for s in ("text", "coarse", "fine")} == before
    for module in (tiny_models.text, tiny_models.coarse):
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())


def test_open_gate_changes_tokens(toy_host, tiny_models):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"])
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(3.0)
            layer.out.weight.mul_(200)
    tokens = gen.encode_text(tiny_models.tokenizer, "Open gate.")
    cond = build_conditioning(toy_host, tiny_models, ModalityBundle(image=np.ones(8)), model)
    run = lambda c: gen.generate_semantic(tiny_models.text, tokens, max_gen_duration_s=0.5,
                                          generator=torch.Generator().manual_seed(0), conditioning=c)
    assert not np.array_equal(run(cond.for_stage("semantic")), run(None))


def test_gradients_reach_gates_then_projections(toy_host, tiny_models):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"]).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    text = torch.from_numpy(gen.encode_text(tiny_models.tokenizer, "learn"))[None]
    for step in range(2):
        optimizer.zero_grad()
        cond = model.conditioning([ModalityBundle(image=np.arange(8.0))], track_grad=True).for_stage("semantic")
        cache = gen.KVCache(tiny_models.text)
        emb = tiny_models.text.transformer.wte(text)
        logits = gen.gpt_step(tiny_models.text, emb, cache, slice(0, 10001), cond)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([5]))
        loss.backward()
        layer = next(iter(model.fusion.cross["semantic"].values()))
        assert layer.gate.grad is not None and layer.gate.grad.abs().item() > 0
        if step == 1:  # once the gate has moved off zero, the projections and the adapter learn too
            assert layer.q.weight.grad.abs().sum() > 0
            assert model.adapters["image"].proj.weight.grad.abs().sum() > 0
        optimizer.step()
    assert all(p.grad is None for p in tiny_models.text.parameters())


def test_weights_round_trip_and_refuse_other_base(toy_host, tiny_models, tmp_path):
    model = FusionModel.initialise(toy_host, tiny_models, ["image"], seed=3)
    model.save_pretrained(tmp_path)
    loaded = FusionModel.from_pretrained(tmp_path, toy_host, tiny_models)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    import json

    meta = json.loads((tmp_path / "adapters.json").read_text())
    meta["fusion"]["base_fingerprint"] = "sha256:another"
    (tmp_path / "adapters.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="made for base model"):
        FusionModel.from_pretrained(tmp_path, toy_host, tiny_models)


def test_modality_without_adapter_weights_or_route_is_a_clear_error(tiny_models):
    host = bark_omni.Host([ToyPlugin()], strict=True, block=["image"])  # no image plugin: no training-free route
    with pytest.raises(MissingPluginError, match="adapters=DIR"):
        bark_omni.generate_audio("x", image=np.ones(8), model=tiny_models.source, host=host, silent=True)


def test_modality_without_plugin_names_the_package(tiny_models):
    host = bark_omni.Host(entry_points=True, strict=True, allow=[])
    with pytest.raises(MissingPluginError, match="bark-omni-image"):
        bark_omni.generate_audio("x", image=np.ones(8), model=tiny_models.source, host=host, silent=True)


def test_frozen_copy_folds_weight_norms_and_casts_only_what_autocast_casts():
    """``frozen_copy`` computes its module's function: exactly at float32 (``weight_norm`` folded into a plain
    weight; a parametrization kept), and under bf16 autocast bit for bit as the original under the same autocast;
    only the products' weights are cast (a LayerNorm keeps float32); the original keeps its weight norms."""
    from torch import nn
    from torch.nn.utils import parametrizations, weight_norm

    from bark_omni.fusion import frozen_copy

    torch.manual_seed(0)
    module = nn.Sequential(weight_norm(nn.Conv1d(2, 8, 3, padding=1)), nn.ELU(),
                           parametrizations.weight_norm(nn.Conv1d(8, 8, 1)), nn.Flatten(1), nn.LayerNorm(8 * 16),
                           nn.Linear(8 * 16, 4)).requires_grad_(False)
    x = torch.randn(3, 2, 16)
    for dtype in (None, torch.bfloat16):
        copy = frozen_copy(module, dtype)
        assert not hasattr(copy[0], "weight_g") and hasattr(copy[2], "parametrizations")
        assert copy[0].weight.dtype == copy[5].weight.dtype == (dtype or torch.float32) and copy[4].weight.dtype == torch.float32
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            assert torch.equal(copy(x), module(x))
    assert hasattr(module[0], "weight_g") and hasattr(module[2], "parametrizations") and module[5].weight.dtype == torch.float32
