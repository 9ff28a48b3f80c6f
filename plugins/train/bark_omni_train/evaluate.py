"""What training is judged by: validation losses with each modality present and ablated, the routing weights
of absent modalities, and a prompt-ablation probe on generated tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from bark_omni.constants import SEMANTIC_RATE_HZ, SEMANTIC_VOCAB_SIZE

from .examples import Example, ExampleBuilder, collate
from .media import stable_seed
from .objective import forward_losses

if TYPE_CHECKING:  # pragma: no cover
    from bark_omni.fusion import FusionModel
    from bark_omni.models import BarkModels

    from .config import TrainConfig


def prepare_inputs(fusion: FusionModel, examples: Sequence[Example], cache: dict[tuple[str, str], Any] | None = None) -> dict[str, list[Any]]:
    """``FusionModel.prepare`` for examples, reusing frozen-encoder outputs of inputs that never change."""
    prepared: dict[str, list[Any]] = {}
    for modality in fusion.config.modalities:
        values: list[Any] = []
        for example in examples:
            if modality not in example.inputs:
                values.append(None)
                continue
            key = (example.row_id, modality)
            cacheable = cache is not None and modality in example.cacheable
            if cacheable and key in cache:
                values.append(cache[key])
                continue
            with torch.no_grad():
                value = fusion.adapters[modality].prepare(example.inputs[modality])
            if cacheable:
                cache[key] = value
            values.append(value)
        if any(v is not None for v in values):
            prepared[modality] = values
    return prepared


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


@torch.no_grad()
def validate(fusion: FusionModel, bark: BarkModels, builder: ExampleBuilder, indices: Sequence[int],
             config: TrainConfig, device: Any, cache: dict | None = None) -> dict[str, Any]:
    """Cross-entropy per stage with all modalities, each one removed, and none; the mean gate each present
    modality gets (over layers and queries), alone and with the others (``routing``)."""
    was_training = fusion.training
    fusion.eval()
    modalities = list(config.modalities)
    conditions = {"all": (), **{f"without_{m}": (m,) for m in modalities}, "none": tuple(modalities)}
    result: dict[str, Any] = {"rows": len(indices)}
    routing: dict[str, dict[str, list[float]]] = {m: {"alone": [], "with_others": []} for m in modalities}
    for name, drop in conditions.items():
        losses: dict[str, list[float]] = {"semantic": [], "coarse": []}
        for start in range(0, len(indices), config.micro_batch_size):
            examples = [builder.build(i, train=False, drop=drop) for i in indices[start:start + config.micro_batch_size]]
            batch = collate(examples).to(device)
            prepared = prepare_inputs(fusion, examples, cache)
            out = forward_losses(fusion, bark, prepared, [{} for _ in examples], batch)
            for stage in ("semantic", "coarse"):
                values = getattr(out, stage)
                if values is not None:
                    losses[stage] += values.float().cpu().tolist()
            if out.gates is not None:
                gates, present = out.gates.float().cpu(), out.present.cpu()
                for m_index, m in enumerate(modalities):
                    for row in range(len(examples)):
                        if present[row, m_index] > 0:
                            key = "with_others" if present[row].sum() > 1 else "alone"
                            routing[m][key].append(float(gates[row, m_index]))
        for stage, values in losses.items():
            if values:
                result.setdefault(f"ce_{stage}", {})[name] = _mean(values)
    result["routing"] = {m: {k: _mean(v) for k, v in kinds.items()} for m, kinds in routing.items()}
    fusion.train(was_training)
    return result


def token_histogram(tokens: np.ndarray) -> np.ndarray:
    hist = np.bincount(np.asarray(tokens, dtype=np.int64).clip(0, SEMANTIC_VOCAB_SIZE - 1), minlength=SEMANTIC_VOCAB_SIZE)
    hist = hist.astype(np.float64)
    norm = np.linalg.norm(hist)
    return hist / norm if norm > 0 else hist


class NearestCentroid:
    """The simplest classifier of token sequences: cosine similarity of bag-of-token histograms to each
    class's mean target histogram."""

    def __init__(self, sequences: Sequence[np.ndarray], labels: Sequence[str]) -> None:
        self.labels = sorted(set(labels))
        self.centroids = np.stack([
            np.mean([token_histogram(s) for s, lab in zip(sequences, labels) if lab == label], axis=0)
            for label in self.labels
        ])

    def predict(self, tokens: np.ndarray) -> str | None:
        """The nearest class, or None (an abstention, scored as wrong) when the evidence ties, e.g. a sequence
        sharing no token with any class: there is no default label."""
        scores = self.centroids @ token_histogram(tokens)
        best = np.flatnonzero(scores >= scores.max() - 1e-12)
        return self.labels[int(best[0])] if len(best) == 1 else None


