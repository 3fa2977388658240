"""Transfer learning without recomputing the frozen base: its features are computed once.

A frozen base called with `training=False` maps each image to the same features every epoch, so
when nothing random (augmentation, dropout) runs before it, the tutorial's forward pass through
MobileNetV2 on every epoch is wasted work. `split_frozen` cuts such a model into a features model
(input -> base) and a head (the layers after the base, the same layer objects), and
`train_cached` fits the head on the cached features through `training.train`, so the full model
learns exactly what end-to-end training would teach it, with the same callbacks and metrics
(`val_per_class` too, scored by the head on the cached validation features). Its
`epoch_weights` are the full model's, kept by the same size rule as `train`: none for
MobileNetV2, whose base alone is over MAX_EPOCH_WEIGHTS_PARAMS.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np

from ..core.dataset import Dataset
from ..core.settings import TrainSettings
from .loop import StopFlag, TrainResult, counted_in, later, spent_before, train

FEATURES_BATCH = 64  # images per forward pass of the base when caching its features


def _frozen_base_index(model) -> int | None:
    """Index in `model.layers` of the one frozen nested model, if there is exactly one."""
    import keras
    found = [i for i, layer in enumerate(model.layers)
             if isinstance(layer, keras.Model) and not layer.trainable]
    return found[0] if len(found) == 1 else None


def _changes_in_training(layer) -> bool:
    """True for a layer whose output could differ between epochs: trainable weights,
    augmentation (Random*), dropout or noise."""
    name = type(layer).__name__
    return (bool(layer.trainable_weights) or name.startswith("Random")
            or "Dropout" in name or "Noise" in name)


def split_frozen(model):
    """(features_model, head_model) for a model with a frozen nested base and nothing random
    before it, the head sharing the model's layers after the base; None for any other model."""
    import keras
    i = _frozen_base_index(model)
    if i is None or i + 1 >= len(model.layers):
        return None
    if any(type(layer).__name__.startswith("Random") for layer in model.layers):
        return None  # augmentation: the images differ every epoch, so must the features
    if any(_changes_in_training(layer) for layer in model.layers[:i]):
        return None
    cut = model.layers[i + 1].input  # the base's output, as the layer after it receives it
    if not isinstance(cut, keras.KerasTensor):
        return None
    try:
        features = keras.Model(model.inputs, cut, name=f"{model.name}_features")
        head = keras.Model(cut, model.outputs, name=f"{model.name}_head")
    except ValueError:  # the layers after the base also read something from before it
        return None
    head_layers = [layer for layer in head.layers if not isinstance(layer, keras.layers.InputLayer)]
    if head_layers != model.layers[i + 1:]:
        return None
    return features, head


class _CachedFeatures:
    """What `training.train` reads from a `Dataset`, with the base's features for pixels."""

    def __init__(self, num_classes: int, x_tr, y_tr, x_val, y_val, train_images: int):
        self.num_classes, self.train_images = num_classes, train_images
        self._split = (x_tr, y_tr, x_val, y_val)

    def split_validation(self, share: float, seed: int = 0):
        return self._split


def _features_of(features, x: np.ndarray) -> np.ndarray:
    """The features model's outputs for images `x`, in batches; an empty array for none."""
    if len(x) == 0:
        return np.zeros((0, *features.output.shape[1:]), np.float32)
    return features.predict(x, batch_size=FEATURES_BATCH, verbose=0)


def _compile_head(head, model) -> None:
    """Compile the head as `model` is compiled, sharing its optimizer: the head's trainable
    variables are the model's, so the optimizer's state (and any learning-rate schedule set on
    it) stays with the model that is saved."""
    config = model.get_compile_config()
    head.compile(optimizer=model.optimizer, loss=model.loss, metrics=config["metrics"],
                 steps_per_execution=config["steps_per_execution"],
                 jit_compile=config["jit_compile"])


def train_cached(model, dataset: Dataset, settings: TrainSettings | None = None,
                 on_metrics: Callable[[dict], object] | None = None,
                 stop: StopFlag | None = None, then_score: int = 0) -> TrainResult:
    """Train a `split_frozen` model by computing its base's features once and fitting the head
    on them with `training.train`. The time spent on the features is counted in the first
    epoch's seconds, the run's seconds and every metrics point's elapsed seconds."""
    parts = split_frozen(model)
    if parts is None:
        raise ValueError(f"model {model.name!r} has no frozen base with nothing random before it: "
                         "train it with classifier.training.loop.train")
    features, head = parts
    s = settings or TrainSettings()
    t0 = time.perf_counter()
    x_tr, y_tr, x_val, y_val = dataset.split_validation(s.validation_split, s.seed)
    cached = _CachedFeatures(dataset.num_classes, _features_of(features, x_tr), y_tr,
                             _features_of(features, x_val), y_val, dataset.train_images)
    spent = time.perf_counter() - t0
    _compile_head(head, model)
    emit = (lambda point: on_metrics(later(point, spent))) if on_metrics else None
    fit_settings = spent_before(s, spent)
    if fit_settings.seconds and then_score:  # the test set is scored through the base too:
        # keep its features' time out of the head's budget, at the pace the cached ones took
        per_image = spent / max(len(x_tr) + len(x_val), 1)
        fit_settings = replace(fit_settings, seconds=max(fit_settings.seconds - then_score * per_image, 1.0))
    result = train(head, cached, fit_settings, on_metrics=emit, stop=stop,
                   weights_of=model, then_score=then_score)
    return counted_in(result, spent)  # the features' time counts in the run's
