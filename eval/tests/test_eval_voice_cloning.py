"""The voice-cloning suite runs its three conditions on the tiny model and scores each against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from bark_omni_eval.voice_cloning import CONDITIONS, voice_cloning


def test_voice_cloning_suite_on_the_tiny_model(tiny_host, tiny_models):
    pytest.importorskip("bark_omni_semantic")
    pytest.importorskip("resemblyzer")
    rate = 24_000
    t = np.arange(int(2.5 * rate)) / rate
    reference = (0.3 * np.sin(2 * np.pi * 150 * t) * (1.1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    report = voice_cloning((reference, rate), "Hello there.", model=tiny_models.source, seeds=[0], host=tiny_host,
                           device="cpu", generation={"max_gen_duration_s": 0.6})
    summary = report.summary()
    assert report.semantic_tokenizer == "hubert-quantizer" and report.preset.startswith("v2/")
    assert set(summary["mean_similarity"]) == set(CONDITIONS)
    assert all(-1.0 <= v <= 1.0 for v in summary["mean_similarity"].values())
    assert len({round(v, 6) for v in summary["mean_similarity"].values()}) == 3, "three different generations"
