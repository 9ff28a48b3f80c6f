"""The pipeline a request runs through, below the public entry points (``api``, ``longform``, ``streaming``):
validate -> guardrails (``check_request``) -> models -> training-free routes -> semantic -> coarse -> fine ->
decoder -> ``postprocess_audio`` -> watermark (``seal_audio``, always last) -> ``generation_finished``.
``run_batch`` runs requests as one batch; ``bark_omni.api.run`` runs one (and hands long text to ``longform``)."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InvalidInputError, RequestBlocked, shorten
from .host import Host, default_host
from .hub import is_hub_id
from .modality import ModalityBundle
from .options import GenerationOptions
from .specs import GenerationRequest, GenerationResult
from .validate import (
    check_control_events,
    check_control_kinds,
    check_device,
    check_history_prompt,
    check_input_file,
    check_mapping,
    check_seed,
    check_text,
)

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as a stage advances (the same type as ``loop.Progress``)."""


def validate_request(request: GenerationRequest) -> None:
    """Check a request's own fields (types, ranges, files that must exist); raises ``InvalidInputError``."""
    if not isinstance(request, GenerationRequest):
        raise InvalidInputError(f"expected a GenerationRequest (see bark_omni.build_request); got {shorten(request)}")
    if not isinstance(request.options, GenerationOptions):
        raise InvalidInputError(f"request.options must be a GenerationOptions; got {shorten(request.options)}")
    modalities = request.modalities if request.modalities is not None else ModalityBundle()
    if not isinstance(modalities, ModalityBundle):
        raise InvalidInputError(f"modalities must be a ModalityBundle; got {shorten(modalities)}")
    if request.text is None and modalities.empty:
        raise InvalidInputError("nothing to generate from: pass text (e.g. text='Hello.') or another modality")
    if request.text is not None:
        check_text("text", request.text)
        if not request.text.strip() and modalities.empty:
            raise InvalidInputError("text is empty; pass the words to speak, e.g. text='Hello there.'")
    if modalities.style_text is not None:
        check_text("style_text", modalities.style_text)
    check_input_file("reference_audio", modalities.reference_audio)
    check_input_file("image", modalities.image)
    check_control_events(modalities.control_events)
    check_seed(request.seed)
    check_history_prompt(request.history_prompt)
    if not isinstance(request.model, str) or not request.model:
        raise InvalidInputError(f"model must be a name ('bark', 'bark-small', 'tiny') or a directory; got {shorten(request.model)}")
    if not isinstance(request.decoder, str) or not request.decoder:
        raise InvalidInputError(f"decoder must be a decoder name such as 'encodec'; got {shorten(request.decoder)}")


def check_request(host: Host, request: GenerationRequest) -> None:
    """Run every guardrail (``check_request`` hooks, then registered ``GuardrailSpec`` checks such as a
    classifier); the first refusal raises ``RequestBlocked``."""
    verdicts = list(host.pm.hook.check_request(request=request))
    for spec in host.guardrails.values():
        verdicts.append(host.call_plugin(spec, spec.check, request))
    for verdict in verdicts:
        if verdict is not None and not verdict.allowed:
            where = f" at {verdict.field}[{verdict.span[0]}:{verdict.span[1]}]" if verdict.span else ""
            raise RequestBlocked(
                f"request blocked by {verdict.plugin or 'a guardrail'} ({verdict.category}{where}): {verdict.reason}",
                verdict=verdict,
            )


def seal_audio(host: Host, audio: np.ndarray, sample_rate: int, request: GenerationRequest) -> tuple[np.ndarray, dict | None]:
    """The pipeline's last step: the host's watermarker marks the audio, after every ``postprocess_audio``
    implementation (a call, not a hook, so no plugin wrapper runs after it). (audio, record or None)."""
    spec = host.watermarker()
    if spec is None:
        return audio, None
    marked, record = host.call_plugin(spec, spec.apply, audio, sample_rate, request)  # fails closed, naming the plugin
    return np.asarray(marked, dtype=np.float32), {"watermarker": spec.name, **record}