@torch.no_grad()
def probe(fusion: FusionModel, bark: BarkModels, builder: ExampleBuilder, train_indices: Sequence[int],
          val_indices: Sequence[int], config: TrainConfig) -> dict[str, Any]:
    """Generate semantic tokens for labelled validation rows with only one modality, and with nothing; a
    nearest-centroid classifier fitted on the training targets names each row's class from the tokens (a
    sequence sharing no token with any class is an abstention and counts as wrong). Also reported: the share
    of generated tokens that occur in the row's class targets. A quick check during training; the two-factor
    proof with intervals is ``proof.run_proof``."""
    from bark_omni import loop as gen
    from bark_omni.modality import ModalityBundle

    cfg = config.probe
    train = [(builder.rows[i], builder.load_targets(i).semantic) for i in train_indices if builder.rows[i].label]
    if not cfg.modalities or not train:
        return {}
    classifier = NearestCentroid([t for _, t in train], [r.label for r, _ in train])
    counts = {label: sum(1 for r, _ in train if r.label == label) for label in classifier.labels}
    vocab = {label: {int(t) for r, seq in train if r.label == label for t in seq} for label in classifier.labels}
    out: dict[str, Any] = {"classes": classifier.labels, "chance": 1 / len(classifier.labels), "tokens": cfg.tokens,
                           "majority_rate": max(counts.values()) / sum(counts.values())}
    was_training = fusion.training
    fusion.eval()
    for modality in cfg.modalities:
        rows = [i for i in val_indices if builder.rows[i].label and modality in builder.row_modalities(i)][: cfg.max_rows]
        conditionings = {i: fusion.conditioning([ModalityBundle(**{modality: builder.input_of(i, modality)})])
                         for i in rows}
        for top_k in cfg.top_ks:
            hits = {"with": 0, "without": 0}
            abstained = {"with": 0, "without": 0}
            in_class = {"with": 0, "without": 0}  # generated tokens that belong to the row's class targets
            examples = []
            for i in rows:
                row = builder.rows[i]
                for key, cond in (("with", conditionings[i].for_stage("semantic")), ("without", None)):
                    generator = torch.Generator(device=bark.device).manual_seed(stable_seed(config.seed, "probe", row.id))
                    tokens = gen.generate_semantic(
                        bark.text, builder.text_of(i), temp=cfg.temp, top_k=top_k or None, allow_early_stop=False,
                        max_gen_duration_s=(cfg.tokens - 0.5) / SEMANTIC_RATE_HZ, generator=generator, conditioning=cond)
                    predicted = classifier.predict(tokens)
                    hits[key] += int(predicted == row.label)
                    abstained[key] += int(predicted is None)
                    in_class[key] += sum(int(t) in vocab[row.label] for t in tokens)
                    if len(examples) < 4:
                        examples.append({"id": row.id, "label": row.label, "condition": key, "predicted": predicted,
                                         "tokens": tokens[:12].tolist()})
            n = max(len(rows), 1)
            out[f"{modality}/top_k={top_k or 'none'}"] = {
                "modality": modality, "top_k": top_k or None, "temp": cfg.temp, "rows": len(rows),
                "accuracy_with": hits["with"] / n, "accuracy_without": hits["without"] / n,
                "abstained_with": abstained["with"], "abstained_without": abstained["without"],
                "class_token_rate_with": in_class["with"] / (n * cfg.tokens),
                "class_token_rate_without": in_class["without"] / (n * cfg.tokens), "examples": examples}
    fusion.train(was_training)
    return out
