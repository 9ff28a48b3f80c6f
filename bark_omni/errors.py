"""Typed errors. Every message is one line that says what to do; the CLI prints it and exits non-zero."""

from __future__ import annotations

from typing import Any

SHORT = 60
"""How many characters of a user's value a message quotes at most."""


def shorten(value: Any, limit: int = SHORT) -> str:
    """``repr(value)`` cut to about ``limit`` characters (``'aaaa...' (1000 chars)``), for quoting inputs in messages."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} chars)" if isinstance(value, str) else f" ({type(value).__name__})"
    return text[: max(limit - 3, 1)] + "..." + size


def short_path(path: Any, limit: int = 70) -> str:
    """A path for a one-line message: its end (the file name) kept, the start cut when it is long."""
    text = str(path)
    return text if len(text) <= limit else "..." + text[-(limit - 3):]


class BarkOmniError(Exception):
    """Base class: anything bark-omni raises on purpose."""

    exit_code = 2


class InvalidInputError(BarkOmniError, ValueError):
    """An argument to generation is unusable (empty text, bad temperature, bad audio or image...)."""


class PromptError(InvalidInputError):
    """A voice prompt (history_prompt) is unknown or malformed."""


class ModelNotFoundError(BarkOmniError, FileNotFoundError):
    """A model name or directory resolves to no usable weights."""


class CheckpointError(BarkOmniError):
    """A checkpoint file is unreadable, of the wrong kind, or does not fit the model."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle asks for code outside the allowlist; it was refused and nothing ran."""


class PluginError(BarkOmniError):
    """A plugin failed to load, or implements a hook that does not exist."""


class PluginHookError(PluginError):
    """A plugin's hook implementation raised; ``plugin`` and ``hook`` name it (the original is ``__cause__``)."""

    def __init__(self, message: str, plugin: str = "", hook: str = ""):
        super().__init__(message)
        self.plugin, self.hook = plugin, hook


class PluginWarning(UserWarning):
    """A plugin failed in a hook whose failure is survivable (an observer, a registration): it was skipped."""


class OutputError(BarkOmniError, OSError):
    """An output file could not be written (out of disk space, a quota, a file too large); nothing was left."""


class MissingPluginError(BarkOmniError, LookupError):
    """A request needs an adapter or decoder that no installed plugin provides."""


class RequestBlocked(BarkOmniError):
    """A guardrail refused the request before generation."""

    exit_code = 3

    def __init__(self, message: str, verdict: object | None = None):
        super().__init__(message)
        self.verdict = verdict


def err(message: str) -> None:
    """Print one message line on stderr (progress and messages go there; data goes to stdout)."""
    import sys

    print(message, file=sys.stderr, flush=True)
