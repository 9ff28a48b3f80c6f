"""Where a decoding step's fusion cost goes: the single-query step built up one part at a time, inside real steps.

    OMP_NUM_THREADS=1 .venv/bin/python bench/fusion_step_parts.py [--repeats 3]

Each variant replaces the semantic stage's conditioning calls of one query with the first k parts of
``GatedCrossAttention.step`` (bench_fusion's four modalities, Bark-small dimensions, random weights):

1. the two weight products (q with the routing rows, then ``out``), nothing else;
2. + the layer norm before them;
3. + the attention with one softmax over all tokens (scores, softmax, values);
4. + a softmax per modality, the routing gates and the per-position token weights;
5. + the dense layer;

then the step itself (adds the timing term). The variants take one step each in turn after a 257-token prefill
(``bench_fusion.interleaved_steps``); printed: the median step and the median paired ratio to "none". A part's
cost is the difference between its line and the one before. Diagnosis only: the parts compute less than the step.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import torch
import torch.nn.functional as F

import bench_fusion as bf
from bark_omni import fusion


def built_up(stage: fusion.StageConditioning, parts: int) -> fusion.StageConditioning:
    """``stage`` whose calls of one query run the first ``parts`` parts of the step (prefills run the real code)."""

    def call(self: Any, layer: int, hidden: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if hidden.shape[1] != 1:
            return fusion.StageConditioning.__call__(self, layer, hidden, positions)
        keys_t, values, weights = self._step[layer]
        cross, row = self._layers[str(layer)], int(positions[0, 0])
        d_attn = keys_t.shape[0] * keys_t.shape[1]
        x = hidden.view(1, -1)
        if parts >= 2:
            x = F.layer_norm(hidden, cross.norm.normalized_shape, cross.norm.weight, cross.norm.bias, cross.norm.eps).view(1, -1)
        query = F.linear(x.to(weights.query.dtype), weights.query, weights.query_bias).float()
        y = query[:, :d_attn]
        if parts >= 3:
            scores = torch.baddbmm(self._bias[:, row:row + 1], y.view(keys_t.shape[0], 1, -1), keys_t)
            y = (torch.softmax(scores, -1) @ values).view(1, -1)
        if parts >= 4:
            probs = torch.cat([torch.softmax(scores[..., s:e], -1) for s, e in self._layout.spans], -1)
            gates = fusion.scaled_gate(query[:, d_attn:]).view(-1).index_select(0, self._layout.token_modality)
            y = (probs * (gates * self._weight[:, row:row + 1]) @ values).view(1, -1)
        h = hidden + F.linear(y.to(weights.out.dtype), weights.out).view(hidden.shape)
        if parts >= 5:
            first, first_bias, last, last_bias = weights.dense
            norm = cross.dense[0]
            x = F.layer_norm(h, norm.normalized_shape, norm.weight, norm.bias, norm.eps).view(1, -1)
            h = h + F.linear(F.gelu(F.linear(x.to(first.dtype), first, first_bias)), last, last_bias).view(h.shape)
        return h

    stage.__class__ = type(f"Parts{parts}", (fusion.StageConditioning,), {"__call__": call})
    return stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of 60 interleaved steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = bf.bark_small()
    model, bundle = bf.four_modalities(models)
    stage = lambda: model.conditioning([bundle]).for_stage("semantic")  # noqa: E731
    names = ("q and out products", "+ layer norm", "+ attention, one softmax",
             "+ per-modality softmax, gates, token weights", "+ dense layer")
    variants = {"none": None, **{f"{k + 1}. {name}": built_up(stage(), k + 1) for k, name in enumerate(names)},
                "the step (+ timing term)": stage()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, seconds in bf.interleaved_steps(models, variants, 60).items():
            times[name] += seconds
    print(f"one decoding step, the fusion's parts built up ({len(times['none'])} steps each; medians)")
    for name, values in times.items():
        ratio = statistics.median(v / n for v, n in zip(values, times["none"]))
        print(f"  {name:<48} {1000 * statistics.median(values):7.2f} ms  (median paired ratio {ratio:.4f})")


if __name__ == "__main__":
    main()
