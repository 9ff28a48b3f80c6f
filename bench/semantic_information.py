"""How much a model's coarse stage (and so its audio) says about the semantic tokens it was given: the ceiling of
any quantizer distilled from that model (``bark-omni semantic train``).

For K semantic windows (uniform random tokens, or the model's own semantic generations), the coarse stage's
distribution of its first token at temperature T is computed from the window alone (no history). Reported:
``mutual_information_nats`` = H(mean p) - mean H(p), the information the first coarse token carries about which
of the K windows was given (at most ln K and ln 1024), next to ln 1024; and the fraction of coarse tokens that
stay the same when the window is swapped for another while the sampling seed is kept (``same_tokens_swapped``).

    .venv/bin/python bench/semantic_information.py --model tiny [--windows 64] [--temp 0.7]
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch


def first_token_distributions(models, windows: list[np.ndarray], temp: float) -> torch.Tensor:
    from bark_omni import loop as gen
    from bark_omni.constants import COARSE_INFER_TOKEN, COARSE_SEMANTIC_PAD_TOKEN, SEMANTIC_VOCAB_SIZE

    model = models.coarse
    rows = []
    for window in windows:
        ids = np.full(256, COARSE_SEMANTIC_PAD_TOKEN, dtype=np.int64)
        ids[: len(window)] = window[:256]
        rows.append(np.concatenate([ids, [COARSE_INFER_TOKEN]]))
    x = torch.tensor(np.stack(rows), dtype=torch.long)
    with torch.no_grad():
        logits = gen.gpt_forward(model, model.transformer.wte(x), slice(SEMANTIC_VOCAB_SIZE, SEMANTIC_VOCAB_SIZE + 1024),
                                 first=x.shape[1] - 1)[:, 0]
    return torch.softmax(logits.double() / temp, dim=-1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-300))).sum(-1)


def swapped_agreement(models, a: np.ndarray, b: np.ndarray, temp: float, seed: int) -> float:
    from bark_omni import loop as gen

    runs = [gen.generate_coarse(models.coarse, s, temp=temp, generator=torch.Generator().manual_seed(seed)) for s in (a, b)]
    return float((runs[0] == runs[1]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--length", type=int, default=50, help="semantic tokens per window (1 s)")
    parser.add_argument("--temp", type=float, default=0.7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from bark_omni.host import Host
    from bark_omni.models import load_models

    models = load_models(args.model, Host(strict=True), device="cpu")
    rng = np.random.default_rng(0)
    windows = [rng.integers(0, 10_000, args.length) for _ in range(args.windows)]
    p = first_token_distributions(models, windows, args.temp)
    mi = float(entropy(p.mean(0)) - entropy(p).mean())
    tv = float(0.5 * (p[:, None] - p[None]).abs().sum(-1).mean())
    agree = [swapped_agreement(models, windows[i], windows[i + 1], args.temp, seed=i) for i in range(0, 8, 2)]
    print(json.dumps({
        "model": args.model, "fingerprint": models.fingerprint, "windows": args.windows, "temp": args.temp,
        "mutual_information_nats": round(mi, 6), "ceiling_nats": round(math.log(min(args.windows, 1024)), 4),
        "mean_entropy_nats": round(float(entropy(p).mean()), 4), "uniform_entropy_nats": round(math.log(1024), 4),
        "max_probability": round(float(p.max()), 6), "mean_total_variation_between_windows": round(tv, 6),
        "same_tokens_swapped": round(float(np.mean(agree)), 4),
    }, indent=2))


if __name__ == "__main__":
    main()
