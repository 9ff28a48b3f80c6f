"""bark-omni-guardrails: a blocklist checked on every request's text, captions and control values before any
generation. A match blocks the request (``RequestBlocked``, CLI exit code 3) with its category and the span in
the original text. Turning it off takes an explicit ``--no-guardrails`` / ``Host(block=["guardrails"])``.

Python API: ``check_text(text)``, ``check_request(request)`` (both return a ``Verdict``), ``evaluate(prompts)``.
"""

from __future__ import annotations

from typing import Any

_EVALUATION = ("EvalReport", "Prompt", "evaluate", "shipped_prompts", "synthetic_prompts")
from importlib.metadata import version as _distribution_version  # noqa: E402

__version__ = _distribution_version("bark-omni-guardrails")  # VERSION at the repository root is the one source
PLUGIN_NAME = "guardrails"


def _verdict(text: str, field: str, blocklist: Any) -> Any:
    from bark_omni.specs import Verdict

    hit = blocklist.first_hit(text)
    if hit is None:
        return Verdict(allowed=True, field=field, plugin=PLUGIN_NAME)
    start, end = hit.span
    return Verdict(
        allowed=False, category=hit.category, field=field, span=hit.span, plugin=PLUGIN_NAME,
        reason=f"{text[start:end]!r} matches the {hit.category} rule {hit.rule!r}; rephrase the request "
               f"(see docs/responsible-use.md to adjust the blocklist)",
    )


def check_text(text: str, field: str = "text", config: tuple[str, ...] | None = None) -> Any:
    """The verdict on one string. ``config``: TOML files to add (default: ``$BARK_OMNI_GUARDRAILS_CONFIG``)."""
    from .blocklist import config_paths, load_blocklist

    return _verdict(text, field, load_blocklist(config_paths() if config is None else tuple(config)))


def request_texts(request: Any) -> list[tuple[str, str]]:
    """Every piece of text a request carries: the text, the style caption, strings in control events."""
    from .blocklist import iter_texts

    found = []
    if isinstance(request.text, str):
        found.append(("text", request.text))
    modalities = request.modalities
    if modalities is not None:
        if isinstance(modalities.style_text, str):
            found.append(("style_text", modalities.style_text))
        if modalities.control_events:
            found.extend(iter_texts(list(modalities.control_events), "control_events"))
    return found


def check_request(request: Any, config: tuple[str, ...] | None = None) -> Any:
    """The first blocking verdict among the request's texts, else an allowing one."""
    from bark_omni.specs import Verdict

    from .blocklist import config_paths, load_blocklist

    blocklist = load_blocklist(config_paths() if config is None else tuple(config))
    for field, text in request_texts(request):
        verdict = _verdict(text, field, blocklist)
        if not verdict.allowed:
            return verdict
    return Verdict(allowed=True, plugin=PLUGIN_NAME)


def __getattr__(name: str) -> Any:
    """The evaluation API loads on first use: it imports numpy, which CLI start-up must not."""
    if name in _EVALUATION:
        from . import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EvalReport", "Prompt", "check_request", "check_text", "evaluate", "request_texts", "shipped_prompts",
           "synthetic_prompts"]
