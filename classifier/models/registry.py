"""The model registry: every model by key, with what to say about it and how to build it with a
run's settings (learning rate, optimizer, the lab's dropout and weight decay). Knowledge of models
only: nothing here trains (training/ imports this, never the reverse).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from ..core.settings import TrainSettings
from .pretrained import mobilenetv2
from .recipes import (
    cnn,
    cnn_aug,
    cnn_bn,
    cnn_pre,
    cnn_quick,
    keras_module,
    mlp,
    mlp2,
    mlp_logits,
)

DEFAULT_LEARNING_RATES = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 0.05}  # an optimizer's own pick


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build a model and what to say about it."""
    key: str
    title: str
    description: str
    build: Callable
    default_epochs: int
    datasets: tuple[str, ...]        # built-in datasets it suits; "folder" = any image folder
    batch_size: int = 64             # default batch size (the tutorials use 32)
    warmup: float = 0.0              # share of a run warming the learning rate up (cosine runs)


_ALL = ("fashion_mnist", "mnist", "cats_vs_dogs", "folder")
_SMALL = ("fashion_mnist", "mnist", "folder")
MODELS = {s.key: s for s in (
    ModelSpec("mlp", "MLP (Flatten-Dense-128)", "The lectures' first network: one hidden layer of "
              "128 neurons; ~0.88 on Fashion-MNIST in 5 epochs.", mlp, 5, _SMALL),
    ModelSpec("mlp_logits", "MLP with logits", "The same MLP with a linear output trained "
              "from_logits; softmax is added only to predict.", mlp_logits, 5, _SMALL),
    ModelSpec("mlp2", "MLP 2x128, SGD", "Two hidden layers, SGD, standardised inputs, one-hot "
              "labels: the MNIST digits tutorial (~0.96 on digits).", mlp2, 10, _SMALL),
    ModelSpec("cnn", "Small CNN", "The tutorial CNN: two convolutions with pooling and dropout.",
              cnn, 5, _ALL, 256, 0.2),
    ModelSpec("cnn_aug", "CNN + augmentation", "The CNN behind random flips and rotations "
              "(active only in training).", cnn_aug, 10, _ALL, 256, 0.2),
    ModelSpec("cnn_pre", "CNN + preprocessing layer", "Input standardisation inside the model, "
              "then augmentation and the CNN.", cnn_pre, 10, _ALL, 256, 0.2),
    ModelSpec("mobilenetv2", "MobileNetV2 transfer", "A frozen ImageNet MobileNetV2 with a small "
              "new head: transfer learning.", mobilenetv2, 10, ("cats_vs_dogs", "folder"), 32),
    ModelSpec("cnn_quick", "Quick CNN", "A CNN that beats the MLP in the MLP's own time: a "
              "strided 5x5 stem, one pool-first block, a small dense head; ~0.90 on "
              "Fashion-MNIST in 2 epochs.", cnn_quick, 2, _ALL, 128, 0.15),
    ModelSpec("cnn_bn", "Our CNN (batch norm)", "Our small CNN: three pool-first conv + "
              "batch-norm blocks, under 100K parameters; ~0.925 on Fashion-MNIST in 8 epochs.",
              cnn_bn, 8, _ALL, 256, 0.2),
)}


def build_model(key: str, input_shape, num_classes: int, settings=None, x_train=None):
    """Build and compile registry model `key` for images of `input_shape` and `num_classes`."""
    if key not in MODELS:
        raise ValueError(f"unknown model {key!r}: use one of {', '.join(MODELS)}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    s = settings or TrainSettings()
    kwargs = dict(steps_per_execution=s.steps_per_execution, x_train=x_train,
                  pretrained=s.pretrained)
    if s.optimizer:
        kwargs["optimizer"] = s.optimizer
    rate = s.learning_rate or default_learning_rate(key, s.optimizer)  # sgd gets sgd's own rate
    if rate:
        kwargs["learning_rate"] = rate
    model = MODELS[key].build(tuple(input_shape), num_classes, **kwargs)
    return regularise(model, s.dropout, s.weight_decay)


def outputs_logits(model) -> bool:
    """True when the model's last layer gives logits (linear) rather than probabilities."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "linear"


def probability_model(model):
    """The model itself if it ends in softmax, else the model followed by a Softmax layer."""
    if not outputs_logits(model):
        return model
    keras = keras_module()
    return keras.Sequential([model, keras.layers.Softmax()], name=f"{model.name}_probabilities")


def default_learning_rate(model_key: str, optimizer: str | None) -> float | None:
    """The learning rate for `optimizer` when none is given: None (the recipe's own) for the
    recipe's own optimizer, else that optimizer's usual default (the recipe's rate is tuned
    for its optimizer: adam's 2e-3 leaves SGD barely moving)."""
    if optimizer is None or model_key not in MODELS:
        return None
    recipe = inspect.signature(MODELS[model_key].build).parameters.get("optimizer")
    if recipe is not None and recipe.default == optimizer:
        return None
    return DEFAULT_LEARNING_RATES[optimizer]


def regularise(model, dropout: float | None, weight_decay: float):
    """`model` with the lab's dropout and weight decay: every Dropout layer at rate `dropout`
    (None leaves the recipe's own), or, for a model without one, a Dropout layer added before
    its output layer; the optimizer's decoupled weight decay set to `weight_decay` (0: none).
    Returns the model, a new one when a layer was added (compiled as the old one was)."""
    keras = keras_module()
    if weight_decay:
        model.optimizer.weight_decay = float(weight_decay)
    if dropout is None:
        return model
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    for layer in drops:
        layer.rate = float(dropout)
    if drops or dropout == 0:
        return model
    head = model.layers[-1]
    outputs = head(keras.layers.Dropout(float(dropout), name="lab_dropout")(head.input))
    new = keras.Model(model.inputs, outputs, name=model.name)
    config = model.get_compile_config() or {}
    new.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                steps_per_execution=config.get("steps_per_execution", 1))
    return new
