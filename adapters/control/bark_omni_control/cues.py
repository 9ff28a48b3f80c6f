"""The training-free control route: timed events become Bark's own cues, placed at the word nearest their time.

Bark reads a few cues in its text ([laughter], [laughs], [sighs], [gasps], [clears throat], [music], ``...`` and
``—`` for hesitation, ``♪`` around sung words, CAPITALS for emphasis). An event whose kind and value match a
``ControlCue`` (the built-ins below, and any a plugin registers with ``register_control_cues``) puts its cue into
the text; events no cue expresses (a ``beat``, a ``phoneme`` hint...) are reported in the route's record and as
a warning, never dropped silently.

Word times are estimated with a syllable model, not measured: each word lasts its syllable count (vowel groups,
at least 1) divided by ``SYLLABLES_PER_S`` (4.0, a conversational English rate that Bark's speech is close to),
and punctuation adds a pause (``COMMA_PAUSE_S`` after , ; : and ``STOP_PAUSE_S`` after . ! ?). Speech starts at
``LEAD_S``. An event lands before the word whose start is nearest its time, or after the last word when the end
of the text is nearer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from bark_omni.specs import ControlCue, RouteCall, RouteOutcome

SYLLABLES_PER_S = 4.0
COMMA_PAUSE_S = 0.25
STOP_PAUSE_S = 0.45
LEAD_S = 0.1

BUILTIN_CUES: tuple[ControlCue, ...] = (
    ControlCue("laughter", "sfx", "[laughter]", ("laughter", "laughing", "crowd laughing", "audience laughing")),
    ControlCue("laughs", "sfx", "[laughs]", ("laughs", "laugh", "chuckle", "chuckles", "giggle", "giggles")),
    ControlCue("sighs", "sfx", "[sighs]", ("sigh", "sighs", "sighing")),
    ControlCue("gasps", "sfx", "[gasps]", ("gasp", "gasps", "gasping")),
    ControlCue("clears-throat", "sfx", "[clears throat]", ("clears throat", "clear throat", "throat", "cough", "ahem")),
    ControlCue("music", "sfx", "[music]", ("music", "jingle", "tune")),
    ControlCue("pause", "sfx", "...", ("pause", "hesitation", "hesitate", "silence", "beat of silence")),
    ControlCue("dash", "sfx", "—", ("dash", "break", "interruption", "cut off")),
    ControlCue("emphasis", "sfx", "", ("emphasis", "emphasize", "stress", "accent", "loud"), style="emphasis"),
    ControlCue("song", "sfx", "♪", ("sing", "singing", "song", "lyrics", "sung"), style="wrap"),
)

_VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)
_STOPS = ".!?"
_COMMAS = ",;:"


def syllables(word: str) -> int:
    """Vowel groups of a word (a silent final 'e' not counted), at least 1."""
    letters = re.sub(r"[^A-Za-z]", "", word)
    count = len(_VOWELS.findall(letters))
    if count > 1 and letters.lower().endswith("e") and not letters.lower().endswith(("le", "ee")):
        count -= 1
    return max(1, count)


def word_times(words: Sequence[str]) -> tuple[list[float], float]:
    """Estimated start time of each word and the end of the last one, in seconds (see the module docstring)."""
    starts, t = [], LEAD_S
    for word in words:
        starts.append(t)
        t += syllables(word) / SYLLABLES_PER_S
        if word and word[-1] in _STOPS:
            t += STOP_PAUSE_S
        elif word and word[-1] in _COMMAS:
            t += COMMA_PAUSE_S
    return starts, t


def nearest_slot(time_s: float, starts: Sequence[float], end: float) -> int:
    """Index of the word whose start is nearest ``time_s``; ``len(starts)``: after the last word."""
    slots = [*starts, end]
    return min(range(len(slots)), key=lambda i: (abs(slots[i] - time_s), i))


def match_cue(event: Any, cues: Iterable[ControlCue]) -> ControlCue | None:
    value = event.value.strip().lower() if isinstance(event.value, str) else None
    for cue in cues:
        if cue.kind == event.kind and (not cue.values or value in cue.values):
            return cue
    return None


@dataclass
class _Slot:
    before: list[str]
    emphasis: bool = False
    wrap: str = ""


def place_cues(text: str | None, events: Sequence[Any], cues: Sequence[ControlCue]) -> tuple[str, list[dict], list[Any]]:
    """(new text, one record per placed event, the events no cue expresses)."""
    words = (text or "").split()
    starts, end = word_times(words)
    slots = [_Slot([]) for _ in range(len(words) + 1)]
    placed, unmatched = [], []
    for event in events:
        cue = match_cue(event, cues)
        if cue is None:
            unmatched.append(event)
            continue
        i = nearest_slot(float(event.time_s), starts, end)
        if cue.style == "emphasis" or cue.style == "wrap":
            i = min(i, len(words) - 1) if words else 0
        if cue.style == "emphasis" and words:
            slots[i].emphasis = True
        elif cue.style == "wrap" and words:
            slots[i].wrap = cue.text
        else:
            slots[i].before.append(cue.text or cue.name)
        placed.append({"time_s": float(event.time_s), "kind": event.kind, "value": event.value, "cue": cue.name,
                       "text": cue.text, "word": words[i] if i < len(words) else "<end>",
                       "word_time_s": round(starts[i] if i < len(words) else end, 3)})
    return _join(words, slots), placed, unmatched


def _join(words: Sequence[str], slots: Sequence[_Slot]) -> str:
    out: list[str] = []
    closing = ""
    for i, word in enumerate(words):
        out.extend(slots[i].before)
        if slots[i].wrap and not closing:
            out.append(slots[i].wrap)
            closing = slots[i].wrap
        out.append(word.upper() if slots[i].emphasis else word)
        if closing and (word[-1] in _STOPS or i == len(words) - 1):
            out.append(closing)
            closing = ""
    out.extend(slots[len(words)].before)
    return " ".join(out)


def control_route(call: RouteCall) -> RouteOutcome:
    """Events -> Bark's cues in the text (see the module docstring). Priority only switches the route on (> 0)."""
    from .events import BUILTIN_KINDS, validate_events

    events = validate_events(call.value, {**BUILTIN_KINDS, **call.host.control_kinds})
    cues = [*call.host.control_cues.values()] or list(BUILTIN_CUES)
    text, placed, unmatched = place_cues(call.text, events, cues)
    notes = ()
    if unmatched:
        listed = ", ".join(f"{e.kind}{'=' + repr(e.value) if e.value is not None else ''} at {e.time_s:g} s" for e in unmatched[:4])
        more = f" and {len(unmatched) - 4} more" if len(unmatched) > 4 else ""
        notes = (f"{len(unmatched)} event(s) have no Bark cue and are not applied: {listed}{more} "
                 "(register_control_cues adds cues; trained adapters take any event)",)
    did = f"placed {len(placed)} cue(s) in the text at the nearest words (syllable-model timing)"
    details = {"placed": placed, "unexpressed": [{"time_s": float(e.time_s), "kind": e.kind, "value": e.value}
                                                 for e in unmatched],
               "timing": f"syllable model, {SYLLABLES_PER_S:g} syllables/s"}
    return RouteOutcome(did=did, text=text if placed else None, details=details, notes=notes)
