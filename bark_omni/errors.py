"""Typed errors. Every message is one line that says what to do; the CLI prints it and exits non-zero."""

from __future__ import annotations


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


class MissingPluginError(BarkOmniError, LookupError):
    """A request needs an adapter or decoder that no installed plugin provides."""


class RequestBlocked(BarkOmniError):
    """A guardrail refused the request before generation."""

    exit_code = 3

    def __init__(self, message: str, verdict: object | None = None):
        super().__init__(message)
        self.verdict = verdict
