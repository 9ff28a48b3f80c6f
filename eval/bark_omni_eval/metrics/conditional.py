"""Conditional dependence: how much the generated tokens change when one input is taken away.

For a request with text and modalities, each present input is removed in turn and the request is generated
again with the same seed; the share of semantic (and coarse) tokens that differ from the full run says how
much the output depends on that input. 0 means the input is ignored (e.g. a fusion gate still at zero); near
1 means it reshapes the whole output. Text counts as an input when another modality is present.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from bark_omni.errors import InvalidInputError
from bark_omni.specs import GenerationRequest, GenerationResult

from ..errors import MetricUnavailable

Generate = Callable[[GenerationRequest], GenerationResult]


def token_change(a: np.ndarray, b: np.ndarray) -> float:
    """Share of positions that differ, over the longer sequence (extra length counts as changed). Multi-row
    codes (coarse: 2 x T) are compared frame by frame."""
    a, b = np.asarray(a), np.asarray(b)
    a = a.T.reshape(len(a.T), -1) if a.ndim == 2 else a[:, None]
    b = b.T.reshape(len(b.T), -1) if b.ndim == 2 else b[:, None]
    longest = max(len(a), len(b))
    if longest == 0:
        return 0.0
    shortest = min(len(a), len(b))
    same = int(np.all(a[:shortest] == b[:shortest], axis=1).sum())
    return 1.0 - same / longest


def without(request: GenerationRequest, name: str) -> GenerationRequest:
    """A copy of ``request`` with input ``name`` (``text`` or a modality) removed."""
    if name == "text":
        return dataclasses.replace(request, text=None)
    bundle = request.modalities.replace(**{name: None})
    return dataclasses.replace(request, modalities=bundle)


def removable_inputs(request: GenerationRequest) -> list[str]:
    present = request.modalities.present() if request.modalities is not None else []
    names = list(present)
    if present and request.text:
        names.insert(0, "text")
    return names


def modality_dependence(request: GenerationRequest, generate: Generate,
                        full: GenerationResult | None = None) -> dict[str, float]:
    """``{"semantic.<input>": change, "coarse.<input>": change, ...}`` for every removable input."""
    if request.seed is None:
        raise InvalidInputError("conditional dependence needs a seeded request (seed=...), or sampling noise is measured")
    names = removable_inputs(request)
    if not names:
        raise MetricUnavailable("the prompt has no modality besides text, so there is nothing to take away")
    full = full or generate(request)
    out: dict[str, float] = {}
    for name in names:
        reduced = generate(without(request, name))
        out[f"semantic.{name}"] = token_change(full.semantic, reduced.semantic)
        out[f"coarse.{name}"] = token_change(full.coarse, reduced.coarse)
    return out


def compute(request: GenerationRequest, result: GenerationResult, generate: Generate) -> dict[str, Any]:
    """Token change per removed input, against the suite's own generation of the full request."""
    return modality_dependence(request, generate, full=result)
