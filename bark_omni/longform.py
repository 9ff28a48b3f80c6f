"""Long-form generation: text of any length, split into sentences and generated segment by segment.

Bark makes at most ~14 s per generation and reads at most 256 text tokens. ``run_long`` splits the text with
``sentencex`` (Wikimedia's rule-based segmenter: ~300 languages, no data files to download, no dependencies;
nltk's punkt needs a data download, pysbd and blingfire have had no release since 2021), packs whole sentences
into segments of at most ``max_words`` words, and generates them in order. The voice carries over as in Bark
Infinity: ``stable_mode_interval`` 0 feeds every segment the previous segment's full generation as its
history prompt, 1 gives every segment the base voice (Bark's long-form notebook), N returns to the base voice
every N segments. Segments that share one voice prompt (interval 1) run as batches of ``batch_size``. The
segments are joined with ``silence_s`` of silence (or a ``crossfade_s`` overlap), then post-processing and the
watermark run once on the whole, so the result is one generation: one guardrail check, one manifest.

Determinism: segment ``i`` of a request seeded ``s`` is drawn with seed ``s + i`` (segment 0 is exactly the
short request), recorded with its text span and sample boundaries in ``result.extras["segments"]``; the same
request, options and device give the same audio bit for bit (what ``bark-omni replay`` checks). Control
events are timed across the whole output: each goes to exactly one segment, the one whose time span covers it,
with its time shifted to that segment's start (segments with events run one after another, so a segment's start is
the measured end of the ones before it). A segment's end is only known once it is generated, so its span ends at
an estimate: its words at ``SPEECH_WORDS_PER_S`` (capped by ``max_gen_duration_s``, else Bark's ~14 s), plus the
silence after it; the last segment takes every later event. An event that falls into the part of a segment that
ran longer than its estimate (already generated) goes to the start of the next segment. Each segment's record
lists the whole-output times of the events it took (``control_events_s``) and what its routes did (``routes``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from .errors import InvalidInputError, shorten

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .specs import GenerationRequest, GenerationResult

SEED_MODULUS = 2**64
SPEECH_WORDS_PER_S = 2.5
"""Speaking rate used to estimate a segment's length before it is generated (150 words a minute)."""
SEGMENT_MAX_S = 14.0
"""About the longest Bark speaks in one generation (its semantic stage's window)."""


def array_sha256(array: Any) -> str:
    """Hash of an array's dtype, shape and little-endian bytes (the provenance manifest's token hashes)."""
    import hashlib

    a = np.ascontiguousarray(np.asarray(array))
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


@dataclass(frozen=True)
class LongFormOptions:
    """How long text is split, voiced and joined. Checked on construction (``InvalidInputError``)."""

    max_words: int = 30
    """Most words in one segment (about 12 s of speech; Bark stops near 14 s). A longer sentence is cut at
    commas, then between words."""
    silence_s: float = 0.25
    """Silence between segments (Bark's long-form notebook uses a quarter second)."""
    crossfade_s: float = 0.0
    """Overlap the segments by this long with a linear crossfade instead of silence (0: no crossfade)."""
    stable_mode_interval: int | None = None
    """0: each segment continues from the previous one's generation; 1: each starts from the base voice; N: back
    to the base voice every N segments. None: 1 with a voice prompt (stable), 0 without (the voice the first
    segment found is kept)."""
    batch_size: int = 8
    """Segments run together when they share one voice prompt (interval 1)."""
    language: str = "en"
    """Language code for sentence boundaries (sentencex's codes: en, de, zh, ja, ...)."""
    split: bool = True
    """False: never split (Bark's own behaviour: one window, text past 256 tokens dropped)."""

    def __post_init__(self) -> None:
        _check_int("max_words", self.max_words, 1)
        _check_int("batch_size", self.batch_size, 1)
        if self.stable_mode_interval is not None:
            _check_int("stable_mode_interval", self.stable_mode_interval, 0)
        for name in ("silence_s", "crossfade_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 10:
                raise InvalidInputError(f"{name} must be a number of seconds in [0, 10], e.g. {name}=0.25; got {shorten(value)}")
        if not isinstance(self.language, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]+)?", self.language):
            raise InvalidInputError(f"language must be a language code such as 'en' or 'zh'; got {shorten(self.language)}")

    def interval(self, has_voice: bool) -> int:
        if self.stable_mode_interval is not None:
            return self.stable_mode_interval
        return 1 if has_voice else 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{name} must be an integer >= {low}; got {shorten(value)}")


