"""The training-free image route: CLIP zero-shot scoring of a vocabulary of scenes and sounds -> a text prefix.

Each ``SceneSound`` (the built-in ``SCENE_SOUNDS`` and any a plugin registers with ``register_scene_sounds``) is a
description CLIP scores the image against and the cue Bark understands that it becomes ("[music]", "♪",
"[laughter]", ambience words). Scores are CLIP's: cosine similarity of the normalised embeddings times its logit
scale, softmaxed over the vocabulary. The route keeps the ``round(2 * priority)`` best descriptions (1 to 4; 2 at
the default priority 1), drops any under half the best one's probability, and puts their cues before the text.
The encoder is the image adapter's: the tiny deterministic CLIP for the tiny Bark, real CLIP weights from the local
cache for real Bark.
"""

from __future__ import annotations

from typing import Any, Sequence

from bark_omni.specs import RouteCall, RouteOutcome, SceneSound

SCENE_SOUNDS: tuple[SceneSound, ...] = (
    SceneSound("concert", "musicians playing instruments on a stage", "[music]"),
    SceneSound("singer", "a person singing into a microphone", "♪"),
    SceneSound("party", "people laughing together at a party", "[laughter]"),
    SceneSound("crowd", "a cheering crowd in a stadium", "(crowd cheering)"),
    SceneSound("rain", "a rainy street at night", "(rain)"),
    SceneSound("beach", "a beach with ocean waves", "(ocean waves)"),
    SceneSound("forest", "a forest full of birds", "(birds chirping)"),
    SceneSound("city", "a busy city street with traffic", "(traffic)"),
    SceneSound("church", "the inside of a large cathedral", "(echo)"),
    SceneSound("storm", "a thunderstorm with lightning", "(thunder)"),
    SceneSound("campfire", "a campfire at night", "(crackling fire)"),
    SceneSound("kitchen", "a kitchen with food cooking", "(sizzling)"),
    SceneSound("dog", "a dog", "(dog barking)"),
    SceneSound("office", "a quiet office", "..."),
    SceneSound("studio", "a radio studio with a microphone", ""),
)


def keep_count(priority: float) -> int:
    return max(1, min(4, round(2 * priority)))


def choose(scores: Sequence[float], priority: float) -> list[int]:
    """Indices of the descriptions to keep, best first (see the module docstring)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])[: keep_count(priority)]
    return [i for i in order if scores[i] >= 0.5 * scores[order[0]]]


def _clip(host: Any, models: Any) -> tuple[Any, Any, Any, str]:
    """(CLIP model, image transform, tokenizer, encoder name), built once per host."""
    from .adapter import default_encoder
    from .encoder import TINY, build_clip

    chosen = default_encoder(models)

    def build() -> tuple[Any, Any, Any, str]:
        import open_clip

        model, preprocess = build_clip(chosen["encoder"], chosen["pretrained"])
        size = model.visual.image_size if hasattr(model.visual, "image_size") else 224
        transform = open_clip.image_transform(size, is_train=False, mean=preprocess.get("mean"),
                                              std=preprocess.get("std"))
        if chosen["encoder"] == TINY:  # the tiny text tower has a 64-token vocabulary: fold the real ids into it
            vocab, length = model.vocab_size, model.context_length

            def tokenize(texts: list[str]) -> Any:
                return open_clip.tokenize(texts, context_length=length) % vocab
        else:
            tokenize = open_clip.get_tokenizer(chosen["encoder"])
        return model, transform, tokenize, chosen["encoder"]

    return host.cached("route-clip", (chosen["encoder"], chosen["pretrained"]), build)


def score(call: RouteCall, vocabulary: Sequence[SceneSound]) -> tuple[list[float], str]:
    """CLIP's probability of each vocabulary entry for the image, and the encoder's name."""
    import torch

    from .loading import load_image

    model, transform, tokenize, name = _clip(call.host, call.models)
    pixels = transform(load_image(call.value))[None]
    with torch.no_grad():
        image = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1)
        texts = torch.nn.functional.normalize(model.encode_text(tokenize([v.description for v in vocabulary])), dim=-1)
        logits = model.logit_scale.exp() * image @ texts.T
    return logits.softmax(dim=-1)[0].tolist(), name


def image_route(call: RouteCall) -> RouteOutcome:
    """The image -> scored descriptions -> cue prefix (see the module docstring)."""
    vocabulary = list(call.host.scene_sounds.values()) or list(SCENE_SOUNDS)
    probabilities, encoder = score(call, vocabulary)
    kept = choose(probabilities, call.priority)
    cues = [vocabulary[i].cue for i in kept if vocabulary[i].cue]
    prefix = " ".join(dict.fromkeys(cues))
    text = " ".join(part for part in (prefix, (call.text or "").strip()) if part)
    ranked = sorted(range(len(vocabulary)), key=lambda i: -probabilities[i])[:5]
    details = {"encoder": encoder, "chosen": [{"name": vocabulary[i].name, "description": vocabulary[i].description,
                                               "cue": vocabulary[i].cue, "score": round(probabilities[i], 4)} for i in kept],
               "top": [{"name": vocabulary[i].name, "score": round(probabilities[i], 4)} for i in ranked]}
    names = ", ".join(vocabulary[i].name for i in kept)
    return RouteOutcome(did=f"image read by CLIP as {names}; prefixed {prefix or 'nothing'!s}",
                        text=text if prefix else None, details=details)
