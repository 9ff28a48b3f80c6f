"""The pipeline a request runs through, below the public entry points (``api``, ``longform``, ``streaming``):
validate -> guardrails (``check_request``) -> models -> training-free routes -> semantic -> coarse -> fine ->
decoder -> ``postprocess_audio`` -> watermark (``seal_audio``, always last) -> ``generation_finished``.
``run_batch`` runs requests as one batch; ``bark_omni.api.run`` runs one (and hands long text to ``longform``)."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

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

if TYPE_CHECKING:  # pragma: no cover
    from .routes import Routed
    from .specs import DecoderSpec

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
    _check_call(requests, device, decoder_options, adapters, progress)
    host = host or default_host()
    _check_inputs(host, requests, finish)
    batch = _prepare(host, requests, device, decoder_options, adapters)
    tokens = _generate_tokens(batch, progress)
    results = []
    for i, request in enumerate(requests):
        t4 = time.perf_counter()
        audio = np.asarray(batch.decode(tokens.fine[i]), dtype=np.float32)
        row = dict(semantic=tokens.semantic[i], coarse=tokens.coarse[i], fine=tokens.fine[i],
                   sample_rate=batch.decoder.sample_rate, request=request, host=host)
        routes = batch.routed.records[i]
        if not finish:
            results.append(GenerationResult(audio=audio, extras={"routes": routes} if routes else {}, **row))
            continue
        timings = dict(tokens.timings, decode_s=time.perf_counter() - t4, batch_size=len(requests))
        results.append(_finish_row(batch, audio, row, timings, routes, device, decoder_options, adapters))
    return results


@dataclasses.dataclass
class _Batch:
    """What a batch runs with, once every input is checked and the models are loaded."""

    host: Host
    models: Any  # BarkModels (or the offloading stack)
    routed: Routed  # the requests after the training-free routes (cues in the text, voice prompts), route records
    prompts: list[dict | None]
    decoder: DecoderSpec
    decode: Callable[[np.ndarray], np.ndarray]  # fine (or, for a preview, coarse) tokens -> audio
    preset: Any  # SpeedPreset
    weights: str
    generators: list[Any]
    conditioning: Any  # fusion conditioning, or None without modalities for adapters


@dataclasses.dataclass
class _Tokens:
    semantic: list[np.ndarray]
    coarse: list[np.ndarray]
    fine: list[np.ndarray]
    timings: dict[str, float]


def _check_inputs(host: Host, requests: Sequence[GenerationRequest], finish: bool) -> None:
    """Guardrails (unless the caller runs them on the whole), modalities and control-event kinds, before loading."""
    for request in requests if finish else ():
        check_request(host, request)
    bundles = [request.modalities or ModalityBundle() for request in requests]
    for bundle in bundles:  # unknown priorities: InvalidInputError; inputs with no adapter: MissingPluginError
        host.check_modalities(bundle)
    for bundle in bundles:
        check_control_kinds(bundle.control_events, host.control_kinds)


def _prepare(host: Host, requests: Sequence[GenerationRequest], device: str | None,
             decoder_options: dict[str, Any] | None, adapters: Any) -> _Batch:
    """Load the models, voice prompts and decoder, apply the training-free routes, build the conditioning."""
    import torch

    from .offload import load_stack
    from .prompts import load_history_prompt
    from .routes import route_requests  # training-free routes: modalities no adapter takes become cues/voice prompts
    from .speed import speed_preset, weight_format

    first = requests[0]
    decoder_spec = host.decoder(first.decoder)
    prompts = [load_history_prompt(r.history_prompt, host) if r.history_prompt is not None else None for r in requests]
    models = load_stack(first.model, host, device)  # SUNO_OFFLOAD_CPU: one GPT stage resident at a time
    routed = route_requests(host, models, requests, adapters)
    prompts = routed.prompts(prompts, lambda value: load_history_prompt(value, host))
    decode = decoder_spec.load(models, dict(decoder_options or {}))  # bad decoder options fail before generation
    preset = speed_preset(first.options.speed)
    if preset.skip_fine:  # a preview: the 2 coarse codebooks go to EnCodec at 1.5 kbps
        from .loop import codec_decode

        decode = functools.partial(codec_decode, models.codec)
    conditioning = None
    if any(not bundle.empty for bundle in routed.bundles):
        from .fusion import build_conditioning

        conditioning = build_conditioning(host, models, routed.bundles, adapters)
    return _Batch(
        host=host, models=models, routed=routed, prompts=prompts,
        decoder=decoder_spec, decode=decode, preset=preset,
        weights=weight_format(preset, str(models.device)),  # exact: "fp32", the loaded modules themselves
        generators=[torch.Generator(device=models.device).manual_seed(r.seed) if r.seed is not None else None
                    for r in requests],
        conditioning=conditioning,
    )


def _generate_tokens(batch: _Batch, progress: Progress | None) -> _Tokens:
    """Semantic -> coarse -> fine for every row (each stage resident only while it runs under offload)."""
    from . import loop as gen
    from .offload import running

    models, preset, prompts, generators = batch.models, batch.preset, batch.prompts, batch.generators
    requests = batch.routed.requests
    options = requests[0].options
    stage_conditioning = (lambda stage: batch.conditioning.for_stage(stage) if batch.conditioning else None)
    t0 = time.perf_counter()
    texts = [gen.encode_text(models.tokenizer, r.text) if r.text is not None else gen.empty_text() for r in requests]
    with running(models, "text", preset) as module:
        semantic = gen.generate_semantic_batch(
            module, texts, [prompt["semantic_prompt"] if prompt else None for prompt in prompts],
            **_fields(options.semantic), generators=generators, conditioning=stage_conditioning("semantic"),
            progress=progress,
        )
        del module  # with SUNO_OFFLOAD_CPU the stage is freed when the block ends: hold no reference past it
    _check_semantic(semantic)
    t1 = time.perf_counter()
    histories = [gen.coarse_history(prompt["semantic_prompt"], prompt["coarse_prompt"], options.coarse.max_coarse_history)
                 if prompt else None for prompt in prompts]
    with running(models, "coarse", preset) as module:
        coarse = gen.generate_coarse_batch(module, semantic, histories, **_fields(options.coarse), generators=generators,
                                           conditioning=stage_conditioning("coarse"), progress=progress)
        del module
    t2 = time.perf_counter()
    if preset.skip_fine:  # a preview: ``batch.decode`` reads the coarse codebooks
        fine = coarse
    else:
        with running(models, "fine", preset) as module:
            fine = gen.generate_fine_batch(module, coarse, [prompt["fine_prompt"] if prompt else None for prompt in prompts],
                                           **_fields(options.fine), generators=generators, progress=progress,
                                           pad_window=not preset.fine_real_length)
            del module
    t3 = time.perf_counter()
    return _Tokens(semantic, coarse, fine, dict(semantic_s=t1 - t0, coarse_s=t2 - t1, fine_s=t3 - t2))


def _check_semantic(semantic: list[np.ndarray]) -> None:
    for i, tokens in enumerate(semantic):
        if len(tokens) == 0:
            which = f" for request {i}" if len(semantic) > 1 else ""
            raise InvalidInputError(f"the model produced no semantic tokens{which} (it ended at once); try another seed or temperature")


def _finish_row(batch: _Batch, audio: np.ndarray, row: dict[str, Any], timings: dict[str, float], routes: Any,
                device: str | None, decoder_options: dict[str, Any] | None, adapters: Any) -> GenerationResult:
    """One row's safety and records: ``postprocess_audio``, the watermark (last), notes, ``generation_finished``."""
    host, request, sample_rate = batch.host, row["request"], batch.decoder.sample_rate
    t5 = time.perf_counter()
    audio = host.pm.hook.postprocess_audio(audio=audio, sample_rate=sample_rate, request=request)
    audio, mark = seal_audio(host, np.asarray(audio, dtype=np.float32), sample_rate, request)
    result = GenerationResult(audio=np.asarray(audio, dtype=np.float32), timings={**timings, "postprocess_s": time.perf_counter() - t5},
                              model_fingerprint=batch.models.fingerprint, safety_notes=safety_notes(host, mark), **row)
    if mark is not None:
        result.extras["watermark"] = mark
    result.extras.update(speed=batch.preset.name, weights=batch.weights)
    if routes:
        result.extras["routes"] = routes
    result.extras.update(decoder_options=dict(decoder_options or {}), device=device,
                         adapters=str(adapters) if isinstance(adapters, (str, os.PathLike)) else None)
    host.pm.hook.generation_finished(request=request, result=result)
    return result


def _fields(record: Any) -> dict[str, Any]:
    """An options record as the keyword arguments of the loop function of its stage."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