# splitting -------------------------------------------------------------------------------------------

def split_sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text`` (whitespace-trimmed, none empty), by sentencex."""
    from sentencex import segment

    return [s.strip() for s in segment(language, text) if s.strip()]


def _cut_long(sentence: str, max_words: int) -> list[str]:
    """A sentence of more than ``max_words`` words, cut after commas/semicolons where possible, else between words."""
    words = sentence.split()
    if len(words) <= max_words:
        return [sentence]
    pieces, current = [], []
    for word in words:
        current.append(word)
        at_clause = word.endswith((",", ";", ":", "—", "–"))
        if len(current) >= max_words or (at_clause and len(current) >= max_words // 2):
            pieces.append(" ".join(current))
            current = []
    if current:
        pieces.append(" ".join(current))
    return pieces


def split_segments(text: str, options: LongFormOptions = LongFormOptions()) -> list[str]:
    """``text`` as segments: whole sentences packed up to ``max_words`` words each (one segment when it fits)."""
    if not options.split or len(text.split()) <= options.max_words:
        return [text]
    segments: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in split_sentences(text, options.language):
        for piece in _cut_long(sentence, options.max_words):
            n = len(piece.split())
            if current and count + n > options.max_words:
                segments.append(" ".join(current))
                current, count = [], 0
            current.append(piece)
            count += n
    if current:
        segments.append(" ".join(current))
    return segments or [text]


def segment_seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else (seed + index) % SEED_MODULUS


# control events across segments ------------------------------------------------------------------------

def _event_time(event: Any) -> float:
    if isinstance(event, dict):
        return float(event.get("time_s", event.get("time", 0.0)))
    if isinstance(event, (list, tuple)):
        return float(event[0])
    return float(getattr(event, "time_s"))


def _shift_event(event: Any, offset: float) -> Any:
    t = max(0.0, _event_time(event) - offset)
    if isinstance(event, dict):
        key = "time_s" if "time_s" in event else "time"
        return {**event, key: t}
    if isinstance(event, (list, tuple)):
        return type(event)([t, *event[1:]])
    return dataclasses.replace(event, time_s=t)


def estimated_seconds(text: str, cap_s: float | None = None) -> float:
    """A segment's length before it is generated: its words at ``SPEECH_WORDS_PER_S``, at most ``cap_s``."""
    return min(len(text.split()) / SPEECH_WORDS_PER_S, cap_s if cap_s is not None else SEGMENT_MAX_S)


def take_events(pending: Sequence[Any], start_s: float, end_s: float | None) -> tuple[list[Any], list[Any]]:
    """(events timed before ``end_s`` (None: all), the rest): the first go to the segment starting at ``start_s``.
    Events before ``start_s`` (left over: the previous segment ran past its estimate) land at its start."""
    taken = [e for e in pending if end_s is None or _event_time(e) < end_s]
    return taken, [e for e in pending if not (end_s is None or _event_time(e) < end_s)]


def segment_events(pending: Sequence[Any], start_s: float, texts: Sequence[str], index: int, cap_s: float | None,
                   silence_s: float) -> tuple[list[Any] | None, list[Any], list[Any]]:
    """For segment ``index`` starting at ``start_s`` of the whole output: (its events shifted to its start, or
    None; the events it took, as given; the events left for later segments). See the module docstring."""
    end_s = None if index == len(texts) - 1 else start_s + estimated_seconds(texts[index], cap_s) + silence_s
    taken, rest = take_events(pending, start_s, end_s)
    return [_shift_event(e, start_s) for e in taken] or None, taken, rest


