"""Run bark-omni's conformance checks on the template adapter, then test its own behaviour."""

from __future__ import annotations

import pytest

from bark_omni.errors import InvalidInputError
from bark_omni.testing import check_adapter_conformance
from bark_omni_adapter_template import plugin


def spec():
    found = []
    plugin.register_adapters(found.append)
    return found[0]


def test_conformance(tiny_models):
    check_adapter_conformance(spec(), tiny_models, samples=["whispering", "loud, happy, fast"], garbage=[b"bytes", "   "])


def test_long_text_is_cut_to_max_bytes(tiny_models):
    adapter = spec().build(tiny_models, d_ctx=8, config={"max_bytes": 4})
    assert adapter.prepare("abcdefgh").tolist() == [97, 98, 99, 100]
    with pytest.raises(InvalidInputError, match="must be a string"):
        adapter.prepare(3)
