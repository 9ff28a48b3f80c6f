"""Typed errors of the evaluation package (one-line messages that say what to do)."""

from __future__ import annotations

from bark_omni.errors import BarkOmniError, InvalidInputError


class MetricUnavailable(BarkOmniError):
    """A metric cannot run here: a package, a tool or model weights are missing, or the input gives it nothing
    to measure. Suites record it as a skip with this message instead of failing."""

    exit_code = 4


class SuiteError(InvalidInputError):
    """A suite file or a baseline file is malformed."""
