"""Predict one user image: preprocessing, probabilities for every class, what the model saw.

`Predictor.predict_with_weights` answers with other weights of the same model (e.g. one epoch's,
from `TrainResult.epoch_weights`) on a private copy, leaving the live model untouched.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..images.errors import BlankImage
from ..images.preprocess import WORKING_SIDE, Prepared, open_image, prepare
from .calibration import Calibration
from .novelty import for_dataset

# style: a sure answer must hold for the picture shrunk to each of these shares of its size (a
# step, two and three further away), else "not sure". A digit on paper is the same digit from
# further away; in a photo of a face or a street, the digits' clean-up finds other strokes at
# another size. Measured (benchmarks/own_images.py, BENCHMARKS.md section 18): of the 13 photos
# of assets/own_photos the digits model was sure of, 10 change their answer, against 1 of the 370
# sure answers of assets/own_digits and 5 of 988 of MNIST's test digits uploaded as pictures. The
# garments' clean-up finds one item at every size: there, 0.6 alone flagged 3 right and 2 wrong of
# our CNN's 86 sure answers, and 1 of the 3 photos it was sure of; garments are not checked.
STEADY_AT = {"mnist": (0.8, 0.6, 0.4)}


@dataclass
class Prediction:
    probabilities: dict[str, float]     # every class, in class order, summing to 1
    seen: np.ndarray                    # the image the model took (28x28 for the small datasets)
    inverted: bool
    unsure: bool = False                # below the model's calibrated threshold (calibration.py),
                                        # unlike the dataset's images (novelty.py), or another
                                        # answer for the picture smaller (STEADY_AT)

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


@dataclass
class Answer:
    """One image answered as the Predict tab shows it (`Predictor.answer`)."""
    prediction: Prediction              # on the cleaned-up image
    why: object                         # saliency.Saliency: what pushed the top answer
    shrunk: Prediction                  # on the image merely shrunk


class Predictor:
    """A model ready to answer one image at a time, fast (no `model.predict` per call)."""

    def __init__(self, model, class_names: list[str], style: str, meta: dict | None = None):
        from ..models.registry import probability_model
        self.trained = model                # as trained: what epoch weights belong to
        self.model = probability_model(model)
        self.class_names = list(class_names)
        self.style = style
        self.image_shape = tuple(int(d) for d in model.input_shape[1:])
        self.meta = meta or {}
        self.calibration = Calibration.from_dict(self.meta.get("calibration"))
        # the dataset's gate (novelty.py): "not sure" for what is unlike its images
        self.gate = for_dataset(self.meta.get("dataset")) if style != "plain" else None
        self._copy_lock = threading.Lock()  # Gradio calls handlers from several threads
        self._copy = None                   # (clone of `trained`, its probability model)
        self._copy_weights: list[np.ndarray] | None = None  # what the clone holds now

    @classmethod
    def from_folder(cls, folder) -> "Predictor":
        from ..models.storage import load_model
        model, meta = load_model(folder)
        return cls(model, meta["class_names"], meta.get("style", "plain"), meta)

    def prepare(self, image) -> Prepared:
        return prepare(image, self.image_shape, self.style)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for a uint8 batch (N, H, W, C)."""
        out = self.model.predict_on_batch(batch.astype(np.float32))
        return np.asarray(out, dtype=np.float64)

    def probabilities_at(self, batch: np.ndarray, weights: list[np.ndarray] | None) -> np.ndarray:
        """`probabilities` with the live weights (None) or with `weights`, e.g. one epoch's."""
        if weights is None:
            return self.probabilities(batch)
        with self._copy_lock:
            out = self._model_with(weights).predict_on_batch(batch.astype(np.float32))
        return np.asarray(out, dtype=np.float64)

    def using(self, weights: list[np.ndarray] | None, fn):
        """`fn(model)` on the trained model (None) or on the private copy holding `weights`,
        e.g. to look inside the network as it was after one epoch."""
        if weights is None:
            return fn(self.trained)
        with self._copy_lock:
            self._model_with(weights)
            return fn(self._copy[0])

    def predict(self, image) -> Prediction:
        """Prepare any user image and return every class's probability."""
        return self._predict(image, None)

    def predict_with_weights(self, image, weights: list[np.ndarray]) -> Prediction:
        """`predict` with `weights` (the trained model's `get_weights()` layout, e.g. one of
        `TrainResult.epoch_weights`) loaded into a copy of the model made on first use; the live
        model is not touched. Passing the same list again skips reloading it."""
        return self._predict(image, weights)

    def _predict(self, image, weights: list[np.ndarray] | None) -> Prediction:
        opened = self._opened(image)
        cleaned = prepare(opened, self.image_shape, self.style)

        def run(batch):
            return self.probabilities_at(batch, weights)
        return self._prediction(cleaned, run(cleaned.batch)[0], lambda top: self._steady(opened, top, run))

    def answer(self, image, weights: list[np.ndarray] | None = None) -> "Answer":
        """What the Predict tab shows for one image, each step done once: the image opened
        once; the answer on it cleaned up, and why (saliency on that same batch); the answer on
        it merely shrunk to the input size (no inversion, cropping or centring: what the
        clean-up is for). With `weights` (e.g. one epoch's), on the private copy."""
        from .saliency import saliency
        opened = self._opened(image)
        cleaned = prepare(opened, self.image_shape, self.style)
        shrunk = prepare(opened, self.image_shape, "plain")
        batch = np.concatenate([cleaned.batch, shrunk.batch]).astype(np.float32)
        with self._copy_lock if weights is not None else contextlib.nullcontext():
            model = self.model if weights is None else self._model_with(weights)

            def run(batch):
                return np.asarray(model.predict_on_batch(batch.astype(np.float32)), dtype=np.float64)
            p = run(batch)
            prediction = self._prediction(cleaned, p[0], lambda top: self._steady(opened, top, run))
            top = self.class_names.index(prediction.label)
            why = saliency(model, batch[:1], top)
        return Answer(prediction, why, self._prediction(shrunk, p[1]))

    def _opened(self, image) -> Image.Image:
        h, w, _ = self.image_shape
        return open_image(image, draft_size=(max(WORKING_SIDE, w), max(WORKING_SIDE, h)))

    def _steady(self, opened: Image.Image, top: int, run) -> bool:
        """Whether class `top` is still the answer (`run`: batch -> probabilities) for the
        picture shrunk to each of its style's STEADY_AT and cleaned up; false where nothing is
        left to read. Shares that would make it smaller than the model's input (a 28x28 digit)
        are not checked."""
        batches = []
        if opened.mode in ("1", "P", "PA"):  # palette indices and bits do not blend
            opened = opened.convert("RGBA")
        for share in STEADY_AT.get(self.style, ()):
            size = (round(opened.width * share), round(opened.height * share))
            if min(size) < max(self.image_shape[:2]):
                break
            try:
                batches.append(prepare(opened.resize(size, Image.Resampling.BILINEAR),
                                       self.image_shape, self.style).batch)
            except BlankImage:
                return False
        return not batches or bool((run(np.concatenate(batches)).argmax(axis=1) == top).all())

    def _model_with(self, weights: list[np.ndarray]):
        """The private copy's probability model holding `weights` (call with the lock held)."""
        import keras

        from ..models.registry import probability_model
        if self._copy is None:
            clone = keras.models.clone_model(self.trained)
            self._copy = clone, probability_model(clone)
        clone, model = self._copy
        if weights is not self._copy_weights:
            if len(weights) != len(clone.weights):
                raise ValueError(f"got {len(weights)} weight arrays, but model "
                                 f"{self.trained.name!r} has {len(clone.weights)}: pass "
                                 "weights saved from this model, e.g. an epoch's")
            self._copy_weights = None  # in case set_weights fails half way
            clone.set_weights(weights)
            self._copy_weights = weights
        return model

    def _prediction(self, prepared: Prepared, p: np.ndarray, steady=None) -> Prediction:
        """A `Prediction` from one image's probabilities (normalised to sum to 1); a sure answer
        is asked `steady(top class)` too (`_steady`), where given."""
        p = p / p.sum()
        cal = self.calibration
        unsure = cal is not None and bool(
            cal.unsure(p) or (self.style != "plain" and cal.unlike_training(prepared.seen)))
        if not unsure and self.gate is not None and prepared.seen.shape[:2] == (28, 28):
            unsure = bool(self.gate.unlike(prepared.seen)[0])
        if not unsure and steady is not None:
            unsure = not steady(int(p.argmax()))
        return Prediction(dict(zip(self.class_names, map(float, p))), prepared.seen,
                          prepared.inverted, unsure)
