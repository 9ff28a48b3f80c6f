"""The training-free image route: CLIP zero-shot scores of a scene/sound vocabulary -> a cue prefix."""

from __future__ import annotations

import warnings

import numpy as np

import bark_omni
import bark_omni_image.plugin as image_plugin
from bark_omni import hookimpl
from bark_omni.modality import ModalityBundle
from bark_omni.options import GenerationOptions
from bark_omni.specs import SceneSound
from bark_omni_image.scene import choose, keep_count

TEXT = "Listen to this place."


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48, 3)).astype(np.uint8)


def generate(host, tiny_models, monkeypatch, priorities=None, **inputs):
    from bark_omni import loop

    fed, encode = [], loop.encode_text
    monkeypatch.setattr(loop, "encode_text", lambda tokenizer, text: fed.append(encode(tokenizer, text)) or fed[-1])
    request = bark_omni.build_request(TEXT, modalities=ModalityBundle(inputs, priorities=priorities), seed=2,
                                      model=tiny_models.source, options=GenerationOptions.from_kwargs(max_gen_duration_s=0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bark_omni.run(request, host=host, device="cpu"), fed[0]


def test_priority_sets_how_many_descriptions_are_kept():
    assert [keep_count(p) for p in (0.1, 1, 1.5, 2, 9)] == [1, 2, 3, 4, 4]
    assert choose([0.1, 0.5, 0.3, 0.1], 1) == [1, 2]
    assert choose([0.1, 0.6, 0.2, 0.1], 2) == [1], "a description under half the best one's score is dropped"


class Jungle:
    @hookimpl
    def register_scene_sounds(self, register):
        register(SceneSound("jungle", "a dense jungle", "(monkeys)"))


def test_route_changes_tokens_and_records_descriptions_and_scores(make_host, tiny_models, monkeypatch):
    host = make_host(image_plugin, Jungle())
    plain, plain_ids = generate(host, tiny_models, monkeypatch)
    result, ids = generate(host, tiny_models, monkeypatch, image=picture(0))
    assert not np.array_equal(ids, plain_ids)
    (record,) = result.routes
    assert (record["modality"], record["route"], record["details"]["encoder"]) == ("image", "clip-scene", "tiny")
    chosen = record["details"]["chosen"]
    assert 1 <= len(chosen) <= 2 and all(0 < c["score"] <= 1 for c in chosen)
    assert len(record["details"]["top"]) == 5 and "jungle" in {s.name for s in host.scene_sounds.values()}
    again, _ = generate(host, tiny_models, monkeypatch, image=picture(0))
    assert again.routes == result.routes, "the tiny CLIP is deterministic"
    wide, _ = generate(host, tiny_models, monkeypatch, image=picture(0), priorities={"image": 2})
    assert len(wide.routes[0]["details"]["chosen"]) >= len(chosen)
