"""FAD: the Fréchet distance on Gaussians with known answers, FAD-infinity, and FAD of espeak sets against
themselves and shifted sets; the VGGish embedder loads a weights file in the real format."""

import numpy as np
import pytest

from bark_omni_eval.audio import Clip, add_noise
from bark_omni_eval.errors import MetricUnavailable
from bark_omni_eval.metrics.fad import fad_between, fad_infinity, fad_metric, frechet_distance
from bark_omni_eval.embedders.logmel import LogMelStatsEmbedder


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20_000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shifted = a + np.array([1.0, 2.0, 0.0, 0.0])
    assert frechet_distance(a, shifted) == pytest.approx(5.0, rel=1e-6)  # |mean shift|^2, covariances equal
    wide = rng.standard_normal((20_000, 4)) * 2.0  # N(0, 4I): d * (1 + 4 - 2*2) = 4
    assert frechet_distance(a, wide) == pytest.approx(4.0, rel=0.05)
    with pytest.raises(MetricUnavailable):
        frechet_distance(a[:1], a)


def test_fad_infinity_removes_small_set_bias():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((20_000, 16))
    small = rng.standard_normal((120, 16))  # same distribution: the true distance is 0
    raw = frechet_distance(small, reference)
    extrapolated, slope = fad_infinity(small, reference, points=8, seed=0)
    assert slope > 0  # FAD shrinks as the set grows
    assert abs(extrapolated) < raw / 2
    with pytest.raises(MetricUnavailable, match="at least"):
        fad_infinity(small[:4], reference)


def test_fad_orders_self_same_distribution_and_shifted_sets(espeak):
    from bark_omni_eval.speech import VALIDATION_SENTENCES

    voices = ("en-us+f2", "en-us+m3")
    set_a = [espeak(s, v) for v in voices for s in VALIDATION_SENTENCES[:3]]
    set_b = [espeak(s, v) for v in voices for s in VALIDATION_SENTENCES[3:]]
    embedder = LogMelStatsEmbedder()
    self_fad = fad_between(embedder, set_a, set_a)["fad"]
    same = fad_between(embedder, set_a, set_b)["fad"]
    shifted = [fad_between(embedder, set_a, [Clip(add_noise(c.audio, snr, seed=k), c.sample_rate)
                                             for k, c in enumerate(set_b)])["fad"] for snr in (20.0, 5.0)]
    assert self_fad == pytest.approx(0.0, abs=1e-6)
    assert self_fad < same < shifted[0] < shifted[1]


def test_fad_metric_spec_is_set_level_and_needs_references():
    from bark_omni_eval.runner import metric_scope

    spec = fad_metric("fad_test", LogMelStatsEmbedder)
    assert metric_scope(spec) == "suite" and spec.higher_is_better is False
    clip = Clip(np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1, 16_000)
    with pytest.raises(MetricUnavailable, match="reference set"):
        spec.compute(clips=[clip], reference_clips=[])
    out = spec.compute(clips=[clip], reference_clips=[clip])
    assert out["fad"] == pytest.approx(0.0, abs=1e-6)


def test_vggish_embedder_reads_weights_in_the_real_format(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from bark_omni_eval.embedders.vggish import WEIGHTS_ENV, VGGishEmbedder, vggish_network

    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "absent.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(MetricUnavailable, match="VGGish weights not found"):
        VGGishEmbedder()
    torch.manual_seed(0)
    state = vggish_network().state_dict()
    assert "features.0.weight" in state and "embeddings.4.weight" in state  # the PyTorch port's key names
    path = tmp_path / "vggish-10086976.pth"
    torch.save(state, path)
    embedder = VGGishEmbedder(weights=path)
    frames = embedder.embed(np.random.default_rng(0).standard_normal(16_000 * 2).astype(np.float32) * 0.1)
    assert frames.shape == (2, 128) and np.all(np.isfinite(frames))
    assert embedder.embed(np.zeros(1600, np.float32)).shape == (1, 128)  # shorter than one patch


def test_clap_embedder_skips_clearly_without_weights():
    from bark_omni_eval.embedders.clap import ClapEmbedder
    from bark_omni_eval.metrics.clap_score import compute

    try:
        ClapEmbedder("laion/clap-htsat-unfused")
    except MetricUnavailable as exc:
        assert "not available locally" in str(exc)
    else:
        pytest.skip("CLAP weights are present here; the skip path is not reachable")
    with pytest.raises(MetricUnavailable, match="no caption"):
        compute(np.zeros(100, np.float32), 16_000, "[music] ♪")


@pytest.fixture(scope="module")
def tiny_clap_dir(tmp_path_factory):
    """A randomly initialised CLAP in the Hugging Face layout (model, feature extractor, BPE tokenizer), so the
    real loading code runs offline; it scores nothing meaningful."""
    import json

    torch = pytest.importorskip("torch")
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, RobertaTokenizer

    root = tmp_path_factory.mktemp("clap")
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", "Ġ"])}
    for piece in list("abcdefghijklmnopqrstuvwxyz") + [f"Ġ{c}" for c in "abcdefghijklmnopqrstuvwxyz"]:
        vocab[piece] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    model_dir = root / "model"
    RobertaTokenizer(str(root / "vocab.json"), str(root / "merges.txt")).save_pretrained(model_dir)
    config = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=80),
        audio_config=dict(depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8,
                          hidden_size=64, window_size=8),
        projection_dim=16)
    torch.manual_seed(0)
    ClapModel(config).save_pretrained(model_dir)
    ClapFeatureExtractor(truncation="rand_trunc").save_pretrained(model_dir)
    return model_dir


def test_clap_score_and_fad_clap_run_on_a_local_clap(tiny_clap_dir):
    from bark_omni_eval.embedders.clap import ClapEmbedder
    from bark_omni_eval.metrics.clap_score import compute

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(24_000) * 0.1).astype(np.float32)
    score = compute(audio, 24_000, "[barks] a dog barking", clap_model=str(tiny_clap_dir))["clap_score"]
    assert -1.0 <= score <= 1.0
    assert compute(audio, 24_000, "a dog barking", clap_model=str(tiny_clap_dir))["clap_score"] == pytest.approx(score)
    embedder = ClapEmbedder(str(tiny_clap_dir))
    assert embedder.embed(audio[:4800]).shape == (1, 16)
    texts = embedder.embed_text(["a dog", "rain on a roof"])
    assert np.allclose(np.linalg.norm(texts, axis=1), 1.0)
    spec = fad_metric("fad_clap", ClapEmbedder)
    clips = [Clip((rng.standard_normal(24_000) * 0.1).astype(np.float32), 24_000) for _ in range(3)]
    assert spec.compute(clips=clips, reference_clips=clips, clap_model=str(tiny_clap_dir))["fad"] == pytest.approx(0.0, abs=1e-6)
