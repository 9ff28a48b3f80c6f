"""The linear classifier the proof's probe and the encoder pretraining's check both fit: standardised features,
then a logistic regression (scikit-learn)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def classifier() -> Any:
    """A fresh, unfitted classifier."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))


def held_out_accuracy(train: tuple[np.ndarray, Sequence[int]], test: tuple[np.ndarray, Sequence[int]]) -> float:
    """The share of ``test``'s (features, labels) rows that a ``classifier`` fitted on ``train``'s labels right."""
    return float(np.mean(classifier().fit(*train).predict(test[0]) == np.asarray(test[1])))
