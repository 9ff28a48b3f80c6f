"""The classifier slot: a tiny random BertForSequenceClassification saved with save_pretrained, loaded from a
local folder and run through the pipeline's register_guardrails registry before generation."""

import json

import pytest

import bark_omni
from bark_omni.errors import InvalidInputError, RequestBlocked
from bark_omni_guardrails import classifier, plugin


@pytest.fixture
def model_dir(tmp_path):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"hello there i will pay you".split()]))
    config = BertConfig(vocab_size=11, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=2,
                        id2label={0: "benign", 1: "fraud"}, label2id={"benign": 0, "fraud": 1})
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # make the "fraud" logit win for any input: the classifier's verdict is then known
        model.classifier.bias.copy_(torch.tensor([-5.0, 5.0]))
    folder = tmp_path / "guard-model"
    model.save_pretrained(folder)
    BertTokenizer(str(vocab)).save_pretrained(folder)
    classifier.load_classifier.cache_clear()
    return folder


def test_classifier_from_a_local_folder_blocks_through_the_registry(model_dir, monkeypatch, make_host):
    monkeypatch.setenv(classifier.MODEL_ENV, str(model_dir))
    host = make_host(plugin)
    assert "classifier" in host.guardrails
    request = bark_omni.build_request("hello there")
    with pytest.raises(RequestBlocked, match="text classifier"):
        bark_omni.api.check_request(host, request)


def test_threshold_from_guardrails_json_lets_text_through(model_dir, monkeypatch):
    (model_dir / "guardrails.json").write_text(json.dumps({"threshold": 0.9999999}))
    monkeypatch.setenv(classifier.MODEL_ENV, str(model_dir))
    verdict = classifier.check(bark_omni.build_request("hello there"))
    assert verdict.allowed


def test_no_folder_no_classifier_and_bad_folders_are_errors(tmp_path, monkeypatch, make_host):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(classifier.MODEL_ENV, raising=False)
    assert "classifier" not in make_host(plugin).guardrails
    monkeypatch.setenv(classifier.MODEL_ENV, "")
    with pytest.raises(InvalidInputError, match="empty"):
        classifier.model_folder()
    monkeypatch.setenv(classifier.MODEL_ENV, str(tmp_path))
    with pytest.raises(InvalidInputError, match="config.json"):
        classifier.model_folder()
