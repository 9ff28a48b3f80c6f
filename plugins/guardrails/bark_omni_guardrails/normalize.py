"""Normalising text against evasion, keeping for every output character the position it came from.

Steps, per character: drop zero-width and other invisible format characters; Unicode compatibility folding
(NFKD, so fullwidth, circled, mathematical letters and ligatures become plain ones, with accents split off and
dropped); casefolding; confusable homoglyphs (Cyrillic, Greek, IPA look-alikes) to Latin. Per token: leetspeak
digits and symbols to letters when the token also has letters (so "k1ll" is "kill" but "911" stays). Then two
views of the text: separators as spaces (words as written) and separators removed with spaced-out letters
joined ("k.i.l.l", "k i l l", "f-r-a-u-d"). Matching runs on both; spans map back to the original text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Look-alikes that NFKD does not fold (after casefolding). A small, deliberate table, not Unicode's full list.
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ү": "y", "ӏ": "l", "ɡ": "g", "п": "n", "г": "r", "ь": "b", "з": "3", "д": "d", "л": "n",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "o", "μ": "u", "λ": "l", "θ": "o",
    # Latin look-alikes without a decomposition
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ƀ": "b", "ɑ": "a", "ɩ": "i", "ʟ": "l",
    "ɪ": "i", "ɴ": "n", "ʀ": "r", "ꜱ": "s", "ᴀ": "a", "ᴇ": "e", "ᴏ": "o", "ᴜ": "u", "ʏ": "y", "ß": "ss",
    "æ": "ae", "œ": "oe", "þ": "th",
}
LEET = {"0": "o", "1": "i", "2": "z", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
        "@": "a", "$": "s", "!": "i", "|": "i", "+": "t", "€": "e", "£": "l", "¢": "c", "(": "c"}
INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}
MIN_SPACED_RUN = 3  # "k i l l": at least this many single letters in a row are joined


@dataclass(frozen=True)
class View:
    """Normalised text and, for each of its characters, the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]
    unbounded: tuple[tuple[int, int], ...] = ()  # spans of evenly spaced-out letters: no word boundaries known

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span of normalised ``text[start:end]``."""
        return self.origin[start], self.origin[end - 1] + 1


def _fold_char(ch: str) -> str:
    if ch in INVISIBLE or unicodedata.category(ch) in ("Cf", "Cc") and not ch.isspace():
        return ""
    if ch.isspace():
        return " "
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me"):
            continue
        for c in part.casefold():
            out.append(CONFUSABLES.get(c, c))
    return "".join(out)


def _folded(text: str) -> list[tuple[str, int]]:
    return [(c, i) for i, ch in enumerate(text) for c in _fold_char(ch)]


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
        lone_digit = b - a == 1 and chars[a][0].isdigit() and len(ranges) > 1 and (
            (n == 0 or wordy[n - 1]) and (n + 1 == len(ranges) or wordy[n + 1]))
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


def _view(chars: list[tuple[str, int]], unbounded: list[tuple[int, int]] | None = None) -> View:
    return View("".join(c for c, _ in chars), tuple(i for _, i in chars), tuple(unbounded or ()))


def views(text: str) -> tuple[View, View]:
    """The two normalised views of ``text``: separators as spaces, and separators removed (letters joined)."""
    chars = _deleet(_folded(text))
    spaced = _collapse_spaces([(c if c.isalnum() else " ", i) for c, i in chars])
    joined, even_runs = _join_spaced_letters(chars)
    return _view(spaced), _view(joined, even_runs)


def normalize(text: str) -> str:
    """The words-as-written view, e.g. for normalising blocklist terms the same way as requests."""
    return views(text)[0].text
