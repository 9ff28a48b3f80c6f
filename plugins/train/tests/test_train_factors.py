"""The two-factor proof's parts: the task generator (independent factors, held-out combinations), the balance
term, the frozen-state cache (same losses as without it) and the probe (no default label: an empty sequence
is wrong; planted factors are found, random tokens are not)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from bark_omni_train.factors import DISTRACTOR_CAPTIONS, TaskSpec, make_task, plan_task
from bark_omni_train.objective import FrozenStates, balance_loss, forward_losses, router_z_loss, token_bag_loss
from bark_omni_train.proof import _factors, probe_run


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    spec = replace(TaskSpec.from_seed(7), image_classes=3, rhythm_classes=3, train_per_combo=3, val_per_combo=8,
                   test_per_combo=8)
    manifest = make_task(tmp_path_factory.mktemp("task"), spec)
    return spec, [json.loads(line) for line in manifest.read_text().splitlines()]


def test_tasks_from_seeds_are_valid_and_differ():
    specs = [TaskSpec.from_seed(seed) for seed in range(30)]
    for spec in specs:
        spec.check()
    assert len({(s.image_classes, s.image_style, s.rhythm_classes, s.rhythm_style) for s in specs}) > 5


def test_held_out_combinations_never_reach_training_and_factors_decide_the_targets(task):
    spec, rows = task
    plan = plan_task(spec)
    combos = {split: {(r["meta"]["image_class"], r["meta"]["rhythm_class"]) for r in rows if r["split"] == split}
              for split in ("train", "val", "test")}
    assert combos["test"] == {(a, plan.held_out[a]) for a in range(spec.image_classes)}
    assert not combos["test"] & (combos["train"] | combos["val"])
    assert {a for a, _ in combos["train"]} == set(range(spec.image_classes))  # every factor value is trained
    assert {r for _, r in combos["train"]} == set(range(spec.rhythm_classes))
    for row in rows:
        a, beats = row["meta"]["image_class"], set(_factors(row)["beats"])
        expected = [plan.accent[a] if t in beats else plan.base[a] for t in range(spec.tokens)]
        assert row["semantic"] == expected
        assert len({e["value"] for e in row["control_events"]}) > 1  # strengths are noise, not a class code


def test_a_distractor_caption_changes_nothing_else_and_carries_no_factor(task, tmp_path):
    spec, rows = task
    with_caption = [json.loads(line) for line in make_task(tmp_path, replace(spec, distractor=True)).read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "caption"} for r in with_caption] == rows
    assert all("caption" not in r for r in rows)
    for factor in ("image_class", "rhythm_class"):
        seen = {}
        for row in with_caption:
            seen.setdefault(row["meta"][factor], []).append(row["caption"])
        counts = np.array([[c.count(k) for k in DISTRACTOR_CAPTIONS] for c in seen.values()])
        assert counts.min() >= 1  # every caption comes with every value of both factors: none names one


def test_proof_feeds_the_distractor_as_style_text_and_drops_it_like_the_others(tmp_path):
    from bark_omni_train.examples import row_modalities
    from bark_omni_train.manifest import Row
    from bark_omni_train.proof import proof_config

    config = proof_config(tmp_path / "m.jsonl", tmp_path / "out", tmp_path / "model", 0, "gated", 10, distractor=True)
    assert config.modalities == ["image", "control_events", "style_text"]
    assert config.dropout["style_text"] == config.dropout["image"] > 0
    assert proof_config(tmp_path / "m.jsonl", tmp_path / "out", tmp_path / "model", 0, "gated", 10).modalities == [
        "image", "control_events"]
    row = lambda **kw: Row(line=1, id="r", split="train", domain="d", **kw)  # noqa: E731
    assert row_modalities(row(caption="soft red", semantic=[1, 2]), ["style_text"]) == ("style_text",)
    assert row_modalities(row(caption="soft red", text="hello"), ["style_text"]) == ("style_text",)
    assert row_modalities(row(caption="what the teacher reads"), ["style_text"]) == ()  # the teacher's input


def test_balance_term_is_zero_for_even_use_and_single_modalities():
    present = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    gates = torch.tensor([[0.5, 0.5], [0.9, 0.01], [0.2, 0.7]], requires_grad=True)
    loss = balance_loss(gates, present)
    assert loss[0].item() == pytest.approx(0.0, abs=1e-6) and loss[2].item() == 0.0 and loss[1].item() > 0.5
    loss.sum().backward()
    assert gates.grad[1, 1] < 0 < gates.grad[1, 0]  # descending raises the starved gate, lowers the hog


def test_router_z_term_pulls_runaway_logits_back_and_ignores_absent_modalities():
    present = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    logits = torch.tensor([[3.0, -4.0], [2.0, 500.0], [9.0, 9.0]], requires_grad=True)
    loss = router_z_loss(logits ** 2, present)
    assert loss.tolist() == pytest.approx([12.5, 4.0, 0.0])  # the absent modality's 500 counts for nothing
    loss.sum().backward()
    assert logits.grad[0, 0] > 0 > logits.grad[0, 1] and logits.grad[1, 1] == 0 == logits.grad[2].abs().sum()


def test_a_router_run_away_to_its_bound_no_longer_moves_its_gates():
    """Why the z-term exists: past the soft bound the gates' gradient is gone (docs/fusion.md)."""
    from bark_omni.fusion import gate

    logits = torch.tensor([2.0, 60.0, -1500.0], requires_grad=True)
    gate(logits).sum().backward()
    assert logits.grad[0] > 0.05 and logits.grad[1] < 1e-6 and logits.grad[2] == 0


