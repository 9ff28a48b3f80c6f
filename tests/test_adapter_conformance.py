"""``bark_omni.testing.check_adapter_conformance`` passes a correct adapter and names what is wrong with each
broken one (so plugin authors can trust a pass)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bark_omni.errors import InvalidInputError, PluginError
from bark_omni.fusion import Adapter
from bark_omni.specs import AdapterSpec
from bark_omni.testing import check_adapter_conformance


class FourNumbers(Adapter):
    """A correct toy image adapter: the 'image' is a list of four numbers."""

    modality = "image"
    kind = "four"

    def __init__(self, models, d_ctx, config=None):
        super().__init__(d_ctx, config)
        self.proj = nn.Linear(4, d_ctx)

    def prepare(self, value):
        if not isinstance(value, list) or len(value) != 4:
            raise InvalidInputError("pass four numbers")
        return torch.tensor(value, dtype=torch.float32)

    def forward(self, prepared):
        tokens = self.proj(torch.stack(list(prepared)))[:, None]
        return tokens, torch.ones(len(prepared), 1, dtype=torch.bool)


class HoldsBarkAsSubmodule(FourNumbers):
    def __init__(self, models, d_ctx, config=None):
        super().__init__(models, d_ctx, config)
        self.wte = models.text.transformer.wte  # wrong: use hold_frozen


class AcceptsAnything(FourNumbers):
    def prepare(self, value):
        return torch.zeros(4)


class RaisesTheWrongError(FourNumbers):
    def prepare(self, value):
        if not isinstance(value, list):
            raise TypeError("not a list")
        return super().prepare(value)


class WrongWidth(FourNumbers):
    def forward(self, prepared):
        tokens, mask = super().forward(prepared)
        return torch.cat([tokens, tokens[..., :1]], dim=-1), mask


class NaNTokens(FourNumbers):
    def forward(self, prepared):
        tokens, mask = super().forward(prepared)
        return tokens * float("nan"), mask


class WrongModality(FourNumbers):
    modality = "reference_audio"


def spec_of(cls) -> AdapterSpec:
    return AdapterSpec(name="four", modality="image", build=lambda models, d_ctx, config: cls(models, d_ctx, config))


SAMPLES = [[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, -1.0, 2.0]]


def test_a_correct_adapter_passes(tiny_models):
    check_adapter_conformance(spec_of(FourNumbers), tiny_models, samples=SAMPLES, garbage=[[1, 2]])


@pytest.mark.parametrize("cls, message", [
    (HoldsBarkAsSubmodule, "frozen module is a submodule"),
    (AcceptsAnything, "accepted garbage"),
    (RaisesTheWrongError, "raised TypeError, not InvalidInputError"),
    (WrongWidth, "tokens have shape"),
    (NaNTokens, "not finite"),
])
def test_a_broken_adapter_fails_with_the_reason(tiny_models, cls, message):
    with pytest.raises(AssertionError, match=message):
        check_adapter_conformance(spec_of(cls), tiny_models, samples=SAMPLES)


def test_an_adapter_for_another_modality_than_its_spec_is_refused(tiny_models):
    with pytest.raises(PluginError, match="not a bark_omni.fusion.Adapter for the 'image' modality"):
        check_adapter_conformance(spec_of(WrongModality), tiny_models, samples=SAMPLES)
