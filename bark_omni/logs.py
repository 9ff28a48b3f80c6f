"""Log lines on stderr for the command line: ``-v`` (info), ``-vv`` (debug) or ``--log-level NAME``."""

from __future__ import annotations

import logging

from .errors import InvalidInputError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(verbose: int = 0, level: str | None = None) -> int:
    """Send bark-omni's (and its plugins') log records to stderr at the chosen level; returns that level."""
    if level is not None:
        if level.lower() not in LEVELS:
            raise InvalidInputError(f"--log-level must be one of {', '.join(LEVELS)}; got {level!r}")
        chosen = LEVELS[level.lower()]
    else:
        chosen = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=chosen, format="%(levelname)s %(name)s: %(message)s")
    for name in ("bark_omni", "bark_omni_compat", "bark"):
        logging.getLogger(name).setLevel(chosen)
    return chosen
