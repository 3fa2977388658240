"""Predict one user image: preprocessing, probabilities for every class, what the model saw."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocess import Prepared, prepare


@dataclass
class Prediction:
    probabilities: dict[str, float]     # every class, in class order, summing to 1
    seen: np.ndarray                    # the image the model took (28x28 for the small datasets)
    inverted: bool

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


class Predictor:
    """A model ready to answer one image at a time, fast (no `model.predict` per call)."""

    def __init__(self, model, class_names: list[str], style: str, meta: dict | None = None):
        from .models import probability_model
        self.model = probability_model(model)
        self.class_names = list(class_names)
        self.style = style
        self.image_shape = tuple(int(d) for d in model.input_shape[1:])
        self.meta = meta or {}

    @classmethod
    def from_folder(cls, folder) -> "Predictor":
        from .storage import load_model
        model, meta = load_model(folder)
        return cls(model, meta["class_names"], meta.get("style", "plain"), meta)

    def prepare(self, image) -> Prepared:
        return prepare(image, self.image_shape, self.style)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for a uint8 batch (N, H, W, C)."""
        out = self.model.predict_on_batch(batch.astype(np.float32))
        return np.asarray(out, dtype=np.float64)

    def predict(self, image) -> Prediction:
        """Prepare any user image and return every class's probability."""
        prepared = self.prepare(image)
        p = self.probabilities(prepared.batch)[0]
        p = p / p.sum()
        return Prediction(dict(zip(self.class_names, map(float, p))), prepared.seen,
                          prepared.inverted)
