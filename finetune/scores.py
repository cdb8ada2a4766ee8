"""Classification scores, one definition for training, evaluation and benchmarks."""
from __future__ import annotations

import numpy as np


def classification_scores(predictions: np.ndarray, targets: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 over all `n_classes` (a class never seen nor predicted scores 0) of
    `(N,)` predicted and true class indices."""
    from sklearn.metrics import f1_score

    predictions, targets = np.asarray(predictions), np.asarray(targets)
    return {"accuracy": float((predictions == targets).mean()),
            "macro_f1": float(f1_score(targets, predictions, average="macro", labels=range(n_classes),
                                       zero_division=0))}
