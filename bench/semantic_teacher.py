"""The self-distillation recipe (``bark-omni semantic train``) proved on a tiny teacher Bark whose coarse stage
passes the semantic tokens on (``bark_omni_semantic.teacher``), next to the plain tiny Bark, whose does not.

For each of the two models: (1) what the coarse stage says about the semantic tokens (``semantic_information``'s
measure, with windows of tokens from the teacher's 16-token set, so both models get the same inputs); (2) the recipe
(``train_quantizer``, unchanged) with the tiny HuBERT, and its held-out token accuracy next to its two baselines.

    .venv/bin/python bench/semantic_teacher.py [--steps 250] [--seconds 1.0] [--clips 48] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semantic_information import entropy, first_token_distributions  # noqa: E402


def information(models, windows: list[np.ndarray], temp: float) -> dict[str, float]:
    p = first_token_distributions(models, windows, temp)
    return {"mutual_information_nats": round(float(entropy(p.mean(0)) - entropy(p).mean()), 4),
            "ceiling_nats": round(math.log(len({int(w[0]) for w in windows})), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch", type=int, default=0, help="clips per step (0: all training clips)")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from bark_omni.host import Host
    from bark_omni.models import load_models
    from bark_omni.tiny import ensure_tiny_model
    from bark_omni_semantic.distill import DistillConfig, split_pairs, train_quantizer
    from bark_omni_semantic.hubert import tiny_hubert_dir
    from bark_omni_semantic.teacher import ensure_teacher_model, teacher_token_set

    host = Host(strict=True)
    tokens = np.asarray(teacher_token_set())
    rng = np.random.default_rng(0)
    windows = [rng.choice(tokens, 50) for _ in range(64)]
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="semantic-teacher-"))
    batch = args.batch or len(split_pairs(args.clips)[0])
    report = {}
    for name, path in (("teacher", ensure_teacher_model()), ("tiny", ensure_tiny_model())):
        models = load_models(path, host, device="cpu")
        config = DistillConfig(model=str(path), clips=args.clips, steps=args.steps, seconds=args.seconds,
                               hidden=args.hidden, lr=args.lr, batch=batch, save_every=args.steps, device="cpu",
                               hubert=str(tiny_hubert_dir()))
        t0 = time.perf_counter()
        figures = train_quantizer(config, out / name, host=host)
        report[name] = {"model": str(path), "fingerprint": models.fingerprint,
                        "coarse_information": information(models, windows, 0.7),
                        **{k: figures[k] for k in ("val_accuracy", "val_majority_rate", "uniform_chance", "val_frames",
                                                   "train_clips", "val_clips", "steps")},
                        "seconds": round(time.perf_counter() - t0, 1)}
    report["config"] = {k: v for k, v in vars(args).items() if k != "out"} | {"batch": batch}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
