"""Learning-rate schedule: linear warmup, then cosine decay to ``min_ratio`` of the peak."""

from __future__ import annotations

import math


class WarmupCosine:
    """The ``LambdaLR`` factor per step. A callable object rather than a function, so the scheduler's
    ``state_dict`` carries its numbers (JSON-safe) and ``load_state_dict`` restores them."""

    def __init__(self, warmup: int, total: int, min_ratio: float = 0.1) -> None:
        self.warmup = max(0, int(warmup))
        self.total = max(1, int(total))
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        span = max(1, self.total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
