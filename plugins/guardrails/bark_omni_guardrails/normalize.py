"""Normalising text against evasion, keeping for every output character the position it came from.

Steps, per character: drop zero-width and other invisible format characters; Unicode compatibility folding
(NFKD, so fullwidth, circled, mathematical letters and ligatures become plain ones, with accents split off and
dropped); casefolding; then, in the *Latin* fold, Unicode's confusable skeletons (UTS #39 confusables.txt, as
shipped by the ``confusable_homoglyphs`` package) with Unicode character names to finish the job: a look-alike
from Lisu, Cherokee, Armenian, Cyrillic, Greek... becomes its Latin letter, and so do small capitals and hooked
Latin letters ("LATIN LETTER SMALL CAPITAL K", "LATIN SMALL LETTER H WITH HOOK"). The *native* fold keeps other
scripts as they are, for term lists written in them. Per token: leetspeak to letters (multi-character forms
first: ``|<`` ``|-|`` ``\\/\\/`` ``|)``...; digits and symbols when the token also has letters, so "k1ll" is
"kill" but "911" stays).

Three views of each fold: separators as spaces (words as written); separators removed with spaced-out letters
joined ("k.i.l.l", "k i l l"); and *solid*, every run of separators (spaces, newlines, punctuation) as one
``SEP`` mark, so that a term may be split anywhere inside ("ki ll", "im per son ate", one letter per line) as long
as it starts and ends at word edges. Spans map back to the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Leet letters. Multi-character forms are replaced first, longest first.
MULTI_LEET = {"|\\/|": "m", "\\/\\/": "w", "|\\|": "n", "|-|": "h", "}{": "h", "|<": "k", "|{": "k", "|>": "p",
              "|)": "d", "|]": "d", "\\/": "v", "/\\": "a", "|2": "r", "|_": "l", "()": "o", "[]": "o", "><": "x"}
LEET = {"0": "o", "1": "i", "2": "z", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
        "@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "€": "e", "£": "l", "¢": "c", "(": "c"}
INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}
SEP = "\u00b7"  # the solid view's word-edge mark
_LATIN_NAME = re.compile(r"^LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |SMALL |CAPITAL )?([A-Z])(?: |$)")


@lru_cache(maxsize=1)
def _confusables() -> dict[str, list[str]]:
    """UTS #39 confusables as the ``confusable_homoglyphs`` package ships them: char -> look-alikes."""
    import json
    from importlib import resources

    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    return {ch: [entry["c"] for entry in entries] for ch, entries in data.items()}


def _name_letter(ch: str) -> str | None:
    """The Latin letter a character's Unicode name says it is ("LATIN LETTER SMALL CAPITAL K" -> "k")."""
    if len(ch) != 1:
        return None
    if "a" <= ch <= "z":
        return ch
    found = _LATIN_NAME.match(unicodedata.name(ch, ""))
    return found.group(1).lower() if found else None


@lru_cache(maxsize=4096)
def latin_of(ch: str) -> str:
    """The Latin letter(s) a non-ASCII character is confused with, or the character itself.

    The character's own name first (small capitals, hooked letters), then its UTS #39 prototype, then the other
    members of its confusable set (a Cherokee letter whose prototype is "kra" still reaches small-capital k)."""
    own = _name_letter(ch)
    if own:
        return own
    table = _confusables()
    alikes = table.get(ch, [])
    for prototype in alikes[:1] if len(alikes) == 1 else []:
        folded = unicodedata.normalize("NFKD", prototype).casefold()
        letters = [c for c in folded if not unicodedata.combining(c)]
        if letters and all("a" <= c <= "z" for c in letters):
            return "".join(letters)
        for sibling in [prototype] + table.get(prototype, []):
            found = _name_letter(unicodedata.normalize("NFKD", sibling)[:1].casefold())
            if found:
                return found
    return ch


MIN_SPACED_RUN = 3  # "k i l l": at least this many single letters in a row are joined


@dataclass(frozen=True)
class View:
    """Normalised text and, for each of its characters, the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]
    unbounded: tuple[tuple[int, int], ...] = ()  # spans of evenly spaced-out letters: no word boundaries known
    kind: str = "spaced"  # "spaced", "joined" or "solid"
    latin: bool = True  # the Latin fold (look-alikes mapped to Latin letters) or the native one

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span of normalised ``text[start:end]``."""
        return self.origin[start], self.origin[end - 1] + 1


@lru_cache(maxsize=8192)
def _fold_char(ch: str, latin: bool) -> str:
    if ch in INVISIBLE or unicodedata.category(ch) in ("Cf", "Cc") and not ch.isspace():
        return ""
    if ch.isspace():
        return " "
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me"):
            continue
        if latin and part.isalpha() and not part.isascii():
            mapped = latin_of(part)  # before casefolding: some scripts' case pairs are confused differently
            if mapped.isascii():
                out.append(mapped.lower())
                continue
        for c in part.casefold():
            out.append(latin_of(c) if latin and c.isalpha() and not c.isascii() else c)
    return "".join(out)


def _folded(text: str, latin: bool = True) -> list[tuple[str, int]]:
    return _multi_leet([(c, i) for i, ch in enumerate(text) for c in _fold_char(ch, latin)])


