"""Text normalisation for WER: Bark prompts carry cues ([laughs], ♪, CAPS for emphasis) that nobody speaks."""

from __future__ import annotations

import re

_CUE = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # [laughs], [music], (sighs)
_MUSIC = re.compile(r"[♪♫♬]")
_DASHES = re.compile(r"[-–—_/]+")
_NOT_WORD = re.compile(r"[^\w\s']")
_QUOTES = re.compile(r"(^|\s)'+|'+(\s|$)")


def normalize_transcript(text: str) -> str:
    """Lower-case words only: cues, music notes, punctuation and stray quotes removed, spaces collapsed.

    >>> normalize_transcript("♪ Hello, WORLD! [laughs] It's — fine...")
    "hello world it's fine"
    """
    text = _MUSIC.sub(" ", _CUE.sub(" ", text))
    text = _DASHES.sub(" ", text.lower())
    text = _QUOTES.sub(r"\1\2", _NOT_WORD.sub(" ", text))
    return " ".join(text.split())
