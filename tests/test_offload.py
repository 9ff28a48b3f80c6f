"""SUNO_OFFLOAD_CPU through every entry point (generate_audio, api.run, long-form, stream_audio, the drop-in
functions): the same tokens and audio as without it, and at most one GPT stage resident while a stage runs."""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

TEXT = "Good morning to you. The sun is up. Birds are singing now."


def _host():
    from bark_omni.host import Host

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Host(block=["watermark", "guardrails", "provenance"])


class StageWatch:
    """Records every GPT stage the offload policy reads (weak references) and what is alive when a stage runs."""

    def __init__(self, monkeypatch):
        import bark_omni.offload as offload

        self.reads: list[tuple[str, weakref.ref]] = []
        self.alive_at_read: list[list[str]] = []
        self.seen: list[tuple[str, list[str], list[str]]] = []
        original = offload.read_stage

        def read_stage(host, path, fmt, stage, device):
            self.alive_at_read.append(self.alive())
            module = original(host, path, fmt, stage, device)
            self.reads.append((stage, weakref.ref(module)))
            return module

        monkeypatch.setattr(offload, "read_stage", read_stage)

    def alive(self) -> list[str]:
        gc.collect()
        return [stage for stage, ref in self.reads if ref() is not None]

    def progress(self, host):
        from bark_omni.offload import resident_table

        def report(stage, done, total):
            if done > 0 and stage not in [seen[0] for seen in self.seen]:  # once per stage, inside its run
                self.seen.append((stage, self.alive(), [key[3] for key in resident_table(host)]))

        return report


def _generate(host, offload, monkeypatch, **kwargs):
    from bark_omni.api import generate_audio

    monkeypatch.setenv("SUNO_OFFLOAD_CPU", "True" if offload else "False")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate_audio(TEXT, "v2/en_speaker_6", seed=7, model="tiny", host=host, device="cpu",
                              output_full=True, silent=True, max_gen_duration_s=1.0, allow_early_stop=False, **kwargs)


def _same(a, b):
    full_a, audio_a = a
    full_b, audio_b = b
    for key in ("semantic_prompt", "coarse_prompt", "fine_prompt"):
        assert np.array_equal(full_a[key], full_b[key]), key
    assert np.array_equal(audio_a, audio_b)


def test_generate_audio_offloaded_equals_resident_and_holds_one_stage(monkeypatch):
    watch = StageWatch(monkeypatch)
    resident = _generate(_host(), False, monkeypatch)
    assert watch.reads == []  # without the flag the offload policy reads nothing
    import bark_omni.models as models

    stacks = []
    load_models = models.load_models
    monkeypatch.setattr(models, "load_models", lambda *a, **k: stacks.append(a) or load_models(*a, **k))
    host = _host()
    offloaded = _generate(host, True, monkeypatch, progress=watch.progress(host))
    assert stacks == []  # no whole stack was loaded on the offloading host
    _same(resident, offloaded)
    assert [stage for stage, _, _ in watch.seen] == ["semantic", "coarse", "fine"]
    for stage, alive, table in watch.seen:
        expected = {"semantic": "text"}.get(stage, stage)
        assert alive == [expected] and table == [expected], (stage, alive, table)
    assert all(alive == [] for alive in watch.alive_at_read)  # each stage read after the one before it was freed
    assert watch.alive() == []  # and none is left after the run


def test_long_form_and_streaming_offloaded_equal_resident(monkeypatch):
    from bark_omni.streaming import collect, stream_audio

    longform = {"max_words": 8, "stable_mode_interval": 1, "batch_size": 2}
    watch = StageWatch(monkeypatch)
    resident = _generate(_host(), False, monkeypatch, longform=longform)
    offloaded = _generate(_host(), True, monkeypatch, longform=longform)
    _same(resident, offloaded)
    streams = []
    for flag in ("False", "True"):
        monkeypatch.setenv("SUNO_OFFLOAD_CPU", flag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            streams.append(collect(stream_audio(TEXT, "v2/en_speaker_6", seed=7, model="tiny", host=_host(), device="cpu",
                                                max_gen_duration_s=1.0, allow_early_stop=False, longform={"max_words": 8})))
    assert len(streams[0]) > 0 and np.array_equal(streams[0], streams[1])
    assert len(watch.reads) >= 12 and all(alive == [] for alive in watch.alive_at_read)


def test_dropin_functions_share_the_policy(monkeypatch, tiny_model_dir):
    import torch

    import bark_omni.generation as generation

    monkeypatch.setenv("BARK_OMNI_MODEL", str(tiny_model_dir))
    monkeypatch.setattr(generation, "best_device", lambda use_gpu=True: "cpu")
    watch = StageWatch(monkeypatch)
    runs = []
    for flag in ("False", "True"):
        monkeypatch.setenv("SUNO_OFFLOAD_CPU", flag)
        generation.clean_models()
        torch.manual_seed(3)
        semantic = generation.generate_text_semantic("Hello there.", max_gen_duration_s=0.5, silent=True)
        coarse = generation.generate_coarse(semantic, silent=True)
        runs.append((semantic, coarse, generation.codec_decode(generation.generate_fine(coarse))))
        assert generation.models == {} or flag == "False"
    generation.clean_models()
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    assert [stage for stage, _ in watch.reads] == ["text", "coarse", "fine"] and watch.alive() == []


@pytest.mark.parametrize("preset", ["fast"])
def test_speed_presets_convert_the_resident_stage(monkeypatch, preset):
    """A fast preset quantizes the stage brought in: the same tokens as the fast preset without offloading."""
    a = _generate(_host(), False, monkeypatch, speed=preset)
    b = _generate(_host(), True, monkeypatch, speed=preset)
    _same(a, b)