def _multi_leet(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Replace multi-character leet letters (``|<`` -> k) where a letter or another leet form touches them."""
    text = "".join(c for c, _ in chars)
    if not any(form in text for form in MULTI_LEET):
        return chars
    forms = sorted(MULTI_LEET, key=len, reverse=True)
    out: list[tuple[str, int]] = []
    k = 0
    while k < len(chars):
        for form in forms:
            if text.startswith(form, k):
                out.append((MULTI_LEET[form], chars[k][1]))
                k += len(form)
                break
        else:
            out.append(chars[k])
            k += 1
    return out


def _token_ranges(chars: list[tuple[str, int]]) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated token in ``chars``."""
    ranges, start = [], None
    for k, (c, _) in enumerate(chars):
        if c == " ":
            if start is not None:
                ranges.append((start, k))
                start = None
        elif start is None:
            start = k
    if start is not None:
        ranges.append((start, len(chars)))
    return ranges


def _deleet(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Map leetspeak inside tokens that also contain letters (symbols only when a letter or digit follows), and
    lone digits between words ("1 know" -> "i know"); numbers such as "911" stay. Spacing is kept as it is."""
    out = list(chars)
    ranges = _token_ranges(chars)
    wordy = [any(c.isalpha() for c, _ in chars[a:b]) for a, b in ranges]
    for n, (a, b) in enumerate(ranges):
        single = [r[1] - r[0] == 1 for r in ranges]
        lone_digit = b - a == 1 and chars[a][0].isdigit() and len(ranges) > 1 and (
            ((n == 0 or wordy[n - 1]) and (n + 1 == len(ranges) or wordy[n + 1]))
            or ((n == 0 or single[n - 1]) and (n + 1 == len(ranges) or single[n + 1])))  # one letter per line
        if not (wordy[n] or lone_digit):
            continue
        for k in range(a, b):
            c, i = chars[k]
            if c in LEET and (c.isdigit() or (k + 1 < b and chars[k + 1][0].isalnum())):
                out[k] = (LEET[c], i)
    return out


def _collapse_spaces(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for c, i in chars:
        if c == " " and (not out or out[-1][0] == " "):
            continue
        out.append((c, i))
    if out and out[-1][0] == " ":
        out.pop()
    return out


def _join_spaced_letters(chars: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], list[tuple[int, int]]]:
    """Words with their punctuation removed ("k.i.l.l", "it's" -> "kill", "its"), and runs of
    >= MIN_SPACED_RUN one-letter words joined ("k i l l"). Inside such a run, gaps wider than the narrowest one
    are word breaks ("w a t c h   y o u r" -> "watch your"); a run with even gaps gives no word breaks, so its
    span is returned for matching without word boundaries."""
    words: list[tuple[list[tuple[str, int]], int]] = []  # (letters, width of the gap before the word)
    gap = 0
    previous_end = 0
    for a, b in _token_ranges(chars):
        gap += a - previous_end
        previous_end = b
        letters = [item for item in chars[a:b] if item[0].isalnum()]
        if letters:
            words.append((letters, gap))
            gap = 0
        else:
            gap += b - a
    out: list[tuple[str, int]] = []
    even_runs: list[tuple[int, int]] = []
    k = 0
    while k < len(words):
        end = k
        while end < len(words) and len(words[end][0]) == 1:
            end += 1
        if end - k >= MIN_SPACED_RUN:
            inner = [words[j][1] for j in range(k + 1, end)]
            if out:
                out.append((" ", words[k][0][0][1]))
            start = len(out)
            for j in range(k, end):
                if j > k and words[j][1] > min(inner):
                    out.append((" ", words[j][0][0][1]))
                out.append(words[j][0][0])
            if max(inner) == min(inner):
                even_runs.append((start, len(out)))
            k = end
            continue
        if out:
            out.append((" ", words[k][0][0][1]))
        out.extend(words[k][0])
        k += 1
    return out, even_runs


def _view(chars: list[tuple[str, int]], unbounded: list[tuple[int, int]] | None = None, kind: str = "spaced",
          latin: bool = True) -> View:
    return View("".join(c for c, _ in chars), tuple(i for _, i in chars), tuple(unbounded or ()), kind, latin)


def _solid(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Letters and digits, every run of anything else as one SEP."""
    out: list[tuple[str, int]] = []
    for c, i in chars:
        if c.isalnum():
            out.append((c, i))
        elif out and out[-1][0] != SEP:
            out.append((SEP, i))
    if out and out[-1][0] == SEP:
        out.pop()
    return out


@lru_cache(maxsize=256)
def views(text: str) -> tuple[View, ...]:
    """The normalised views of ``text``: for the Latin fold then the native fold, separators as spaces,
    separators removed (letters joined), and solid (see the module docstring)."""
    found: list[View] = []
    for latin in (True, False):
        chars = _deleet(_folded(text, latin))
        spaced = _collapse_spaces([(c if c.isalnum() else " ", i) for c, i in chars])
        joined, even_runs = _join_spaced_letters(chars)
        found += [_view(spaced, latin=latin), _view(joined, even_runs, "joined", latin),
                  _view(_solid(chars), kind="solid", latin=latin)]
        if text.isascii():
            break  # the native fold of ASCII text is the same
    return tuple(found)


def normalize(text: str, latin: bool = True) -> str:
    """The words-as-written view, e.g. for normalising blocklist terms the same way as requests."""
    chars = _deleet(_folded(text, latin))
    return _view(_collapse_spaces([(c if c.isalnum() else " ", i) for c, i in chars])).text
