"""The style-text adapter: conformance, Bark's frozen embeddings as its input, clear errors."""

from __future__ import annotations

import pytest
import torch

from bark_omni.constants import TEXT_ENCODING_OFFSET
from bark_omni.errors import InvalidInputError
from bark_omni.testing import check_adapter_conformance
from bark_omni_text.adapter import StyleTextAdapter
from bark_omni_text import plugin
from bark_omni_text.plugin import build


def test_conformance(make_host, tiny_models):
    check_adapter_conformance(make_host(plugin).adapters["text"], tiny_models, samples=["whispering, sad", "a loud cheerful announcer voice"],
                              garbage=[["list"], "   ", 42])


def test_reads_barks_own_frozen_embeddings(tiny_models):
    adapter = build(tiny_models, d_ctx=16, config={})
    prepared = adapter.prepare("hello world")
    ids = tiny_models.tokenizer.encode("hello world", add_special_tokens=False)
    expected = tiny_models.text.transformer.wte.weight[torch.tensor(ids) + TEXT_ENCODING_OFFSET]
    assert torch.equal(prepared, expected)
    assert not any(k.startswith("wte") or "transformer" in k for k in adapter.state_dict())
    assert adapter.frozen_modules()["wte"] is tiny_models.text.transformer.wte


def test_long_style_is_cut_with_a_warning(tiny_models):
    adapter = StyleTextAdapter(tiny_models, 16, {"max_tokens": 4})
    with pytest.warns(UserWarning, match="only the first 4"):
        assert adapter.prepare("one two three four five six").shape[0] == 4


def test_bad_config_is_an_error(tiny_models):
    with pytest.raises(InvalidInputError, match="max_tokens"):
        StyleTextAdapter(tiny_models, 16, {"max_tokens": 0})