def safety_notes(host: Host, mark: dict | None) -> list[str]:
    """What did not protect this output, in words: safety plugins the host left out, no guardrail, no mark.
    Each one also warns (``UserWarning``) so that a caller sees it, and the manifest records it."""
    import warnings

    notes = list(host.safety_notes)
    extra = []
    if not host.pm.hook.check_request.get_hookimpls() and not host.guardrails:
        extra.append("no guardrail checked the request (no check_request plugin is loaded)")
    if mark is None:
        extra.append("the audio is NOT watermarked (no watermarker plugin is loaded)")
    elif mark.get("note"):
        extra.append(str(mark["note"]))
    for note in extra:
        if note not in notes:
            warnings.warn(f"bark-omni: {note}; see docs/responsible-use.md", UserWarning, stacklevel=3)
            notes.append(note)
    return notes


def _check_call(requests: Sequence[GenerationRequest], device: Any, decoder_options: Any, adapters: Any,
                progress: Any) -> None:
    """The checks of a run that need no host: the requests themselves and the call's own arguments."""
    if isinstance(requests, (str, GenerationRequest)) or not isinstance(requests, Sequence) or not requests:
        raise InvalidInputError("run_batch takes a non-empty list of GenerationRequest (use run for one request)")
    for request in requests:
        validate_request(request)
    first = requests[0]
    if any((r.model, r.decoder, r.options) != (first.model, first.decoder, first.options) for r in requests[1:]):
        raise InvalidInputError("requests in one batch must share model, decoder and generation options; batch them separately")
    check_device(device)
    check_mapping("decoder_options", decoder_options, "{'steps': 10}")
    if isinstance(adapters, (str, os.PathLike)) and not is_hub_id(adapters):  # org/name: resolved when loaded
        check_input_file("adapters", adapters)
    if progress is not None and not callable(progress):
        raise InvalidInputError(f"progress must be a function progress(stage, done, total); got {shorten(progress)}")


