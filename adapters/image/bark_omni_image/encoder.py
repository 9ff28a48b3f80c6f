"""The frozen open_clip vision encoder: real CLIP weights from the local cache, or the tiny deterministic one.

Real weights are never downloaded here (tests and generation run offline): ``encoder="ViT-B-32"`` with
``pretrained="laion2b_s34b_b79k"`` loads them only if a previous online run left them in the Hugging Face cache,
and otherwise says how to fetch them. ``encoder="tiny"`` builds a 2-layer, 64-wide CLIP vision tower with
open_clip's own classes from a fixed seed: it means nothing, but runs everywhere in milliseconds.
``pretrained`` may also be a local weight file (``.safetensors``, or a ``.bin``/``.pt`` state dict read safely)
for the architecture ``encoder`` names, the tiny one included: a fine-tuned CLIP, or the proof's pretrained tiny
CLIP (``bark_omni_train.encoder_pretraining``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bark_omni.errors import InvalidInputError, ModelNotFoundError

TINY = "tiny"
TINY_SEED = 4321
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"layers": 2, "width": 64, "head_width": 32, "patch_size": 8, "image_size": 32},
    "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
LOCAL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass
class VisionEncoder:
    """A frozen vision tower and how to prepare images for it."""

    visual: Any  # open_clip's VisionTransformer (or another tower), frozen, eval mode
    transform: Any  # PIL image -> (3, S, S) normalised tensor
    embed_dim: int  # width of the pooled embedding
    token_dim: int | None  # width of the patch tokens, None if the tower has none


def cached_checkpoint(name: str, pretrained: str) -> Path | None:
    """The local file of open_clip's ``pretrained`` weights for ``name``, if a previous download left one."""
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise InvalidInputError(f"open_clip has no weights {pretrained!r} for {name!r} (known: {known})")
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return Path(cfg["file"])
    repo, filename = os.path.split(cfg.get("hf_hub", ""))  # open_clip's convention: "org/name/" or "org/name/file"
    for candidate in ((filename,) if filename else WEIGHT_FILES):
        found = try_to_load_from_cache(repo, candidate) if repo else None
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def build_encoder(name: str, pretrained: str | None, device: str) -> VisionEncoder:
    model, preprocess = build_clip(name, pretrained)
    return vision_encoder(model, preprocess, device)


def build_clip(name: str, pretrained: str | None) -> tuple[Any, dict[str, Any]]:
    """The whole frozen CLIP (vision and text towers, on the CPU) and its preprocessing config."""
    import open_clip
    import torch

    path = local_weights(pretrained)
    if name == TINY:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = open_clip.CLIP(**TINY_CLIP)
        preprocess: dict[str, Any] = {}
    else:
        if open_clip.get_model_config(name) is None:
            raise InvalidInputError(f"unknown open_clip model {name!r}; see open_clip.list_models()")
        if not pretrained:
            raise InvalidInputError(f"image adapter: name the weights of {name!r} with config pretrained=...")
        model = open_clip.create_model(name)
        preprocess = {} if path else open_clip.get_pretrained_cfg(name, pretrained)
        path = path or cached_checkpoint(name, pretrained)
        if path is None:
            raise ModelNotFoundError(
                f"no local weights for open_clip {name} ({pretrained}); fetch them once online with "
                f"python -c \"import open_clip; open_clip.create_model('{name}', pretrained='{pretrained}')\""
            )
    if path is not None:
        _load_weights(model, path, name)
    return model.eval().requires_grad_(False), preprocess


def local_weights(pretrained: str | None) -> Path | None:
    """``pretrained`` as a local weight file (None when it is an open_clip tag, or empty); a path that names no
    file is an error, not a tag."""
    if not pretrained or not str(pretrained).endswith(LOCAL_SUFFIXES):
        return None
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"image encoder weights {path} not found; pass an existing file or an open_clip tag")
    return path


def _load_weights(model: Any, path: Path, name: str) -> None:
    try:
        model.load_state_dict(_read_state_dict(path))
    except RuntimeError as exc:  # missing or unexpected keys, wrong shapes
        first = str(exc).splitlines()[0][:80]
        raise InvalidInputError(f"{path.name} does not fit open_clip {name!r} ({first}); pass weights of that model") from None


def vision_encoder(model: Any, preprocess: dict[str, Any], device: str) -> VisionEncoder:
    import open_clip

    visual = model.visual.to(device).eval().requires_grad_(False)
    token_dim = getattr(visual, "transformer", None) and visual.transformer.width
    if token_dim:
        visual.output_tokens = True
    size = visual.image_size if hasattr(visual, "image_size") else 224
    transform = open_clip.image_transform(
        size, is_train=False, mean=preprocess.get("mean"), std=preprocess.get("std"),
        resize_mode=preprocess.get("resize_mode"), interpolation=preprocess.get("interpolation"),
    )
    return VisionEncoder(visual, transform, embed_dim=visual.output_dim, token_dim=token_dim or None)


def _read_state_dict(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    from bark_omni.safe_load import safe_torch_load

    state = safe_torch_load(path)
    return state.get("state_dict", state)
