"""Do inference precision and the single-query step (docs/fusion.md, designs 13. and 14.) change what the proof reads?

    .venv/bin/python bench/fusion_precision_check.py OUT TASK_SEED

Trains (or reuses) the proof's routed fusion for TASK_SEED, training seed 0, in OUT (``run_proof``), then
generates the probe's "both" condition at default sampling one row at a time (so decoding steps run
``GatedCrossAttention.step``, where the proof's batches run the batch code) twice per sampling seed: (a) float32 steps and a float32 image encoder, what the proof pins;
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

from bark_omni.fusion import FusionModel
from bark_omni.host import Host
from bark_omni.models import load_models
from bark_omni_train import proof
from bark_omni_train.factors import TaskSpec
from bark_omni_train.trainer import ADAPTERS_DIR

ACCURACIES = ("image_accuracy", "rhythm_accuracy", "both_accuracy")


def main(out: Path, task: int) -> None:
    torch.set_num_threads(1)
    proof.run_proof(out, [task], train_seeds=[0], routings=("gated",))
    host = Host(allow=["image", "control", "text"])
    models = load_models(str(out / "base"), host, "cpu")
    spec = TaskSpec.from_seed(task)
    manifest = out / f"task-{task}" / "data" / "manifest.jsonl"
    fusion = FusionModel.from_pretrained(out / f"task-{task}" / "gated-seed0" / ADAPTERS_DIR, host, models).eval()
    rows = proof.ProbeRows.of(models, manifest, spec)

    def one_by_one(seed: int, step: str, encoder: str) -> list[np.ndarray]:
        """The "both" condition at default sampling, one row per generation (batch 1)."""
        fusion.adapters["image"].config["encoder_precision"] = encoder
        return proof.generate(fusion, models, rows.inputs, rows.ids, (), None, seed, spec.tokens, batch=1,
                              step_precision=step)

    report: dict[int, Any] = {}
    for seed in (0, 1, 2):
        t0 = time.perf_counter()
        full, half = one_by_one(seed, "float32", "float32"), one_by_one(seed, "float16", "bfloat16")
        read = lambda sequences: {k: rows.read(sequences)[k] for k in ACCURACIES}  # noqa: E731
        report[seed] = {"identical_sequences": float(np.mean([np.array_equal(a, b) for a, b in zip(full, half)])),
                        "token_agreement": float(np.mean(np.concatenate([np.asarray(a) == np.asarray(b)
                                                                         for a, b in zip(full, half)]))),
                        "float32": read(full), "float16_steps_bf16_encoder": read(half)}
        print(seed, json.dumps(report[seed]), f"{time.perf_counter() - t0:.0f}s", flush=True)
    (out / "precision_check.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
