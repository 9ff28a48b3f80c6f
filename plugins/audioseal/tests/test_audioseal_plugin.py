"""The AudioSeal plugin with a tiny random model built by AudioSeal's own builders (no weights needed)."""

import numpy as np
import pytest

import bark_omni
from bark_omni.errors import InvalidInputError, ModelNotFoundError
from bark_omni_audioseal import detect, embed, models, plugin

SR = 24000


@pytest.fixture(scope="module")
def tiny():
    return models.tiny_models(seed=0)


def test_embed_changes_audio_keeps_shape_and_detect_reads_sixteen_bits(tiny):
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.normal(size=SR)).astype(np.float32)
    marked = embed(audio, SR, 0xBEEF, models=tiny)
    assert marked.shape == audio.shape and marked.dtype == audio.dtype and not np.array_equal(marked, audio)
    found = detect(marked, SR, models=tiny)
    assert 0.0 <= found.score <= 1.0 and 0 <= found.payload < 2**16 and len(found.bit_probabilities) == 16


def test_payload_bounds(tiny):
    with pytest.raises(InvalidInputError, match="0..65535"):
        embed(np.zeros(SR, dtype=np.float32), SR, 1 << 16, models=tiny)


def test_without_weights_nothing_is_registered_and_calls_say_where_to_put_them(tmp_path, monkeypatch, make_host):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(models.WEIGHTS_ENV, raising=False)
    host = make_host(plugin)
    assert "audioseal" not in host.watermarkers
    with pytest.raises(ModelNotFoundError, match="BARK_OMNI_AUDIOSEAL_DIR"):
        embed(np.zeros(SR, dtype=np.float32), SR, 1)


def test_local_weights_register_the_watermarker_and_load(tmp_path, monkeypatch, make_host, tiny):
    from safetensors.torch import save_file

    for part, model in (("generator", tiny.generator), ("detector", tiny.detector)):
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / f"{part}.safetensors"))
    monkeypatch.setenv(models.WEIGHTS_ENV, str(tmp_path))
    host = make_host(plugin)
    assert host.watermarkers["audioseal"].priority < 10  # the keyed patchwork mark stays the default
    loaded = models._state_dict(tmp_path / "generator.safetensors")
    for name, tensor in tiny.generator.state_dict().items():
        assert (loaded[name] == tensor).all()
