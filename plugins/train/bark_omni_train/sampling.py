"""Which rows make up each optimizer step, decided by (seed, step) alone.

Domains are drawn with temperature-scaled probabilities ``p_d ∝ n_d ** (1 / T)`` (T = 1: proportional to their
size; larger T: flatter, so small domains are seen more often: a curriculum knob). Within a domain, rows come
in a fresh shuffled order each pass, without replacement. Because the plan depends only on the seed and the
step number, a resumed run sees exactly the batches an uninterrupted one would, and every process of a
distributed run derives the same global batch and takes its own slice of it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Slot = tuple[int, int]  # (position in the step's global batch, row index)


def domain_probabilities(counts: dict[str, int], temperature: float) -> dict[str, float]:
    names = sorted(d for d, n in counts.items() if n > 0)
    weights = np.array([counts[d] for d in names], dtype=np.float64) ** (1.0 / temperature)
    return dict(zip(names, (weights / weights.sum()).tolist()))


class StepSampler:
    """The global batch (row indices) of every step."""

    def __init__(self, domains: Sequence[str], batch_size: int, temperature: float, seed: int) -> None:
        by_domain: dict[str, list[int]] = {}
        for index, domain in enumerate(domains):
            by_domain.setdefault(domain, []).append(index)
        if not by_domain:
            raise ValueError("no training rows")
        self.rows = by_domain
        self.names = sorted(by_domain)
        probs = domain_probabilities({d: len(r) for d, r in by_domain.items()}, temperature)
        self.probs = np.array([probs[d] for d in self.names])
        self.batch_size = batch_size
        self.seed = seed
        self._step = 0
        self._consumed = dict.fromkeys(self.names, 0)
        self._orders: dict[str, tuple[int, np.ndarray]] = {}

    def _domains_of(self, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 0, step])
        return rng.choice(len(self.names), size=self.batch_size, p=self.probs)

    def _order(self, domain: str, epoch: int) -> np.ndarray:
        cached = self._orders.get(domain)
        if cached is None or cached[0] != epoch:
            rng = np.random.default_rng([self.seed, 1, self.names.index(domain), epoch])
            cached = self._orders[domain] = (epoch, rng.permutation(len(self.rows[domain])))
        return cached[1]

    def batch(self, step: int) -> list[int]:
        """Row indices of ``step``'s global batch (steps may be asked in any order; in order is cheapest)."""
        if step < self._step:
            self._step, self._consumed = 0, dict.fromkeys(self.names, 0)
        while self._step < step:  # replay earlier steps' domain draws to know how far each domain has got
            for d in self._domains_of(self._step):
                self._consumed[self.names[d]] += 1
            self._step += 1
        out = []
        for d in self._domains_of(step):
            name = self.names[d]
            rows = self.rows[name]
            k = self._consumed[name]
            out.append(rows[int(self._order(name, k // len(rows))[k % len(rows)])])
            self._consumed[name] += 1
        self._step += 1
        return out


def rank_chunks(batch: Sequence[int], micro_batch_size: int, world_size: int, rank: int) -> list[list[Slot]]:
    """This process's micro-batches of a global batch. The global batch is cut into chunks of
    ``micro_batch_size`` slots in order and process ``r`` takes the r-th consecutive share, so the chunks (and
    everything computed per chunk, such as contrastive negatives) are the same for any number of processes."""
    slots = list(enumerate(batch))
    chunks = [slots[i:i + micro_batch_size] for i in range(0, len(slots), micro_batch_size)]
    share = len(chunks) // world_size
    return chunks[rank * share:(rank + 1) * share]
