"""The knobs of the mbd decoder (``decoder_options``), validated up front so that a typo fails before any work."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from bark_omni.errors import InvalidInputError

DEFAULT_STEPS = 20  # audiocraft's default subsampling: every 50th of the 1000 training steps


def _int(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidInputError(f"mbd decoder option {name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class MBDOptions:
    """``steps``: diffusion steps per band (fewer is faster, 20 is audiocraft's default);
    ``eq_match``: match each of ``eq_bands`` frequency bands' level to Bark's EnCodec output (audiocraft's
    ``re_eq``), which keeps the timbre Bark produced; ``seed``: the diffusion noise (decoding is reproducible and
    never touches the global RNG); ``weights``: ``mbd_comp_8.pt`` or a folder holding it (else the HF cache)."""

    steps: int = DEFAULT_STEPS
    eq_match: bool = True
    eq_bands: int = 32
    seed: int = 0
    weights: str | None = None

    @classmethod
    def parse(cls, options: dict[str, Any] | None) -> MBDOptions:
        options = dict(options or {})
        accepted = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InvalidInputError(f"unknown mbd decoder option(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
        parsed = cls(**options)
        _int("steps", parsed.steps, 1)
        _int("eq_bands", parsed.eq_bands, 1)
        _int("seed", parsed.seed, 0)
        if not isinstance(parsed.eq_match, bool):
            raise InvalidInputError(f"mbd decoder option eq_match must be true or false, got {parsed.eq_match!r}")
        if parsed.weights is not None and not isinstance(parsed.weights, (str, os.PathLike)):
            raise InvalidInputError(f"mbd decoder option weights must be a path, got {type(parsed.weights).__name__}")
        return parsed


def step_list(num_steps: int, steps: int) -> list[int]:
    """The Markov-chain states to visit, from the noisiest down to 0, as audiocraft spaces them.

    Every ``num_steps // steps``-th training step counted from the last, then 0; ``steps`` = 20 of 1000 gives
    audiocraft's own default list exactly. The sampler evaluates the model once per entry but the last.
    """
    if not 1 <= steps < num_steps:
        raise InvalidInputError(f"mbd decoder option steps must be between 1 and {num_steps - 1}, got {steps}")
    stride = num_steps // steps
    return list(range(num_steps))[::-stride][:steps] + [0]
