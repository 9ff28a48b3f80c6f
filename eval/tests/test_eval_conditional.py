"""Conditional dependence, on bark_omni.run with a fake in-test adapter through the real fusion block."""

import numpy as np
import pytest
import torch

from bark_omni.errors import InvalidInputError
from bark_omni.hookspecs import hookimpl
from bark_omni.modality import ModalityBundle
from bark_omni.specs import AdapterSpec, GenerationRequest, GenerationResult
from bark_omni_eval.errors import MetricUnavailable
from bark_omni_eval.metrics.conditional import modality_dependence, removable_inputs, token_change, without


def test_token_change():
    assert token_change(np.array([1, 2, 3]), np.array([1, 2, 3])) == 0.0
    assert token_change(np.array([1, 2, 3, 4]), np.array([1, 9, 3, 4])) == 0.25
    assert token_change(np.array([1, 2]), np.array([1, 2, 3, 4])) == 0.5  # missing length counts as changed
    assert token_change(np.array([]), np.array([])) == 0.0
    coarse = np.array([[1, 2, 3], [4, 5, 6]])
    other = coarse.copy()
    other[1, 2] = 0
    assert token_change(coarse, other) == pytest.approx(1 / 3)  # compared frame by frame


def test_removable_inputs_and_without():
    request = GenerationRequest(text="hi", modalities=ModalityBundle(style_text="calm", image="x.png"), seed=1)
    assert removable_inputs(request) == ["text", "style_text", "image"]
    assert without(request, "text").text is None
    assert without(request, "image").modalities.present() == ["style_text"]
    assert request.modalities.image == "x.png"  # the original is untouched
    assert removable_inputs(GenerationRequest(text="hi", modalities=ModalityBundle(), seed=1)) == []


def test_dependence_reflects_what_the_generator_uses():
    def fake_generate(request):
        # semantic tokens depend on the style only; coarse ones on the text only
        style = request.modalities.style_text or ""
        semantic = np.array([len(style), 7, 7, 7])
        coarse = np.full((2, 3), len(request.text or ""))
        return GenerationResult(semantic=semantic, coarse=coarse, fine=coarse, audio=np.zeros(1), sample_rate=24_000)

    request = GenerationRequest(text="hello", modalities=ModalityBundle(style_text="calm"), seed=0)
    out = modality_dependence(request, fake_generate)
    assert out == {"semantic.text": 0.0, "coarse.text": 1.0, "semantic.style_text": 0.25, "coarse.style_text": 0.0}
    with pytest.raises(InvalidInputError, match="seeded"):
        modality_dependence(GenerationRequest(text="x", modalities=ModalityBundle(style_text="a")), fake_generate)
    with pytest.raises(MetricUnavailable, match="nothing to take away"):
        modality_dependence(GenerationRequest(text="x", modalities=ModalityBundle(), seed=0), fake_generate)


class _WordAdapter:
    """Builds a fake style_text adapter: each character becomes a token (a fixed random embedding)."""

    @staticmethod
    def build(models, d_ctx, config=None):
        from bark_omni.fusion import Adapter

        class WordAdapter(Adapter):
            modality = "style_text"
            kind = "fake-style"

            def __init__(self):
                super().__init__(d_ctx, config)
                self.embed = torch.nn.Embedding(128, d_ctx)

            def prepare(self, value):
                if not isinstance(value, str) or not value:
                    raise InvalidInputError("style_text must be a non-empty string")
                return torch.tensor([min(ord(c), 127) for c in value])

            def forward(self, prepared):
                width = max(len(p) for p in prepared)
                ids = torch.zeros(len(prepared), width, dtype=torch.long)
                mask = torch.zeros(len(prepared), width, dtype=torch.bool)
                for i, p in enumerate(prepared):
                    ids[i, : len(p)], mask[i, : len(p)] = p, True
                return self.embed(ids) * 3.0, mask

        return WordAdapter()


class _FakeAdapterPlugin:
    @hookimpl
    def register_adapters(self, register):
        register(AdapterSpec(name="fake-style", modality="style_text", build=_WordAdapter.build, package="tests"))


def test_dependence_through_the_real_fusion_block(make_host, tiny_models):
    from bark_omni.api import build_request, run as run_request
    from bark_omni.fusion import FusionModel
    from bark_omni.options import GenerationOptions

    host = make_host(_FakeAdapterPlugin())
    fusion = FusionModel.initialise(host, tiny_models, ["style_text"], seed=0)
    request = build_request("Hello there.", None, modalities=ModalityBundle(style_text="shouting angrily"),
                            seed=3, model=tiny_models.source, decoder="encodec",
                            options=GenerationOptions.from_kwargs(max_gen_duration_s=0.3))

    def run(req):
        return run_request(req, host=host, device="cpu", adapters=fusion)

    closed = modality_dependence(request, run)
    assert closed["semantic.style_text"] == 0.0  # gates start at zero: the style cannot change a token yet
    assert set(closed) == {"semantic.text", "coarse.text", "semantic.style_text", "coarse.style_text"}
    with torch.no_grad():
        for layer in fusion.fusion.cross["semantic"].values():
            layer.gate.fill_(3.0)
    opened = token_change(run(request).semantic, run(without(request, "style_text")).semantic)
    assert opened > 0.1  # once the gates open, the style changes tokens
