"""The training-free reference-audio route: the recording becomes a full voice prompt used as ``history_prompt``.

The clip is read like the adapter reads it (mono, 24 kHz, loudness-normalised; at most ``MAX_SECONDS``, the
start kept; users report 5 to 12 s of clean speech ending at a sentence boundary work best), then
``bark_omni.prompts.prompt_from_audio`` makes the prompt with the model's own EnCodec (coarse and fine parts) and
the host's semantic tokenizer (``register_semantic_tokenizers``; bark-omni-semantic provides HuBERT + a
quantizer). Without one the prompt is acoustic-only, which the record and a warning say. Priority: > 0 switches
it on; above 1 the clip's prompt replaces a ``history_prompt`` the caller gave.
"""

from __future__ import annotations

import warnings

from bark_omni.constants import SAMPLE_RATE
from bark_omni.specs import RouteCall, RouteOutcome

from .loading import load_reference_audio

MIN_SECONDS, MAX_SECONDS, TARGET_LUFS = 1.0, 12.0, -23.0


def voice_route(call: RouteCall) -> RouteOutcome:
    from bark_omni.prompts import AcousticOnlyPromptWarning, prompt_from_audio, semantic_tokenizer_spec

    samples = load_reference_audio(call.value, min_seconds=MIN_SECONDS, max_seconds=MAX_SECONDS, target_lufs=TARGET_LUFS)
    models = call.models
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AcousticOnlyPromptWarning)
        prompt = prompt_from_audio(samples, sample_rate=SAMPLE_RATE, codec=models.codec, model=models.source,
                                   host=call.host, device=models.device)
    semantic = int(prompt["semantic_prompt"].size)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, AcousticOnlyPromptWarning))
    details = {"seconds": round(len(samples) / SAMPLE_RATE, 3), "semantic_tokens": semantic,
               "coarse_frames": int(prompt["coarse_prompt"].shape[1]),
               "semantic_tokenizer": getattr(semantic_tokenizer_spec(call.host), "name", None) if semantic else None}
    part = "semantic + coarse + fine" if semantic else "coarse + fine only (no semantic tokenizer)"
    return RouteOutcome(did=f"voice prompt from the recording ({part}) as history_prompt", history_prompt=prompt,
                        details=details, notes=notes)
