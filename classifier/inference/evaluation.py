"""Test-set evaluation: accuracy, loss, per-class accuracy, confusion matrix and mistakes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.dataset import Dataset
from ..data.batches import batches

CHANCE_MARGIN = 0.05  # a test accuracy this close to the baseline counts as "learned nothing"


@dataclass
class Evaluation:
    """Every test image's probabilities plus the summaries the Evaluate tab shows."""
    class_names: list[str]
    y_true: np.ndarray            # (N,)
    probabilities: np.ndarray     # (N, C), rows sum to 1

    @property
    def y_pred(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    @property
    def accuracy(self) -> float:
        """Share answered right (nan when there are no test images)."""
        if len(self.y_true) == 0:
            return float("nan")
        return float((self.y_pred == self.y_true).mean())

    @property
    def loss(self) -> float:
        """Mean cross-entropy of the true class (nan when there are no test images)."""
        if len(self.y_true) == 0:
            return float("nan")
        p = self.probabilities[np.arange(len(self.y_true)), self.y_true]
        return float(-np.log(np.clip(p, 1e-7, 1.0)).mean())

    @property
    def baseline(self) -> float:
        """The score of always answering the test set's largest class (nan with no test images)."""
        if len(self.y_true) == 0:
            return float("nan")
        return float(np.bincount(self.y_true).max() / len(self.y_true))

    def near_chance(self, margin: float = CHANCE_MARGIN) -> bool:
        """True when accuracy is within `margin` of the baseline: the model learned nothing
        useful (a learning rate far off, a run stopped at once)."""
        return bool(self.accuracy <= self.baseline + margin)

    def confusion_matrix(self) -> np.ndarray:
        """Counts: rows are true classes, columns predicted classes."""
        n = len(self.class_names)
        return np.bincount(self.y_true * n + self.y_pred, minlength=n * n).reshape(n, n)

    def per_class_accuracy(self) -> dict[str, float]:
        cm = self.confusion_matrix()
        totals = cm.sum(axis=1)
        return {name: float(cm[i, i] / totals[i]) if totals[i] else float("nan")
                for i, name in enumerate(self.class_names)}

    def sample(self, k: int = 25, seed: int = 0) -> np.ndarray:
        """Indices of k test images picked at random (for the green-right / red-wrong grid)."""
        rng = np.random.default_rng(seed)
        return rng.choice(len(self.y_true), size=min(k, len(self.y_true)), replace=False)

    def mistakes(self, k: int = 10) -> np.ndarray:
        """Indices of the k most confident wrong answers, most confident first."""
        wrong = np.flatnonzero(self.y_pred != self.y_true)
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")][:k]

    def pair(self, true_class: int, predicted_class: int) -> np.ndarray:
        """Indices with this (true, predicted) pair, by the model's confidence, highest first."""
        idx = np.flatnonzero((self.y_true == true_class) & (self.y_pred == predicted_class))
        return idx[np.argsort(-self.confidence[idx], kind="stable")]

    def summary(self) -> dict:
        return {"test_accuracy": self.accuracy, "test_loss": self.loss,
                "per_class_accuracy": self.per_class_accuracy()}


def predict_probabilities(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities for many images (softmax added for logit models)."""
    from ..models.registry import probability_model
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.asarray(probability_model(model).predict(batches(x, batch_size=batch_size),
                                                       verbose=0))


def evaluate(model, dataset: Dataset) -> Evaluation:
    """Run the model over the dataset's test set (which training never sees)."""
    probs = predict_probabilities(model, dataset.x_test)
    return Evaluation(list(dataset.class_names), dataset.y_test.astype(np.int64), probs)
