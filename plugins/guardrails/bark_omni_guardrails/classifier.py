"""An optional text-classifier guardrail: a transformers sequence-classification model in a local folder.

The folder is ``$BARK_OMNI_GUARDRAILS_MODEL`` or, when it exists, ``$XDG_CONFIG_HOME/bark-omni/guardrails-model``
(anything ``save_pretrained`` wrote: config, weights, tokenizer). Nothing is downloaded. Every label except the
benign ones (``benign``, ``safe``, ``LABEL_0``...) blocks when its probability reaches the threshold (0.5, or
``threshold`` in an optional ``guardrails.json`` beside the model, which may also list ``blocked_labels``). The
classifier sees each text as written and in its normalised (look-alikes folded) form, and the higher score counts.
It is registered through ``register_guardrails``, so it runs with the blocklist before any generation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_ENV = "BARK_OMNI_GUARDRAILS_MODEL"
DEFAULT_FOLDER = "guardrails-model"
BENIGN_LABELS = frozenset({"benign", "safe", "ok", "neutral", "none", "clean", "harmless", "not_harmful", "label_0"})
PLUGIN_NAME = "guardrails-classifier"


def model_folder() -> Path | None:
    """The classifier's folder, or None when none is configured or present."""
    from bark_omni.errors import InvalidInputError
    from bark_omni.files import config_dir

    if MODEL_ENV in os.environ:
        raw = os.environ[MODEL_ENV].strip()
        if not raw:
            raise InvalidInputError(f"{MODEL_ENV} is set but empty; name a folder saved with save_pretrained or unset it")
        folder = Path(raw).expanduser()
        if not (folder / "config.json").is_file():
            raise InvalidInputError(f"{MODEL_ENV}={folder} has no config.json; point it at a save_pretrained folder")
        return folder
    folder = config_dir() / DEFAULT_FOLDER
    return folder if (folder / "config.json").is_file() else None


@dataclass
class TextClassifier:
    folder: Path
    model: Any
    tokenizer: Any
    threshold: float
    blocked: frozenset[str]

    def scores(self, text: str) -> dict[str, float]:
        """Probability of each label for ``text``."""
        import torch

        encoded = self.tokenizer([text], return_tensors="pt", truncation=True, max_length=256)
        with torch.no_grad():
            probs = torch.softmax(self.model(**encoded).logits[0].float(), dim=-1)
        labels = self.model.config.id2label
        return {str(labels[i]): float(p) for i, p in enumerate(probs)}

    def worst(self, text: str) -> tuple[str, float]:
        """The blocked label with the highest probability over the text as written and normalised."""
        from .normalize import normalize

        best = ("", 0.0)
        for form in {text, normalize(text)}:
            for label, p in self.scores(form).items():
                if label.lower() in self.blocked and p > best[1]:
                    best = (label, p)
        return best


@lru_cache(maxsize=4)
def load_classifier(folder: str) -> TextClassifier:
    """Load the model and tokenizer from ``folder`` (local files only) and its optional guardrails.json."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from bark_omni.errors import InvalidInputError

    path = Path(folder)
    settings: dict[str, Any] = {}
    if (path / "guardrails.json").is_file():
        try:
            settings = json.loads((path / "guardrails.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path / 'guardrails.json'} is not valid JSON ({exc}); fix it") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot load the guardrail classifier from {path} ({type(exc).__name__}); "
                                "save it with save_pretrained (model and tokenizer)") from None
    labels = {str(v).lower() for v in model.config.id2label.values()}
    blocked = {str(v).lower() for v in settings.get("blocked_labels", [])} or (labels - BENIGN_LABELS)
    return TextClassifier(path, model, tokenizer, float(settings.get("threshold", 0.5)), frozenset(blocked))


def check(request: Any) -> Any:
    """The classifier's verdict on every text the request carries (the first text it blocks)."""
    from bark_omni.specs import Verdict

    from . import request_texts

    folder = model_folder()
    if folder is None:
        return None
    classifier = load_classifier(str(folder))
    for field, text in request_texts(request):
        label, p = classifier.worst(text)
        if label and p >= classifier.threshold:
            return Verdict(allowed=False, category=label, field=field, span=(0, len(text)), plugin=PLUGIN_NAME,
                           reason=f"the text classifier in {folder.name}/ rates it {label!r} (p={p:.2f} >= "
                                  f"{classifier.threshold:g}); rephrase the request")
    return Verdict(allowed=True, plugin=PLUGIN_NAME)