# generation ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """One generated segment: its text, seed, tokens, raw audio and where it lies in the joined output."""

    index: int
    text: str
    seed: int | None
    voice: str  # "base", "previous" or "none": which history prompt it started from
    semantic: np.ndarray
    coarse: np.ndarray
    fine: np.ndarray
    audio: np.ndarray
    events_s: tuple[float, ...] = ()  # whole-output times of the control events this segment took
    routes: tuple[dict[str, Any], ...] = ()  # what its training-free routes did (result.routes of the segment)

    @property
    def full(self) -> dict[str, np.ndarray]:
        """This segment's full generation (a history prompt for the next one)."""
        return {"semantic_prompt": self.semantic, "coarse_prompt": self.coarse, "fine_prompt": self.fine}

    def record(self, start: int, sample_rate: int) -> dict[str, Any]:
        return {"index": self.index, "text": self.text, "seed": self.seed, "voice": self.voice,
                "start_sample": int(start), "samples": int(len(self.audio)),
                "start_s": round(start / sample_rate, 4), "duration_s": round(len(self.audio) / sample_rate, 4),
                "tokens": {"semantic": int(len(self.semantic)), "coarse_frames": int(self.coarse.shape[-1])},
                "tokens_sha256": {name: array_sha256(getattr(self, name)) for name in ("semantic", "coarse", "fine")},
                **({"control_events_s": list(self.events_s)} if self.events_s else {}),
                **({"routes": list(self.routes)} if self.routes else {})}


SegmentProgress = Callable[[int, int], None]


def iter_segments(
    request: GenerationRequest,
    options: LongFormOptions,
    *,
    host: Host,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Any = None,
    sample_rate: int = 24_000,
) -> Iterator[Segment]:
    """Generate ``request``'s segments in order (raw decoded audio, before post-processing and watermark)."""
    texts = split_segments(request.text or "", options)
    interval = options.interval(request.history_prompt is not None)
    events = request.modalities.control_events if request.modalities is not None else None
    pending = list(events or [])
    cap_s = request.options.semantic.max_gen_duration_s
    previous: Segment | None = None
    start_s = 0.0
    i = 0
    while i < len(texts):
        taken: list[Any] = []
        if interval == 1 and not events:  # every segment starts from the base voice: independent, so batched
            group = list(range(i, min(i + options.batch_size, len(texts))))
            rows = [_segment_request(request, texts[j], j, request.history_prompt, None) for j in group]
        else:
            history = request.history_prompt if previous is None or (interval and i % interval == 0) else previous.full
            shifted, taken, pending = segment_events(pending, start_s, texts, i, cap_s, options.silence_s)
            rows = [_segment_request(request, texts[i], i, history, shifted)]
            group = [i]
        results = _raw_run(rows, host=host, device=device, decoder_options=decoder_options, adapters=adapters,
                           progress=progress)
        for j, row, result in zip(group, rows, results):
            voice = "none" if row.history_prompt is None else "base" if row.history_prompt is request.history_prompt else "previous"
            segment = Segment(j, texts[j], row.seed, voice, result.semantic, result.coarse, result.fine,
                              np.asarray(result.audio, dtype=np.float32), tuple(round(_event_time(e), 4) for e in taken),
                              tuple(result.extras.get("routes") or ()))
            start_s += len(segment.audio) / sample_rate + options.silence_s - options.crossfade_s
            previous = segment
            yield segment
        i = group[-1] + 1


def _segment_request(request: GenerationRequest, text: str, index: int, history: Any, events: list[Any] | None) -> GenerationRequest:
    modalities = request.modalities
    if modalities is not None and modalities.control_events:
        modalities = modalities.replace(control_events=events)
    return dataclasses.replace(request, text=text, history_prompt=history, seed=segment_seed(request.seed, index),
                               modalities=modalities, longform=None)


def _raw_run(requests: list[GenerationRequest], **kwargs: Any) -> list[GenerationResult]:
    from .pipeline import run_batch

    return run_batch(requests, finish=False, **kwargs)


