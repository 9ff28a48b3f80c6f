"""The small records plugins register and the host passes around. No heavy imports here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .modality import ModalityBundle
    from .models import BarkModels, LoadedWeights

LatencyClass = Literal["realtime", "fast", "slow"]


@dataclass(frozen=True)
class ModelFormat:
    """A checkpoint layout that ``model=`` may name.

    ``detect(path)`` answers cheaply whether ``path`` (a directory) is in this format. ``load(path, device)``
    returns a ``LoadedWeights`` with the three frozen models and, when the format carries them, the
    tokenizer and codec.
    """

    name: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, str], LoadedWeights]
    description: str = ""


@dataclass(frozen=True)
class DecoderSpec:
    """A way to turn fine tokens into audio. ``load(models, options)`` returns a callable
    ``decode(fine_tokens: np.ndarray[8, T]) -> np.ndarray`` (mono float32 at ``sample_rate``)."""

    name: str
    sample_rate: int
    latency: LatencyClass
    bitrate_kbps: float
    load: Callable[[BarkModels, dict[str, Any]], Callable[[np.ndarray], np.ndarray]]
    description: str = ""
    package: str = ""


@dataclass(frozen=True)
class AdapterSpec:
    """A modality adapter. ``modality`` is the ``ModalityBundle`` field it consumes; ``build(models, config)``
    returns the trainable adapter module (see the fusion module for its interface)."""

    name: str
    modality: str
    build: Callable[..., Any]
    version: str = "0"
    description: str = ""
    package: str = ""


@dataclass(frozen=True)
class ControlKind:
    """A kind of control event; ``validate(value)`` raises ``InvalidInputError`` on a bad value."""

    name: str
    validate: Callable[[Any], None] = lambda value: None
    description: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """An evaluation metric; ``compute(**inputs)`` returns a dict of named numbers."""

    name: str
    compute: Callable[..., dict[str, float]]
    higher_is_better: bool = True
    description: str = ""


@dataclass(frozen=True)
class Verdict:
    """A guardrail's answer about a request. ``span`` is (start, end) in ``field``'s text."""

    allowed: bool
    category: str = ""
    reason: str = ""
    field: str = "text"
    span: tuple[int, int] | None = None
    plugin: str = ""


@dataclass
class GenerationRequest:
    """Everything one generation was asked for, as plugins see it."""

    text: str | None
    history_prompt: Any = None
    modalities: ModalityBundle | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    model: str = "bark"
    decoder: str = "encodec"


@dataclass
class GenerationResult:
    """Tokens of every stage, the audio, and what produced them."""

    semantic: np.ndarray
    coarse: np.ndarray
    fine: np.ndarray
    audio: np.ndarray
    sample_rate: int
    timings: dict[str, float] = field(default_factory=dict)
    model_fingerprint: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def full_generation(self) -> dict[str, np.ndarray]:
        """The dict Bark returns with ``output_full=True`` (usable as a history prompt)."""
        return {"semantic_prompt": self.semantic, "coarse_prompt": self.coarse, "fine_prompt": self.fine}
