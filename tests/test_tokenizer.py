"""Bark's tokenizer is loaded with ``from_pretrained`` and checked: a tokenizer that cannot spell text is refused.

Under transformers 5, ``BertTokenizer(vocab_file=...)`` ignores the file and yields 5 tokens (every word [UNK]);
these tests fail on that tokenizer and on every fallback that would hand one out.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from bark_omni.errors import CheckpointError, ModelNotFoundError
from bark_omni.tiny import tiny_vocab
from bark_omni.tokenizer import BERT_NAME, MAX_VOCAB, load_tokenizer


def test_tiny_tokenizer_spells_text(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    assert len(tokenizer) == len(tiny_vocab()) > 100
    ids = tokenizer.encode("the cat sat", add_special_tokens=False)
    assert tokenizer.unk_token_id not in ids
    assert ids != tokenizer.encode("water was found", add_special_tokens=False)
    # cased, as bert-base-multilingual-cased: "Hello" is not lower-cased into the word "hello"
    assert tokenizer.encode("Hello", add_special_tokens=False) != tokenizer.encode("hello", add_special_tokens=False)


def test_bare_vocab_file_is_read_cased(tmp_path, tiny_model_dir):
    shutil.copyfile(tiny_model_dir / "vocab.txt", tmp_path / "vocab.txt")
    tokenizer = load_tokenizer(tmp_path)
    assert tokenizer.encode("Hello cat", add_special_tokens=False) == \
        load_tokenizer(tiny_model_dir).encode("Hello cat", add_special_tokens=False)


@pytest.mark.parametrize("lines", [[], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], ["[UNK]"] + [f"w{i}" for i in range(200)]])
def test_implausible_vocabulary_is_refused(tmp_path, lines):
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError) as info:
        load_tokenizer(tmp_path)
    message = str(info.value)
    assert f"{tmp_path.name}/vocab.txt" in message and "\n" not in message and len(message) <= 200


def test_oversized_vocabulary_is_refused(tmp_path):
    vocab = tiny_vocab() + [f"extra{i}" for i in range(MAX_VOCAB)]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="implausible"):
        load_tokenizer(tmp_path)


def test_tokenizer_json_folder_and_subfolder(tmp_path, tiny_model_dir):
    """A folder written by transformers' save_pretrained (tokenizer.json; what a BarkProcessor folder holds), at the
    top or in tokenizer/, loads to the same ids."""
    reference = load_tokenizer(tiny_model_dir)
    saved = tmp_path / "model" / "tokenizer"
    reference.save_pretrained(str(saved))
    (saved / "vocab.txt").unlink(missing_ok=True)
    assert (saved / "tokenizer.json").is_file()
    text = "Hello world, the cat sat."
    for directory in (saved, saved.parent):
        assert load_tokenizer(directory).encode(text, add_special_tokens=False) == \
            reference.encode(text, add_special_tokens=False)


def _fake_hub(root: Path, vocab: Path) -> None:
    repo = root / f"models--{BERT_NAME}"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    shutil.copyfile(vocab, snapshot / "vocab.txt")
    (snapshot / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    stale = repo / "snapshots" / ("b" * 40)  # a newer snapshot that refs/main does not name must not be used
    stale.mkdir()
    (stale / "vocab.txt").write_text("[UNK]\n")


def test_hub_cache_snapshot_named_by_refs_main(tmp_path, tiny_model_dir, monkeypatch):
    import huggingface_hub.constants as constants

    _fake_hub(tmp_path / "hub", tiny_model_dir / "vocab.txt")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "model").mkdir()
    tokenizer = load_tokenizer(tmp_path / "model")
    assert len(tokenizer) == len(tiny_vocab())


def test_no_tokenizer_anywhere_raises_offline(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="no tokenizer"):
        load_tokenizer(tmp_path)


def test_unreadable_tokenizer_file_is_a_checkpoint_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_tokenizer(tmp_path)


def test_oracle_imports_nothing_from_bark_omni():
    """Invariant 2: the parity oracle shares no code with what it checks."""
    import bark_omni.suno_oracle as oracle

    tree = ast.parse(Path(oracle.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("bark_omni"), ast.unparse(node)
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("bark_omni") for alias in node.names), ast.unparse(node)
