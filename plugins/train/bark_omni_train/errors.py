"""Typed errors of training: each message is one line that says what to do."""

from __future__ import annotations

from bark_omni.errors import BarkOmniError, InvalidInputError


class DataError(InvalidInputError):
    """A manifest or a file it names is unusable; the message names the rows."""


class ConfigError(InvalidInputError):
    """A training config has an unknown key, a wrong type or an impossible value."""


class ResumeError(BarkOmniError):
    """A run directory cannot be resumed (or would be overwritten) as asked."""


def name_rows(problems: list[str], limit: int = 3) -> str:
    """``"a; b; c (and 4 more)"``: a one-line summary that names the first rows."""
    shown = "; ".join(problems[:limit])
    return shown + (f" (and {len(problems) - limit} more)" if len(problems) > limit else "")
