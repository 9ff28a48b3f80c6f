"""The per-step fast path of the fusion block (keys pre-scaled, ``tanh(gate) * out`` folded, per-token bias and
weights computed once per generation) equals a plain per-modality attention written out here, for a batch that
mixes presence, priorities, a timed modality and an untimed one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bark_omni
from bark_omni.fusion import WHEN_CENTRES, WHEN_WIDTH, FusionModel
from bark_omni.modality import ModalityBundle

pytest.importorskip("bark_omni_image")
control = pytest.importorskip("bark_omni_control")

EVENTS = [control.ControlEvent(0.05, "beat", 1.0), control.ControlEvent(0.2, "beat", 0.5)]


def reference(model: FusionModel, conditioning, layer: int, h: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Written out one modality and one token at a time, from the adapters' timeline (centre frame, half-width)
    and the layer's weights, sharing no helper with the fast path:
    ``a = h + tanh(gate) * out(sum_m g_m * (softmax_m(q k_m / sqrt(d)) * time weights) @ v_m + when(timing))``,
    then ``a + tanh(dense_gate) * dense(a)`` on queries that saw any token."""
    context = conditioning.context
    cross = model.fusion.cross["semantic"][str(layer)]
    B, T, _ = h.shape
    H, C = cross.n_head, cross.q.out_features  # the attention's width (attn_ratio x d_model)
    x = cross.norm(h)
    q = cross.q(x).view(B, T, H, -1).transpose(1, 2)
    k = cross.k(context.tokens).view(B, -1, H, C // H).transpose(1, 2)
    v = cross.v(context.tokens).view(B, -1, H, C // H).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / (C // H) ** 0.5
    N = context.tokens.shape[1]
    visible = context.stage_masks["semantic"][:, None, :].expand(B, T, -1).clone()
    weights = torch.ones(B, T, N)
    offsets = torch.full((B, T, N), float("nan"))
    frames = positions[0].float() - 256  # the query at position p predicts semantic frame p - 256
    if context.timeline is not None:
        for b in range(B):
            for n in range(N):
                centre, half = float(context.timeline[b, n, 0]), float(context.timeline[b, n, 1])
                if half == float("inf"):
                    continue
                half = max(half, 0.5)
                offsets[b, :, n] = (frames - centre) / half
                weights[b, :, n] = (1 - (frames - centre).abs() / half).clamp(min=0)
        visible &= weights > 0
    routing = context.routing
    logits = routing.logits[:, None, :] + cross.route(x)  # (B, T, M): the router's and the layer's terms
    gates = torch.sigmoid(6.0 * torch.tanh(logits / 6.0)) * routing.scale[:, None, :]  # softly bounded, then scaled
    y = torch.zeros(B, H, T, C // H)
    timing = torch.zeros(B, T, cross.when.in_features)
    K = len(WHEN_CENTRES)
    for m, s, e in routing.segments:
        part = scores[..., s:e].masked_fill(~visible[:, None, :, s:e], float("-inf"))
        probs = torch.nan_to_num(torch.softmax(part, dim=-1)) * weights[:, None, :, s:e] * gates[:, None, :, m, None]
        y = y + probs @ v[:, :, s:e]
        attention = probs.mean(1)  # (B, T, tokens of m)
        for j, n in enumerate(range(s, e)):
            for i, c in enumerate(WHEN_CENTRES.tolist()):
                bump = torch.nan_to_num(torch.exp(-(((offsets[:, :, n] - c) / WHEN_WIDTH) ** 2)))
                timing[:, :, m * K + i] += attention[:, :, j] * bump
    y = y.transpose(1, 2).reshape(B, T, C) + cross.when(timing)
    a = h + torch.tanh(cross.gate) * cross.out(y)
    seen = (visible & (weights > 0)).any(-1, keepdim=True) & (routing.scale.sum(-1) > 0)[:, None, None]
    return a + torch.tanh(cross.dense_gate) * cross.dense(a) * seen


def opened(tiny_models) -> tuple[FusionModel, np.ndarray]:
    """An image + control fusion with its gates, routing terms, timing term and dense layer opened, as trained ones
    are, and a test image."""
    host = bark_omni.Host(strict=True, allow=["image", "control"])
    model = FusionModel.initialise(host, tiny_models, ["image", "control_events"], seed=2)
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(0.7)
            layer.route.weight.normal_(0, 0.5)
            layer.when.weight.normal_(0, 0.5)
            layer.dense_gate.fill_(0.6)
    return model, (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)


def test_fast_path_equals_plain_per_modality_attention(tiny_models):
    model, image = opened(tiny_models)
    bundles = [ModalityBundle(image=image, control_events=EVENTS, priorities={"image": 0.5, "control_events": 2.0}),
               ModalityBundle(image=image)]
    conditioning = model.conditioning(bundles)
    stage = conditioning.for_stage("semantic")
    h = torch.randn(2, 24, tiny_models.text.config.n_embd, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(250, 274)[None]  # the prefix's end and the first semantic frames (events at 2 and 10)
    with torch.inference_mode():
        for layer in stage.layers:
            fast, plain = stage(layer, h, positions), reference(model, conditioning, layer, h, positions)
            torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-5)
            assert (fast - h).abs().sum() > 0
            # a query away from every event sees the image and the events' start token, not the events
            assert not torch.equal(fast[0, 0], fast[0, 8])


def test_a_sub_batch_attends_as_its_rows_did_in_the_whole_batch(tiny_models):
    """A batched loop drops rows that finished (``select``): the rows left, a timed one among them, get exactly
    what they got in the whole batch."""
    model, image = opened(tiny_models)
    late = [control.ControlEvent(0.3, "beat", 1.0)]
    bundles = [ModalityBundle(image=image), ModalityBundle(image=image, control_events=EVENTS),
               ModalityBundle(control_events=late)]
    stage = model.conditioning(bundles).for_stage("semantic")
    part = stage.select(torch.tensor([2, 1]))
    h = torch.randn(3, 24, tiny_models.text.config.n_embd, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(250, 274)[None]
    with torch.inference_mode():
        for layer in stage.layers:
            whole = stage(layer, h, positions)
            torch.testing.assert_close(part(layer, h[[2, 1]], positions), whole[[2, 1]], rtol=1e-6, atol=1e-6)
            assert not torch.equal(whole[2], h[2]) and not torch.equal(whole[1], whole[2])


def test_the_host_encodes_an_input_once_and_gives_the_same_conditioning(tiny_models, monkeypatch):
    from bark_omni.fusion import EncodedInputs, build_conditioning

    host = bark_omni.Host(strict=True, allow=["image", "control"])
    model = FusionModel.initialise(host, tiny_models, ["image", "control_events"], seed=2)
    adapter = model.adapters["image"]
    calls = []
    original = type(adapter).prepare
    monkeypatch.setattr(type(adapter), "prepare", lambda self, value: calls.append(1) or original(self, value))
    image = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    first = build_conditioning(host, tiny_models, ModalityBundle(image=image, control_events=EVENTS), model)
    again = build_conditioning(host, tiny_models, ModalityBundle(image=image.copy(), control_events=EVENTS), model)
    assert len(calls) == 1, "the same image's encoding is reused"
    torch.testing.assert_close(again.context.tokens, first.context.tokens, rtol=0, atol=0)
    build_conditioning(host, tiny_models, ModalityBundle(image=255 - image), model)
    assert len(calls) == 2, "another image is encoded"
    small = EncodedInputs(1)
    for value in (image, 255 - image, image):
        small.prepare(adapter, value)
    assert (small.hits, small.misses) == (0, 3), "a bounded cache forgets the least recently used input"


def test_a_single_query_reads_float16_weights_and_stays_within_a_rounding_of_float32(tiny_models):
    """A decoding step of one query (batch 1) reads the fusion's weight matrices in float16 when asked (what
    "auto" picks on a CPU with half-precision conversions): its term differs from float32's (the setting acts)
    by a rounding only. Float32 steps are still the plain attention, and a batch of two keeps float32."""
    model, image = opened(tiny_models)
    bundle = ModalityBundle(image=image, control_events=EVENTS)
    half = model.conditioning([bundle], step_precision="float16").for_stage("semantic")
    full_conditioning = model.conditioning([bundle], step_precision="float32")
    full = full_conditioning.for_stage("semantic")
    h = torch.randn(1, 1, tiny_models.text.config.n_embd, generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([[258]])  # next to the first event
    with torch.inference_mode():
        for layer in full.layers:
            fast16, fast32 = half(layer, h, positions), full(layer, h, positions)
            torch.testing.assert_close(fast32, reference(model, full_conditioning, layer, h, positions), rtol=1e-4, atol=1e-5)
            term16, term32 = fast16 - h, fast32 - h
            assert not torch.equal(term16, term32)
            assert float((term16 - term32).norm() / term32.norm()) < 5e-3
        pair = model.conditioning([bundle, bundle], step_precision="float16").for_stage("semantic")
        wide = model.conditioning([bundle, bundle], step_precision="float32").for_stage("semantic")
        h2 = h.expand(2, 1, -1).contiguous()
        for layer in full.layers:
            assert torch.equal(pair(layer, h2, positions), wide(layer, h2, positions))


def test_step_precision_is_checked_before_any_encoding_and_auto_follows_the_cpu(tiny_models, monkeypatch):
    import platform

    from bark_omni.errors import InvalidInputError
    from bark_omni.fusion import step_dtype

    model, image = opened(tiny_models)
    monkeypatch.setattr(type(model.adapters["image"]), "prepare", lambda self, value: pytest.fail("encoded first"))
    with pytest.raises(InvalidInputError, match="step precision must be one of auto, float16, float32"):
        model.conditioning([ModalityBundle(image=image)], step_precision="half")
    cpu = torch.device("cpu")
    assert step_dtype(cpu, "float32") is None and step_dtype(torch.device("cuda"), "float16") is None
    assert step_dtype(cpu, "float16") == torch.float16
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: False)
    assert step_dtype(cpu) is None, "no AVX2 (no F16C): float16 products would be emulated"
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: True)
    assert step_dtype(cpu) == torch.float16
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: False)
    assert step_dtype(cpu) == torch.float16


@pytest.mark.parametrize("routing,dense_ratio", [("gated", 0.5), ("fixed", 0.0)])
def test_a_decoding_step_gives_what_the_whole_window_gives_at_its_position(tiny_models, routing, dense_ratio):
    """``GatedCrossAttention.step`` (one query of a batch-1 context, what every decoding step runs) gives, query by
    query, what the general path gives the same rows in one call: with a router and a dense layer or neither, at
    queries near events and away from them, with priorities, with one modality or both."""
    host = bark_omni.Host(strict=True, allow=["image", "control"])
    model = FusionModel.initialise(host, tiny_models, ["image", "control_events"], seed=3, routing=routing,
                                   dense_ratio=dense_ratio)
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(0.7)
            layer.when.weight.normal_(0, 0.5)
            if layer.route is not None:
                layer.route.weight.normal_(0, 0.5)
                layer.route.bias.normal_(0, 0.5)
            if layer.dense_gate is not None:
                layer.dense_gate.fill_(0.6)
    image = (np.random.default_rng(1).random((32, 32, 3)) * 255).astype(np.uint8)
    h = torch.randn(1, 24, tiny_models.text.config.n_embd, generator=torch.Generator().manual_seed(2))
    positions = torch.arange(250, 274)[None]
    for bundle in (ModalityBundle(image=image, control_events=EVENTS, priorities={"image": 0.4}),
                   ModalityBundle(control_events=EVENTS), ModalityBundle(image=image)):
        stage = model.conditioning([bundle], step_precision="float32").for_stage("semantic")
        with torch.inference_mode():
            for layer in stage.layers:
                window = stage(layer, h, positions)
                steps = torch.cat([stage(layer, h[:, [t]], positions[:, [t]]) for t in range(24)], dim=1)
                torch.testing.assert_close(steps, window, rtol=1e-5, atol=1e-6)
                assert not torch.equal(steps, h)