def join_audio(pieces: Sequence[np.ndarray], sample_rate: int, silence_s: float, crossfade_s: float) -> tuple[np.ndarray, list[int]]:
    """Concatenate with ``silence_s`` of silence between pieces, or overlap them by ``crossfade_s`` with a linear
    crossfade. Returns the audio and each piece's start sample."""
    gap = np.zeros(int(round(silence_s * sample_rate)), dtype=np.float32)
    out = np.zeros(0, dtype=np.float32)
    starts = []
    for n, piece in enumerate(pieces):
        piece = np.asarray(piece, dtype=np.float32)
        if n and crossfade_s > 0:
            k = min(int(round(crossfade_s * sample_rate)), len(out), len(piece))
            ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
            starts.append(len(out) - k)
            mixed = out[len(out) - k:] * (1 - ramp) + piece[:k] * ramp
            out = np.concatenate([out[:len(out) - k], mixed, piece[k:]])
            continue
        if n:
            out = np.concatenate([out, gap])
        starts.append(len(out))
        out = np.concatenate([out, piece])
    return out, starts


def run_long(
    request: GenerationRequest,
    *,
    host: Host | None = None,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Any = None,
) -> GenerationResult:
    """One long request as one generation: guardrails on the whole text, segments, join, then post-processing,
    watermark and ``generation_finished`` once. ``result.semantic``/``coarse``/``fine`` are the segments' tokens
    concatenated (a valid history prompt); ``result.extras["segments"]`` says how each was made."""
    import time

    from .pipeline import check_request, safety_notes, seal_audio, validate_request
    from .host import default_host
    from .specs import GenerationResult

    validate_request(request)
    options = request.longform or LongFormOptions()
    host = host or default_host()
    check_request(host, request)
    spec = host.decoder(request.decoder)
    texts = split_segments(request.text or "", options)
    t0 = time.perf_counter()
    segments = []
    if progress is not None:
        progress("segments", 0, len(texts))
    for segment in iter_segments(request, options, host=host, device=device, decoder_options=decoder_options,
                                 adapters=adapters, progress=progress, sample_rate=spec.sample_rate):
        segments.append(segment)
        if progress is not None:
            progress("segments", len(segments), len(texts))
    audio, starts = join_audio([s.audio for s in segments], spec.sample_rate, options.silence_s, options.crossfade_s)
    t1 = time.perf_counter()
    audio = host.pm.hook.postprocess_audio(audio=audio, sample_rate=spec.sample_rate, request=request)
    audio, mark = seal_audio(host, np.asarray(audio, dtype=np.float32), spec.sample_rate, request)
    from .offload import load_stack

    result = GenerationResult(
        semantic=np.concatenate([s.semantic for s in segments]), coarse=np.concatenate([s.coarse for s in segments], axis=1),
        fine=np.concatenate([s.fine for s in segments], axis=1), audio=np.asarray(audio, dtype=np.float32),
        sample_rate=spec.sample_rate, timings={"segments_s": t1 - t0, "postprocess_s": time.perf_counter() - t1},
        model_fingerprint=load_stack(request.model, host, device).fingerprint,
        safety_notes=safety_notes(host, mark), request=request, host=host,
    )
    if mark is not None:
        result.extras["watermark"] = mark
    result.extras.update(decoder_options=dict(decoder_options or {}), device=device, longform=options.as_dict(),
                         segments=[s.record(start, spec.sample_rate) for s, start in zip(segments, starts)],
                         adapters=str(adapters) if isinstance(adapters, str) else None)
    host.pm.hook.generation_finished(request=request, result=result)
    return result


def needs_segments(request: GenerationRequest) -> bool:
    """Whether ``request`` is long: its text splits into more than one segment."""
    if not isinstance(request.text, str):
        return False
    options = request.longform or LongFormOptions()
    return len(split_segments(request.text, options)) > 1


def long_form_options(value: Any) -> LongFormOptions | None:
    """``LongFormOptions`` from a record, a dict of its fields, or None (defaults)."""
    if value is None or isinstance(value, LongFormOptions):
        return value
    if isinstance(value, dict):
        names = {f.name for f in dataclasses.fields(LongFormOptions)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise InvalidInputError(f"unknown long-form option(s) {', '.join(map(str, unknown[:3]))}; "
                                    f"use {', '.join(sorted(names))}")
        return LongFormOptions(**value)
    raise InvalidInputError(f"longform must be a LongFormOptions or a dict of its fields; got {shorten(value)}")
