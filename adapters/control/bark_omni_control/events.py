"""Control events: the typed record, the built-in kinds, and the checks every event list goes through.

Times are seconds from the start of the generated audio. Bark's semantic stage makes 49.9 frames per second
for at most 768 frames, so an event must lie within [0, 768 / 49.9] s (about 15.4 s) to act at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bark_omni.constants import MAX_SEMANTIC_STEPS, SEMANTIC_RATE_HZ
from bark_omni.errors import InvalidInputError
from bark_omni.specs import ControlKind

MAX_TIME_S = MAX_SEMANTIC_STEPS / SEMANTIC_RATE_HZ
MAX_LABEL_CHARS = 64


@dataclass(frozen=True)
class ControlEvent:
    """One timed hint: at ``time_s`` seconds, something of ``kind`` (with an optional ``value``) happens."""

    time_s: float
    kind: str
    value: Any = None


def _validate_beat(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidInputError(f"a beat's value is its strength in [0, 1] (or None), got {value!r}")


def _validate_label(what: str, max_chars: int) -> Any:
    def validate(value: Any) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
            raise InvalidInputError(f"a {what} event needs a text value of 1..{max_chars} characters, got {value!r}")

    return validate


BUILTIN_KINDS: dict[str, ControlKind] = {
    kind.name: kind
    for kind in (
        ControlKind("beat", _validate_beat, "a beat marker; value: strength in [0, 1] or None"),
        ControlKind("phoneme", _validate_label("phoneme", 8), "a phoneme hint; value: a symbol such as 'AH' or 'ʃ'"),
        ControlKind("sfx", _validate_label("sfx", MAX_LABEL_CHARS), "a sound-effect trigger; value: a label such as 'laughs'"),
    )
}


def coerce_event(item: Any) -> ControlEvent:
    """A ``ControlEvent`` from an event, a dict (``time_s``/``time``, ``kind``, ``value``) or a tuple."""
    if isinstance(item, ControlEvent):
        return item
    if isinstance(item, Mapping):
        unknown = set(item) - {"time_s", "time", "kind", "value"}
        if unknown or "kind" not in item or ("time_s" not in item and "time" not in item):
            raise InvalidInputError(f"a control event dict needs 'time_s' and 'kind' (and optionally 'value'), got {dict(item)!r}")
        return ControlEvent(item.get("time_s", item.get("time")), item["kind"], item.get("value"))
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return ControlEvent(*item)
    raise InvalidInputError(f"a control event must be ControlEvent(time_s, kind, value), a dict or a tuple, got {item!r}")


def validate_events(events: Any, kinds: Mapping[str, ControlKind], max_events: int = 256) -> list[ControlEvent]:
    """Checked events, sorted by time. Unknown kinds, bad values and times off Bark's timeline are errors."""
    if isinstance(events, (str, bytes, Mapping, ControlEvent)) or not isinstance(events, Iterable):
        raise InvalidInputError("control_events must be a list of events, e.g. [ControlEvent(0.5, 'beat')]")
    checked = [coerce_event(item) for item in events]
    if not checked:
        raise InvalidInputError("control_events is empty; pass at least one event or leave it out")
    if len(checked) > max_events:
        raise InvalidInputError(f"{len(checked)} control events; at most {max_events} fit (raise the adapter's max_events)")
    for event in checked:
        time_s = event.time_s
        if isinstance(time_s, bool) or not isinstance(time_s, (int, float)) or not math.isfinite(time_s):
            raise InvalidInputError(f"control event time must be a number of seconds, got {time_s!r}")
        if not 0 <= time_s <= MAX_TIME_S:
            raise InvalidInputError(
                f"control event at {time_s:g} s is outside Bark's semantic timeline (0 to {MAX_TIME_S:.2f} s); move it"
            )
        spec = kinds.get(event.kind) if isinstance(event.kind, str) else None
        if spec is None:
            raise InvalidInputError(
                f"unknown control event kind {event.kind!r} (known: {', '.join(sorted(kinds))}); "
                "a plugin can add kinds with register_control_kinds"
            )
        spec.validate(event.value)
    return sorted(checked, key=lambda e: e.time_s)
