"""Does inference precision (docs/fusion.md, design 13.) change what the proof reads?

    .venv/bin/python bench/fusion_precision_check.py OUT TASK_SEED

Trains (or reuses) the proof's routed fusion for TASK_SEED, training seed 0, in OUT (``run_proof``), then
generates the probe's "both" condition at default sampling one row at a time (so decoding steps take the
float16 path) twice per sampling seed: (a) float32 steps and a float32 image encoder, what the proof pins;
(b) float16 steps and a bf16 image encoder (``step_precision="float16"``, ``encoder_precision="bfloat16"``).
Prints per sampling seed the share of identical sequences, the token agreement and the probe's accuracies of
both; writes OUT/precision_check.json. About 12 min per task on one thread (10 of them training)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bark_omni import loop as gen
from bark_omni.fusion import FusionModel
from bark_omni.host import Host
from bark_omni.modality import ModalityBundle
from bark_omni.models import load_models
from bark_omni_train import proof
from bark_omni_train.factors import FRAME_HZ, TaskSpec, plan_task
from bark_omni_train.media import load_image, stable_seed
from bark_omni_train.trainer import ADAPTERS_DIR

ACCURACIES = ("image_accuracy", "rhythm_accuracy", "both_accuracy")


def generate_one_by_one(fusion: FusionModel, models: Any, rows: list[dict], data: Path, tokens: int, seed: int,
                        step: str, encoder: str) -> list[np.ndarray]:
    """The "both" condition's sequences, one row per generation (batch 1), at Bark's default sampling."""
    fusion.adapters["image"].config["encoder_precision"] = encoder
    out: list[np.ndarray] = []
    for row in rows:
        bundle = ModalityBundle(image=np.asarray(load_image(data / row["image"])), control_events=row["control_events"])
        conditioning = fusion.conditioning([bundle], step_precision=step).for_stage("semantic")
        generator = torch.Generator().manual_seed(stable_seed(seed, "probe", row["id"]))
        out += gen.generate_semantic_batch(models.text, [gen.empty_text()], temp=0.7, top_k=None, allow_early_stop=False,
                                           max_gen_duration_s=(tokens - 0.5) / FRAME_HZ, generators=[generator],
                                           conditioning=conditioning)
    return out


def main(out: Path, task: int) -> None:
    torch.set_num_threads(1)
    proof.run_proof(out, [task], train_seeds=[0], routings=("gated",))
    host = Host(allow=["image", "control", "text"])
    models = load_models(str(out / "base"), host, "cpu")
    spec = TaskSpec.from_seed(task)
    manifest = out / f"task-{task}" / "data" / "manifest.jsonl"
    fusion = FusionModel.from_pretrained(out / f"task-{task}" / "gated-seed0" / ADAPTERS_DIR, host, models).eval()
    E = models.text.lm_head.weight[:10_000].detach().numpy()
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    rows = [r for r in proof._rows(manifest) if r["split"] in ("val", "test")]
    plan = plan_task(spec)
    classes = {**{t: c for c, t in enumerate(plan.base)}, **{t: c for c, t in enumerate(plan.accent)}}

    def probe(sequences: list[np.ndarray]) -> dict[str, float]:
        fit = [(s, proof._factors(r)) for s, r in zip(sequences, rows) if r["split"] == "val"]
        test = [(s, proof._factors(r)) for s, r in zip(sequences, rows) if r["split"] == "test"]
        result = proof.probe_run(E, fit, test, classes)
        return {k: result[k] for k in ACCURACIES}

    report: dict[int, Any] = {}
    for seed in (0, 1, 2):
        t0 = time.perf_counter()
        full = generate_one_by_one(fusion, models, rows, manifest.parent, spec.tokens, seed, "float32", "float32")
        half = generate_one_by_one(fusion, models, rows, manifest.parent, spec.tokens, seed, "float16", "bfloat16")
        report[seed] = {"identical_sequences": float(np.mean([np.array_equal(a, b) for a, b in zip(full, half)])),
                        "token_agreement": float(np.mean(np.concatenate([np.asarray(a) == np.asarray(b)
                                                                         for a, b in zip(full, half)]))),
                        "float32": probe(full), "float16_steps_bf16_encoder": probe(half)}
        print(seed, json.dumps(report[seed]), f"{time.perf_counter() - t0:.0f}s", flush=True)
    (out / "precision_check.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
