"""Teacher-forced reading of a trained fusion on a two-factor task (``bark-omni proof``'s tasks): per condition
(both, image only, control only, none), on one split's rows, the probability of the row's class accent token at
beat frames, of its base token elsewhere, the accent-minus-base logit margin and the cross-entropy, at beats and
off beats (probabilities at temperature 0.7, Bark's default).

    .venv/bin/python bench/fusion_teacher_forced.py PROOF/task-N PROOF/task-N/gated-seed0 [--split test]

PROOF is a ``bark-omni proof`` output folder (its ``base`` holds the proof's model). Teacher forcing feeds the
true previous frames, so the class can also be read from them: use the proof's probe for generated tokens.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from bark_omni import loop as gen
from bark_omni.constants import SEMANTIC_INFER_TOKEN, SEMANTIC_PAD_TOKEN
from bark_omni.fusion import FusionModel
from bark_omni.host import Host
from bark_omni.modality import ModalityBundle
from bark_omni.models import load_models

TEMP = 0.7


def read(task: Path, run: Path, split: str) -> dict[str, dict[str, float]]:
    from bark_omni_train.media import load_image
    from bark_omni_train.proof import CONDITIONS, _factors

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = Host(allow=["image", "control"])
    models = load_models(str(task.parent / "base"), host, "cpu")
    plan = json.loads((task / "data/task.json").read_text())["plan"]
    fusion = FusionModel.from_pretrained(run / "adapters", host, models).eval()
    rows = [json.loads(line) for line in (task / "data/manifest.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == split]
    wte = models.text.transformer.wte
    out = {}
    for name, drop in CONDITIONS.items():
        acc: dict[str, list[float]] = {}
        for start in range(0, len(rows), 32):
            chunk = rows[start:start + 32]
            inputs = [{"image": np.asarray(load_image(task / "data" / r["image"])), "control_events": r["control_events"]} for r in chunk]
            bundles = [ModalityBundle(**{m: v for m, v in row.items() if m not in drop}) for row in inputs]
            cond = fusion.conditioning(bundles).for_stage("semantic") if len(drop) < 2 else None
            target = torch.tensor([r["semantic"] for r in chunk])
            text = torch.tensor(np.stack([gen.empty_text()] * len(chunk)))
            emb = torch.cat([wte(text) + wte(torch.full_like(text, SEMANTIC_PAD_TOKEN)),
                             wte(torch.full((len(chunk), 1), SEMANTIC_INFER_TOKEN)), wte(target[:, :-1])], 1)
            with torch.no_grad():
                logp = torch.log_softmax(gen.gpt_forward(models.text, emb, slice(0, 10_001), cond, first=text.shape[1]) / TEMP, -1)
            for j, row in enumerate(chunk):
                c = row["meta"]["image_class"]
                on = torch.zeros(target.shape[1], dtype=torch.bool)
                on[[b for b in _factors(row)["beats"] if b < target.shape[1]]] = True
                a, b = logp[j][:, plan["accent"][c]], logp[j][:, plan["base"][c]]
                ce = -logp[j].gather(1, target[j][:, None])[:, 0]
                for key, value in {"p_accent_beats": a.exp()[on], "p_base_off": b.exp()[~on], "margin_beats": (a - b)[on],
                                   "margin_off": (a - b)[~on], "ce_beats": ce[on], "ce_off": ce[~on]}.items():
                    acc.setdefault(key, []).append(float(value.mean()))
        out[name] = {k: round(float(np.mean(v)), 3) for k, v in acc.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = read(args.task, args.run, args.split)
    keys = list(next(iter(result.values())))
    print("| condition | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, values in result.items():
        print(f"| {name} | " + " | ".join(f"{values[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