def run_batch(
    requests: Sequence[GenerationRequest],
    *,
    host: Host | None = None,
    device: str | None = None,
    decoder_options: dict[str, Any] | None = None,
    adapters: Any = None,
    progress: Progress | None = None,
    finish: bool = True,
) -> list[GenerationResult]:
    """Run requests as one batch: every stage's forward passes are shared, each request keeps its own text,
    voice prompt, seed and modalities, and guardrails, post-processing and ``generation_finished`` run per
    request. Requests must share model, decoder and generation options. A batch of one is exactly ``run``;
    see ``loop``'s batch functions for how a batched row compares with the same request alone. Every input is
    checked before any model loads. ``finish=False`` (long-form segments) skips the guardrails, post-processing,
    watermark and ``generation_finished``: the caller runs them once on the joined audio."""
    import torch
    from .prompts import load_history_prompt

    from . import loop as gen
    from .offload import load_stack, running
    from .speed import speed_preset, weight_format

    _check_call(requests, device, decoder_options, adapters, progress)
    first = requests[0]
    host = host or default_host()
    for request in requests if finish else ():
        check_request(host, request)
    bundles = [request.modalities or ModalityBundle() for request in requests]
    for bundle in bundles:  # unknown priorities: InvalidInputError; inputs with no adapter: MissingPluginError
        host.check_modalities(bundle)
    for bundle in bundles:
        check_control_kinds(bundle.control_events, host.control_kinds)
    decoder_spec = host.decoder(first.decoder)
    prompts = [load_history_prompt(r.history_prompt, host) if r.history_prompt is not None else None for r in requests]
    models = load_stack(first.model, host, device)  # SUNO_OFFLOAD_CPU: one GPT stage resident at a time
    from .routes import route_requests  # training-free routes: modalities no adapter takes become cues/voice prompts

    routed = route_requests(host, models, requests, adapters)
    prompts = routed.prompts(prompts, lambda value: load_history_prompt(value, host))
    bundles = routed.bundles
    decode = decoder_spec.load(models, dict(decoder_options or {}))  # bad decoder options fail before generation
    preset = speed_preset(first.options.speed)
    weights = weight_format(preset, str(models.device))  # exact: "fp32", the loaded modules themselves
    semantic_options, coarse_options, fine_options = first.options.semantic, first.options.coarse, first.options.fine
    generators = [torch.Generator(device=models.device).manual_seed(r.seed) if r.seed is not None else None
                  for r in requests]
    conditioning = None
    if any(not bundle.empty for bundle in bundles):
        from .fusion import build_conditioning

        conditioning = build_conditioning(host, models, bundles, adapters)

    t0 = time.perf_counter()
    texts = [gen.encode_text(models.tokenizer, r.text) if r.text is not None else gen.empty_text() for r in routed.requests]
    with running(models, "text", preset) as module:
        semantic = gen.generate_semantic_batch(
            module, texts, [prompt["semantic_prompt"] if prompt else None for prompt in prompts],
            **_fields(semantic_options), generators=generators,
            conditioning=conditioning.for_stage("semantic") if conditioning else None, progress=progress,
        )
        del module  # with SUNO_OFFLOAD_CPU the stage is freed when the block ends: hold no reference past it
    for i, tokens in enumerate(semantic):
        if len(tokens) == 0:
            which = f" for request {i}" if len(requests) > 1 else ""
            raise InvalidInputError(f"the model produced no semantic tokens{which} (it ended at once); try another seed or temperature")
    t1 = time.perf_counter()
    histories = [gen.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], coarse_options.max_coarse_history)
                 if prompt else None for prompt in prompts]
    with running(models, "coarse", preset) as module:
        coarse = gen.generate_coarse_batch(
            module, semantic, histories, **_fields(coarse_options), generators=generators,
            conditioning=conditioning.for_stage("coarse") if conditioning else None, progress=progress,
        )
        del module
    t2 = time.perf_counter()
    if preset.skip_fine:  # a preview: the 2 coarse codebooks go to EnCodec at 1.5 kbps
        fine = coarse
        decode = functools.partial(gen.codec_decode, models.codec)
    else:
        with running(models, "fine", preset) as module:
            fine = gen.generate_fine_batch(module, coarse, [prompt["fine_prompt"] if prompt else None for prompt in prompts],
                                           **_fields(fine_options), generators=generators, progress=progress,
                                           pad_window=not preset.fine_real_length)
            del module
    t3 = time.perf_counter()
    results = []
    for request, routes, row_semantic, row_coarse, row_fine in zip(requests, routed.records, semantic, coarse, fine):
        t4 = time.perf_counter()
        audio = np.asarray(decode(row_fine), dtype=np.float32)
        t5 = time.perf_counter()
        if not finish:
            results.append(GenerationResult(semantic=row_semantic, coarse=row_coarse, fine=row_fine, audio=audio,
                                            sample_rate=decoder_spec.sample_rate, request=request, host=host,
                                            extras={"routes": routes} if routes else {}))
            continue
        audio = host.pm.hook.postprocess_audio(audio=audio, sample_rate=decoder_spec.sample_rate, request=request)
        audio, mark = seal_audio(host, np.asarray(audio, dtype=np.float32), decoder_spec.sample_rate, request)
        timings = dict(semantic_s=t1 - t0, coarse_s=t2 - t1, fine_s=t3 - t2, decode_s=t5 - t4,
                       postprocess_s=time.perf_counter() - t5, batch_size=len(requests))
        result = GenerationResult(
            semantic=row_semantic, coarse=row_coarse, fine=row_fine, audio=np.asarray(audio, dtype=np.float32),
            sample_rate=decoder_spec.sample_rate, timings=timings, model_fingerprint=models.fingerprint,
            safety_notes=safety_notes(host, mark), request=request, host=host,  # request and host: result.save
        )
        if mark is not None:
            result.extras["watermark"] = mark
        result.extras.update(speed=preset.name, weights=weights)
        if routes:
            result.extras["routes"] = routes
        result.extras.update(decoder_options=dict(decoder_options or {}), device=device,
                             adapters=str(adapters) if isinstance(adapters, (str, os.PathLike)) else None)
        host.pm.hook.generation_finished(request=request, result=result)
        results.append(result)
    return results


def _fields(record: Any) -> dict[str, Any]:
    """An options record as the keyword arguments of the loop function of its stage."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