def test_token_bag_rewards_pooled_tokens_that_point_at_the_targets_tokens_and_skips_other_rows():
    head = torch.randn(50, 16, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([[3, 3, 3, 7, -100], [9, 9, 9, 9, 9], [3, 3, 7, 7, 3], [-100] * 5])
    pooled = torch.stack([head[3], head[20], head[3], head[3]]).clone().requires_grad_(True)
    rows = torch.tensor([True, True, False, True])
    loss = token_bag_loss(pooled, target, rows, head)
    assert loss[0] < loss[1]  # pointing at the target's main token beats pointing elsewhere
    assert loss[2] == 0 and loss[3] == 0  # a row not chosen, a row with no semantic token
    other = token_bag_loss(head[[7, 20, 3, 3]], target, rows, head)
    assert loss[0] < other[0]  # the majority token (3 of 4) is the better guess than the minority one
    loss.sum().backward()
    step = pooled - 0.5 * pooled.grad
    assert token_bag_loss(step, target, rows, head)[1] < loss[1]  # descending moves the pooled tokens towards them
    assert pooled.grad[2].abs().sum() == 0


def test_frozen_state_cache_gives_the_same_losses(toy_host, toy_models, toy_dataset):
    from bark_omni_train.config import TrainConfig
    from bark_omni_train.evaluate import prepare_inputs
    from bark_omni_train.examples import ExampleBuilder, collate
    from bark_omni_train.manifest import read_manifest
    from bark_omni_train.targets import TargetStore
    from bark_omni.fusion import FusionModel

    rows = read_manifest(toy_dataset)
    config = TrainConfig(manifest=str(toy_dataset), modalities=["image", "control_events"], model="tiny")
    builder = ExampleBuilder(rows, TargetStore(toy_dataset.parent / "cache"), toy_models.tokenizer, config)
    model = FusionModel.initialise(toy_host, toy_models, ["image", "control_events"], seed=2)
    with torch.no_grad():
        for layer in model.fusion.cross["semantic"].values():
            layer.gate.fill_(1.0)
    examples = [builder.build(i, train=False) for i in range(4)]
    batch, prepared = collate(examples), prepare_inputs(model, examples)
    plain = forward_losses(model, toy_models, prepared, [{}] * 4, batch).semantic
    frozen = FrozenStates(capacity=8)
    first = forward_losses(model, toy_models, prepared, [{}] * 4, batch, frozen).semantic
    assert len(frozen.rows) == 4
    again = forward_losses(model, toy_models, prepared, [{}] * 4, batch, frozen).semantic  # from the cache
    torch.testing.assert_close(first, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, plain, rtol=1e-5, atol=1e-5)
    # scheduled sampling: the drawing pass may use the cache, the scored pass sees the drawn inputs, with gradient
    from bark_omni_train.objective import HistoryNoise

    torch.manual_seed(0)
    sampled = forward_losses(model, toy_models, prepared, [{}] * 4, batch, frozen, HistoryNoise(sampled=1.0))
    assert bool(torch.isfinite(sampled.semantic).all()) and not torch.allclose(sampled.semantic, plain)
    sampled.semantic.sum().backward()
    assert model.fusion.cross["semantic"][str(min(int(k) for k in model.fusion.cross["semantic"]))].q.weight.grad is not None
    # the router z-term reaches the loss through the objective, and only with a weight
    from bark_omni_train.objective import FusionObjective, Normalisers

    norm = Normalisers(semantic_rows=4, coarse_rows=0, rows=4, chunks=1, world_size=1)
    parts = FusionObjective(model, toy_models, config).eval()(prepared, [{}] * 4, batch, norm)
    out = forward_losses(model, toy_models, prepared, [{}] * 4, batch)
    expected = router_z_loss(out.logit_squares, out.present).mean()
    assert float(parts["router_z"]) == pytest.approx(float(expected)) and float(parts["router_z"]) > 0
    off = FusionObjective(model, toy_models, replace(config, router_z_weight=0.0)).eval()(prepared, [{}] * 4, batch, norm)
    assert float(off["router_z"]) == 0.0
    # it covers each layer's per-query term too, which can saturate a gate while the context logits stay near 0
    context = model.encode(prepared, [{}] * 4).routing.logits
    assert float(expected) == pytest.approx(float(router_z_loss(context ** 2, out.present).mean()), rel=1e-5)
    routes = [layer.route for layer in model.fusion.cross["semantic"].values()]
    with torch.no_grad():
        for route in routes:
            route.weight.normal_(0, 0.5)
    model.zero_grad()
    out = forward_losses(model, toy_models, prepared, [{}] * 4, batch)
    z = router_z_loss(out.logit_squares, out.present).mean()
    assert float(z) > 4 * float(expected)
    z.backward()
    assert all(float(route.weight.grad.abs().sum()) > 0 for route in routes)


def _sequences(rows, make):
    return [(make(row), _factors(row)) for row in rows]


def test_probe_finds_planted_factors_and_abstains_on_nothing(task):
    spec, rows = task
    E = np.random.default_rng(0).normal(size=(10_000, 32))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    fit = [r for r in rows if r["split"] == "val"]
    test = [r for r in rows if r["split"] == "test"]
    plan = plan_task(spec)
    classes = {**{t: c for c, t in enumerate(plan.base)}, **{t: c for c, t in enumerate(plan.accent)}}
    perfect = probe_run(E, _sequences(fit, lambda r: np.array(r["semantic"])), _sequences(test, lambda r: np.array(r["semantic"])),
                        classes)
    assert perfect["image_accuracy"] > 0.9 and perfect["rhythm_accuracy"] > 0.7 and perfect["beat_auc"] > 0.95
    assert perfect["image_token_accuracy"] == 1.0
    rng = np.random.default_rng(1)
    noise = lambda r: rng.integers(0, 10_000, spec.tokens)  # noqa: E731
    random = probe_run(E, _sequences(fit, noise), _sequences(test, noise), classes)
    assert random["image_accuracy"] < 0.7 and abs(random["beat_auc"] - 0.5) < 0.1 and random["image_token_accuracy"] < 0.5
    empty = probe_run(E, _sequences(fit, lambda r: np.array(r["semantic"])), _sequences(test, lambda r: np.array([], dtype=np.int64)),
                      classes)
    assert empty["image_accuracy"] == empty["rhythm_accuracy"] == empty["image_token_accuracy"] == 0.0
    assert empty["abstained"] == len(test)
    assert "image_token_accuracy" not in probe_run(E, _sequences(fit, noise), _sequences(test, noise))


def test_sampled_history_draws_from_the_model_where_chosen_and_keeps_pads():
    from bark_omni.constants import SEMANTIC_PAD_TOKEN, SEMANTIC_VOCAB_SIZE
    from bark_omni_train.objective import sample_history

    tokens = torch.randint(0, 10_000, (4, 300), generator=torch.Generator().manual_seed(0))
    tokens[:, 250:] = SEMANTIC_PAD_TOKEN
    logits = torch.full((4, 301, SEMANTIC_VOCAB_SIZE + 1), -30.0)
    logits[..., 1234] = 0.0
    logits[..., SEMANTIC_VOCAB_SIZE] = 30.0  # the end token: never drawn into the history
    assert torch.equal(sample_history(logits, tokens, 0.0), tokens)
    torch.manual_seed(1)
    mixed = sample_history(logits, tokens, 0.3)
    changed = mixed != tokens
    assert 0.25 < float(changed[:, :250].float().mean()) < 0.35
    assert bool((mixed[changed] == 1234).all()) and torch.equal(mixed[:, 250:], tokens[:, 250:])
    assert bool((sample_history(logits, tokens, 1.0)[:, :250] == 1234).all())


def test_the_answer_key_names_the_majority_class_and_nothing_on_a_tie_or_no_class_token():
    from bark_omni_train.proof import token_class

    classes = {10: 0, 11: 0, 20: 1, 30: 2}
    assert token_class(np.array([10, 11, 20, 5, 5, 5]), classes) == 0
    assert token_class(np.array([30, 7, 30, 20]), classes) == 2
    assert token_class(np.array([10, 20, 5]), classes) is None  # a tie
    assert token_class(np.array([5, 6, 7]), classes) is None


def test_hidden_history_replaces_about_the_rate_of_tokens_with_the_pad_token_and_nothing_else():
    from bark_omni.constants import SEMANTIC_PAD_TOKEN
    from bark_omni_train.objective import hide_history

    tokens = torch.randint(0, 10_000, (8, 500), generator=torch.Generator().manual_seed(0))
    assert torch.equal(hide_history(tokens, 0.0), tokens)
    torch.manual_seed(1)
    hidden = hide_history(tokens, 0.5)
    changed = hidden != tokens
    assert 0.45 < float(changed.float().mean()) < 0.55
    assert bool((hidden[changed] == SEMANTIC_PAD_TOKEN).all())


def test_the_image_probe_does_not_read_the_class_off_the_beat_rate(tmp_path):
    """Two rhythms, so in the val rows each class comes with one rhythm only; the held-out rows of a class have
    another beat rate (here half their frames are accents) and a third of all tokens are noise: the class is
    still named from the tokens themselves, not from how often the accent comes."""
    spec = replace(TaskSpec.from_seed(9), image_classes=4, rhythm_classes=2, train_per_combo=1, val_per_combo=8,
                   test_per_combo=8)
    rows = [json.loads(line) for line in make_task(tmp_path, spec).read_text().splitlines()]
    plan = plan_task(spec)
    E = np.random.default_rng(0).normal(size=(10_000, 32))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    rng = np.random.default_rng(2)

    def noisy(row, accent_rate=None):
        c = row["meta"]["image_class"]
        tokens = np.array(row["semantic"])
        if accent_rate is not None:
            tokens = np.where(rng.random(len(tokens)) < accent_rate, plan.accent[c], plan.base[c])
        return np.where(rng.random(len(tokens)) < 1 / 3, rng.integers(0, 10_000, len(tokens)), tokens)

    fit = _sequences([r for r in rows if r["split"] == "val"], noisy)
    test = _sequences([r for r in rows if r["split"] == "test"], lambda r: noisy(r, 0.5))
    assert probe_run(E, fit, test)["image_accuracy"] > 0.9


def test_encoder_ceiling_separates_colour_classes_and_not_noise(tmp_path, tiny_models):
    """The proof's reference for the image factor: a linear probe on the frozen encoder's features, train rows
    -> test rows. Colour classes are separable; with the class labels shuffled, the probe is near chance."""
    import bark_omni
    from bark_omni.fusion import FusionModel
    from bark_omni_train.proof import encoder_ceiling

    spec = replace(TaskSpec.from_seed(5), image_classes=4, image_style="colour", rhythm_classes=3,
                   train_per_combo=4, val_per_combo=1, test_per_combo=6)
    manifest = make_task(tmp_path / "task", spec)
    host = bark_omni.Host(strict=True, allow=["image", "control"])
    adapters = FusionModel.initialise(host, tiny_models, ["image"], adapter_config={"image": {"encoder": "tiny"}})
    adapters.save_pretrained(tmp_path / "adapters")
    separable = encoder_ceiling(tmp_path / "adapters", tiny_models, host, manifest)
    assert separable > 0.75
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rng = np.random.default_rng(0)
    for row in rows:
        row["meta"]["image_class"] = int(rng.integers(spec.image_classes))
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    shuffled = encoder_ceiling(tmp_path / "adapters", tiny_models, host, manifest)
    assert shuffled < 0.6


def test_proof_tables_show_every_condition_with_intervals(task):
    from bark_omni_train.proof import markdown, summarise

    spec, _ = task
    run = lambda image, token: {"image_accuracy": image, "rhythm_accuracy": 0.9, "both_accuracy": image,  # noqa: E731
                                  "image_token_accuracy": token, "beat_auc": 0.8, "target_match": None, "abstained": 0,
                                  "rows": 8}
    per_seed = [{"both/default": [run(0.8, 0.1), run(0.6, 0.2)], "control_only/default": [run(0.1, 0.9), run(0.2, 0.8)]}]
    report = {"tasks": {"7": {"spec": {**spec.__dict__}, "image_encoder_ceiling": 0.7,
                              "gated": {"train_seeds": [0], "probe": summarise(per_seed, spec)}}}}
    lines = markdown(report).splitlines()
    both = next(line for line in lines if line.startswith("| both | default"))
    control = next(line for line in lines if line.startswith("| control_only | default"))
    assert both.split(" | ")[2:] == ["0.70 ± 1.27", "0.90 ± 0.00", "0.70 ± 1.27", "0.80 ± 0.00", "0.15 ± 0.64", "2 |"]
    assert control.split(" | ")[2] == "0.15 ± 0.64" and control.split(" | ")[6] == "0.85 ± 0.64"
    assert "**Task 7**" in lines[0] and "0.70" in lines[0] and not any(line.startswith("| none") for line in lines)
    assert "image encoder: the tiny CLIP, random;" in lines[0]  # a report from before the choice
    report["tasks"]["7"]["image_encoder"] = "pretrained"
    assert "image encoder: the tiny CLIP, pretrained;" in markdown(report).splitlines()[0]
