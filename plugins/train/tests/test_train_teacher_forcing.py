"""Teacher forcing computes what generation computes: ``gpt_forward`` gives, at every position, the logits
``gpt_step`` gives one step at a time (conditioning included, timed tokens too), and batches lay tokens out
exactly as Bark's loops feed them."""

from __future__ import annotations

import numpy as np
import torch

from bark_omni import loop as gen
from bark_omni.constants import (CODEBOOK_SIZE, COARSE_INFER_TOKEN, SEMANTIC_INFER_TOKEN, SEMANTIC_PAD_TOKEN,
                                 SEMANTIC_VOCAB_SIZE)
from bark_omni.fusion import FusionModel
from bark_omni.modality import ModalityBundle
from bark_omni_train.examples import Example, collate
from bark_omni_train.objective import COARSE_ROWS, SEMANTIC_ROWS


def open_model(toy_host, toy_models):
    model = FusionModel.initialise(toy_host, toy_models, ["image", "control_events"], seed=1,
                                   adapter_config={"image": {"stages": ["semantic", "coarse"]}})
    with torch.no_grad():
        for stage in model.fusion.cross.values():
            for layer in stage.values():
                layer.gate.fill_(1.5)
    return model


def stepwise(model: torch.nn.Module, emb: torch.Tensor, first: int, rows: slice, cond) -> torch.Tensor:
    cache = gen.KVCache(model)
    logits = [gen.gpt_step(model, emb[:, : first + 1], cache, rows, cond)]
    for t in range(first + 1, emb.shape[1]):
        logits.append(gen.gpt_step(model, emb[:, t:t + 1], cache, rows, cond))
    return torch.stack(logits, dim=1)


def test_gpt_forward_equals_stepwise_generation_with_conditioning(toy_host, toy_models):
    model = open_model(toy_host, toy_models)
    image = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    events = [{"time_s": 0.04, "kind": "beat", "value": 0.5}, {"time_s": 0.1, "kind": "beat", "value": 0.5}]
    cond = model.conditioning([ModalityBundle(image=image, control_events=events)])
    assert cond.context.timeline is not None  # the toy control token is timed: the position-aware path runs
    text_model, coarse_model = toy_models.text, toy_models.coarse
    tokens = torch.tensor([[5, 17, 9999, 42, 7]])
    with torch.no_grad():
        wte = text_model.transformer.wte
        text = torch.from_numpy(gen.encode_text(toy_models.tokenizer, "hello world"))[None]
        emb = torch.cat([wte(text) + wte(torch.full_like(text, SEMANTIC_PAD_TOKEN)),
                         wte(torch.tensor([[SEMANTIC_INFER_TOKEN]])), wte(tokens)], dim=1)
        sem_cond = cond.for_stage("semantic")
        full = gen.gpt_forward(text_model, emb, SEMANTIC_ROWS, sem_cond, first=256)
        torch.testing.assert_close(full, stepwise(text_model, emb, 256, SEMANTIC_ROWS, sem_cond), rtol=1e-4, atol=1e-4)
        assert not torch.allclose(full, gen.gpt_forward(text_model, emb, SEMANTIC_ROWS, None, first=256), atol=1e-3)

        window = torch.full((1, 256), 12_048)
        window[0, :5] = tokens
        coarse_tokens = torch.tensor([[SEMANTIC_VOCAB_SIZE + 3, SEMANTIC_VOCAB_SIZE + CODEBOOK_SIZE + 8, SEMANTIC_VOCAB_SIZE + 1]])
        emb = coarse_model.transformer.wte(torch.cat([window, torch.tensor([[COARSE_INFER_TOKEN]]), coarse_tokens], dim=1))
        coarse_cond = cond.for_stage("coarse")
        assert coarse_cond is not None
        full = gen.gpt_forward(coarse_model, emb, COARSE_ROWS, coarse_cond, first=256)
        torch.testing.assert_close(full, stepwise(coarse_model, emb, 256, COARSE_ROWS, coarse_cond), rtol=1e-4, atol=1e-4)


def test_batches_lay_tokens_out_as_barks_loops_do():
    codes = np.array([[1, 2, 3], [4, 5, 6]])
    semantic = np.array([10, 11, 12, 13])
    example = Example(slot=0, row_id="a", label=None, text=np.zeros(256, dtype=np.int64), semantic=semantic,
                      semantic_eos=True, coarse=codes, inputs={})
    short = Example(slot=1, row_id="b", label=None, text=np.zeros(256, dtype=np.int64), semantic=semantic[:2],
                    semantic_eos=False, coarse=None, inputs={})
    batch = collate([example, short])
    assert batch.semantic_target.tolist() == [[10, 11, 12, 13, SEMANTIC_VOCAB_SIZE], [10, 11, -100, -100, -100]]
    assert batch.semantic_in.tolist() == [[10, 11, 12, 13], [10, SEMANTIC_PAD_TOKEN, SEMANTIC_PAD_TOKEN, SEMANTIC_PAD_TOKEN]]
    flat = gen._flatten_codebooks(codes) + SEMANTIC_VOCAB_SIZE  # how generate_coarse's history holds codes
    assert batch.coarse_in[0].tolist() == flat[:-1].tolist()
    assert batch.coarse_target[0].tolist() == [1, 4, 2, 5, 3, 6]
    assert batch.coarse_target[1].tolist() == [-100] * 6
    assert batch.coarse_window[0, :4].tolist() == semantic.tolist() and batch.coarse_window[0, 4] == 12_048
