"""Loading the semantic tokenizer (HuBERT + quantizer head) for a Bark model: the tiny pair for the tiny Bark, else
HuBERT base and a community or self-distilled quantizer. Below both the plugin and the distillation recipe."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


NAME = "hubert-quantizer"
QUANTIZER_ENV, HUBERT_ENV = "BARK_OMNI_QUANTIZER", "BARK_OMNI_HUBERT"
COMMUNITY_REPO = "GitMylo/bark-voice-cloning"
COMMUNITY_FILE = "quantifier_hubert_base_ls960_14.pth"
TINY_HEAD = {"input_size": 32, "hidden_size": 64}
TINY_HEAD_SEED = 1357


def is_tiny(model: str) -> bool:
    from bark_omni.tiny import tiny_model_path

    return model == "tiny" or Path(model).expanduser().resolve() == tiny_model_path().resolve()


def tiny_head() -> Any:
    import torch

    from .quantizer import QuantizerHead

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_HEAD_SEED)
        return QuantizerHead(**TINY_HEAD).eval()


def community_quantizer() -> Path | None:
    """The community quantizer in the local Hugging Face cache, if a previous download left it."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(COMMUNITY_REPO, COMMUNITY_FILE)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def load_tokenizer(model: str, device: str, options: dict[str, Any]) -> Any:
    """The semantic tokenizer for ``model``: the tiny HuBERT and head for the tiny Bark, else HuBERT base
    (``$BARK_OMNI_HUBERT`` or the hub cache) and a quantizer (``$BARK_OMNI_QUANTIZER``: ours or a community .pth,
    else the community's from the hub cache). ``options``: ``hubert``, ``quantizer``, ``layer``."""
    from bark_omni.errors import ModelNotFoundError

    from .hubert import HUBERT_NAME, LAYER, TINY_LAYER, SemanticTokenizer, load_hubert, tiny_hubert_dir
    from .quantizer import load_quantizer

    quantizer = options.get("quantizer") or os.environ.get(QUANTIZER_ENV)
    tiny = is_tiny(model)
    hubert_source = options.get("hubert") or os.environ.get(HUBERT_ENV) or (tiny_hubert_dir() if tiny else HUBERT_NAME)
    if quantizer:
        head, config = load_quantizer(quantizer)
        layer = int(options.get("layer", config.get("layer", TINY_LAYER if tiny else LAYER)))
    elif tiny:
        head, layer = tiny_head(), TINY_LAYER
    else:
        found = community_quantizer()
        if found is None:
            raise ModelNotFoundError(f"no quantizer for HuBERT semantic tokens: set {QUANTIZER_ENV}=PATH or fetch "
                                     "the community one once online with `bark-omni semantic download`")
        head, _ = load_quantizer(found)
        layer = LAYER
    hubert = load_hubert(hubert_source, device)
    return SemanticTokenizer(hubert=hubert, head=head.to(device), layer=int(options.get("layer", layer)))


def load_teacher_hubert(model: str, device: str, hubert: str | None = None, layer: int | None = None) -> Any:
    """What the distillation recipe reads teacher audio with: HuBERT alone (``hubert``, else ``$BARK_OMNI_HUBERT``,
    else the tiny HuBERT for the tiny Bark and HuBERT base otherwise) and its layer (``layer``, else 9, or the last
    one of a HuBERT with fewer: the tiny HuBERT's 2). No quantizer is needed to train one: the head is ``None``."""
    from .hubert import HUBERT_NAME, LAYER, SemanticTokenizer, load_hubert, tiny_hubert_dir

    source = hubert or os.environ.get(HUBERT_ENV) or (tiny_hubert_dir() if is_tiny(model) else HUBERT_NAME)
    encoder = load_hubert(source, device)
    chosen = layer if layer is not None else min(LAYER, int(encoder.config.num_hidden_layers))
    return SemanticTokenizer(hubert=encoder, head=None, layer=int(chosen))
