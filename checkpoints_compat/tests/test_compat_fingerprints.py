"""Fingerprints tie adapters to their base model: same weights in any format pass, other weights are refused."""

from __future__ import annotations

import copy

import pytest

from bark_omni.errors import CheckpointError
from bark_omni.models import BarkModels
from bark_omni.fingerprints import FingerprintMismatchError, require_fingerprint
from bark_omni.fingerprints import base_fingerprint


def test_same_base_passes_other_base_is_refused(tiny_bark):
    expected = base_fingerprint(tiny_bark)
    require_fingerprint(expected, tiny_bark)
    require_fingerprint(expected, expected)
    other_fine = copy.deepcopy(tiny_bark.fine)
    other_fine.transformer.wpe.weight.data[0, 0] += 1e-3
    other = BarkModels(text=tiny_bark.text, coarse=tiny_bark.coarse, fine=other_fine, tokenizer=None, codec=None,
                       device="cpu", source="elsewhere")
    assert other.fingerprint != expected
    with pytest.raises(FingerprintMismatchError) as caught:
        require_fingerprint(expected, other, what="adapter 'style-v1'")
    message = str(caught.value)
    assert "adapter 'style-v1'" in message and expected in message and other.fingerprint in message and "elsewhere" in message
    assert caught.value.expected == expected and caught.value.actual == other.fingerprint
    assert isinstance(caught.value, CheckpointError) and "\n" not in message


@pytest.mark.parametrize("bad", [None, "", "md5:abc", "sha256:XYZ"])
def test_missing_or_malformed_fingerprints_are_errors(tiny_bark, bad):
    with pytest.raises(CheckpointError, match="no valid base-model fingerprint"):
        require_fingerprint(bad, tiny_bark)


def test_fingerprint_is_independent_of_the_file_format(tiny_bark, legacy_suno_dir, compat_host):
    from bark_omni.models import load_models

    legacy = load_models(legacy_suno_dir, compat_host, "cpu")
    assert legacy.source != tiny_bark.source and legacy.fingerprint == tiny_bark.fingerprint
