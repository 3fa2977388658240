"""Every model the app teaches with: the tutorials' recipes (corrected) plus our own small CNN.

Each builder returns a compiled `keras.Model` that takes raw uint8 pixels (N, H, W, C): scaling
and any other preprocessing live inside the model, so training, evaluation and prediction all feed
the same arrays.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

OFFLINE_WEIGHTS_HELP = ("MobileNetV2's ImageNet weights are not cached and could not be "
                        "downloaded: connect to the internet, or train with random initial "
                        "weights (pretrained=False, --random-weights in the CLI)")


def _keras():
    import keras
    return keras


def _compile(model, optimizer: str, learning_rate: float, loss, steps_per_execution: int):
    keras = _keras()
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop}[optimizer](learning_rate=learning_rate)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


def _inputs(input_shape, name="pixels"):
    return _keras().Input(shape=tuple(input_shape), name=name)


def _pixel_stats(x_train: np.ndarray | None) -> tuple[float, float]:
    """Mean and variance of the training pixels (0-255), from up to 10,000 images."""
    if x_train is None or len(x_train) == 0:
        return 127.5, 127.5 ** 2
    sample = x_train[:10_000].astype(np.float32)
    return float(sample.mean()), float(max(sample.var(), 1e-6))


def mlp(input_shape, num_classes, *, optimizer="adam", learning_rate=2e-3, steps_per_execution=1,
        logits=False, **_):
    """Flatten -> Dense(128, relu) -> Dense(n, softmax), adam: the Fashion-MNIST lectures' model.
    The lectures train it at learning rate 1e-3, batch 32; our default 2e-3 at batch 64 with a
    cosine decay reaches a higher accuracy in the same 5 epochs, in less time.
    With logits=True the last layer is linear and the loss takes `from_logits=True`."""
    keras, layers = _keras(), _keras().layers
    x = inputs = _inputs(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation=None if logits else "softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="mlp_logits" if logits else "mlp")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return _compile(model, optimizer, learning_rate, loss, steps_per_execution)


def mlp_logits(input_shape, num_classes, **kwargs):
    """The MLP with a linear last layer, trained `from_logits=True`; `probability_model` adds
    the Softmax for predictions, as the tutorial does."""
    return mlp(input_shape, num_classes, logits=True, **kwargs)


def mlp2(input_shape, num_classes, *, optimizer="sgd", learning_rate=0.05, steps_per_execution=1,
         x_train=None, **_):
    """Two hidden Dense(128, relu) layers, SGD, inputs standardised by the training set's mean
    and std, one-hot labels with categorical cross-entropy: the MNIST digits tutorial."""
    keras, layers = _keras(), _keras().layers
    mean, var = _pixel_stats(x_train)
    x = inputs = _inputs(input_shape)
    x = layers.Flatten()(x)
    x = layers.Normalization(axis=None, mean=mean, variance=var, name="standardise")(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="mlp2")
    return _compile(model, optimizer, learning_rate, "categorical_crossentropy", steps_per_execution)


def _cnn_body(x, num_classes):
    """The tutorial CNN: Conv(16)-Pool-Conv(32)-Dropout(0.3)-Pool-Flatten-Dense(64)-Dense(n)."""
    layers = _keras().layers
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    # The tutorial ends in Dense(2, sigmoid) with a sparse categorical loss: a bug. Softmax.
    return layers.Dense(num_classes, activation="softmax", name="scores")(x)


def _augment(x):
    layers = _keras().layers
    x = layers.RandomFlip("horizontal", name="random_flip")(x)
    return layers.RandomRotation(0.2, fill_mode="constant", name="random_rotation")(x)


def cnn(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3, steps_per_execution=1,
        **_):
    """The tutorial's small CNN, ending in softmax (the tutorial's sigmoid is a bug).
    The tutorial trains it with adam at 1e-3, batch 32, a constant rate; our defaults (adam
    peaking at 4e-3 after a warm-up over 20% of the run, then cosine to 0, batch 256) reach
    the same accuracy in fewer seconds (BENCHMARKS.md section 10)."""
    keras, layers = _keras(), _keras().layers
    inputs = _inputs(input_shape)
    outputs = _cnn_body(layers.Rescaling(1 / 255, name="scale_0_1")(inputs), num_classes)
    model = keras.Model(inputs, outputs, name="cnn")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def cnn_aug(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
            steps_per_execution=1, **_):
    """The CNN behind RandomFlip + RandomRotation(0.2), which act only while training."""
    keras, layers = _keras(), _keras().layers
    inputs = _inputs(input_shape)
    x = _augment(layers.Rescaling(1 / 255, name="scale_0_1")(inputs))
    model = keras.Model(inputs, _cnn_body(x, num_classes), name="cnn_aug")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def cnn_pre(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
            steps_per_execution=1, x_train=None, **_):
    """An input preprocessing layer (Normalization from the training set's statistics) in front
    of the augmentation layers and the CNN, all inside the model."""
    keras, layers = _keras(), _keras().layers
    mean, var = _pixel_stats(x_train)
    inputs = _inputs(input_shape)
    x = layers.Normalization(axis=None, mean=mean, variance=var, name="standardise")(inputs)
    model = keras.Model(inputs, _cnn_body(_augment(x), num_classes), name="cnn_pre")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


MOBILENET_SIZES = (96, 128, 160, 192, 224)  # the sizes ImageNet weights exist for
_IMAGENET = {}  # size -> whether its weights are in Keras' cache (fetched once if allowed)


def mobilenet_size(input_shape) -> int:
    """The size MobileNetV2 runs at for these images: their own if it has weights, else 96."""
    h, w = input_shape[:2]
    return h if (h == w and h in MOBILENET_SIZES) else 96


def imagenet_weights_ready(size: int) -> bool:
    """Whether MobileNetV2's ImageNet weights (no top) for `size` px are in Keras' cache, fetched
    now if downloads are allowed (about 9 MB, once); offline, or when the fetch fails, False."""
    if size not in _IMAGENET:
        from .datasets import download, downloads_allowed
        name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5"
        cached = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models" / name
        if cached.is_file():
            _IMAGENET[size] = True
        elif not downloads_allowed():
            return False  # not remembered: weights put in the cache later are found
        else:
            try:
                download(name, "https://storage.googleapis.com/tensorflow/keras-applications/"
                               f"mobilenet_v2/{name}", cache_subdir="models")
                _IMAGENET[size] = True
            except ValueError:
                _IMAGENET[size] = False
    return _IMAGENET[size]


def mobilenet_base(size: int, pretrained: bool):
    """MobileNetV2 without its top, frozen; ImageNet weights or random ones."""
    keras = _keras()
    try:
        base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False,
                                              weights="imagenet" if pretrained else None)
    except Exception as exc:  # offline: the weights download fails
        if not pretrained:
            raise
        raise ValueError(OFFLINE_WEIGHTS_HELP) from exc
    base.trainable = False
    return base


def mobilenetv2(input_shape, num_classes, *, optimizer="adam", learning_rate=1e-4,
                steps_per_execution=1, pretrained=True, **_):
    """Transfer learning: frozen MobileNetV2 -> GlobalMaxPooling2D -> Dropout(0.3) ->
    Dense(64, relu) -> Dense(n, softmax). Pixels are scaled to [-1, 1] inside the model, which is
    what `mobilenet_v2.preprocess_input` does; small or grayscale inputs are resized to 96x96 and
    given three channels inside the model."""
    keras, layers = _keras(), _keras().layers
    h, w, c = input_shape
    size = mobilenet_size(input_shape)
    x = inputs = _inputs(input_shape)
    if (h, w) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    if c == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = layers.Rescaling(1 / 127.5, offset=-1, name="preprocess_input")(x)
    x = mobilenet_base(size, pretrained)(x, training=False)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="mobilenetv2")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def _stem(x, filters: int, momentum: float):
    """A 5x5 convolution with stride 2: the image halved at once (28 -> 14), BN, ReLU."""
    layers = _keras().layers
    x = layers.Conv2D(filters, 5, strides=2, padding="same", use_bias=False, name="stem")(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=momentum)(x))


def _pool_first(x, filters: int, momentum: float):
    """Conv 3x3 -> MaxPool -> BN -> ReLU: the usual Conv-BN-ReLU-Pool reordered so that BN and
    ReLU (unfused, memory-bound in Keras on TensorFlow) run on a quarter of the pixels; measured
    as accurate, and each epoch about a third cheaper."""
    layers = _keras().layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.MaxPooling2D()(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=momentum)(x))


def cnn_quick(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
              steps_per_execution=1, **_):
    """Quick: a CNN that beats the MLP in the MLP's own time (Fashion-MNIST ~0.90 in 2 epochs).
    - the 5x5 stride-2 stem halves the image before anything else: every later layer costs a
      quarter, and 5x5 still sees a stroke's width;
    - 16 and 32 filters, multiples of 16 that the CPU's vector units fill (24 and 48 measured
      2-3x slower per epoch than 16 and 32, not 1.5x);
    - one pool-first block keeps a 7x7 map (pooling again to 3x3 lost 1-2 points);
    - a Dense(64) head: +0.5-1 point for 1% of the work;
    - batch norm (without it: 0.886 instead of 0.904 after 3 epochs) with momentum 0.9, so its
      statistics keep up in a run of a few hundred steps;
    - adam at 4e-3 with a warm-up over 15% of the run, then cosine to 0, batch 128 (the
      registry's settings; batch 192 or 256, peaks of 3e-3 or 5e-3, a 30% warm-up, label
      smoothing and a Dense(128) head all land within 0.3 points of 0.90 in 2 epochs:
      `benchmarks/cnn_speed.py quick` and `cnn_designs.py`)."""
    keras, layers = _keras(), _keras().layers
    x = inputs = _inputs(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    x = _pool_first(_stem(x, 16, 0.9), 32, 0.9)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="cnn_quick")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def cnn_bn(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
           steps_per_execution=1, **_):
    """Ours: three pool-first blocks (32, 64, 96 filters at 28, 14 and 7 pixels), dropout,
    softmax; 83K parameters. What each choice buys (benchmarks/cnn_designs.py, BENCHMARKS.md
    section 10):
    - a full-resolution first convolution: every design that halved the image first (a strided
      stem) stalled at 0.905-0.915, however wide, where this one passes 0.92;
    - pool first (Conv -> MaxPool -> BN -> ReLU): BN and ReLU on a quarter of the pixels, about a
      third of the epoch saved at the same accuracy;
    - batch norm with momentum 0.9: statistics that keep up in a run of a few epochs;
    - adam peaking at 4e-3 after a warm-up over 20% of the run, then cosine to 0, batch 256
      (the registry's settings): about 0.92 after 6 epochs where the old schedule took 10."""
    keras, layers = _keras(), _keras().layers
    x = inputs = _inputs(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    for filters in (32, 64, 96):
        x = _pool_first(x, filters, 0.9)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="cnn_bn")
    return _compile(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


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
    from .settings import TrainSettings
    if key not in MODELS:
        raise ValueError(f"unknown model {key!r}: use one of {', '.join(MODELS)}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    s = settings or TrainSettings()
    kwargs = dict(steps_per_execution=s.steps_per_execution, x_train=x_train,
                  pretrained=s.pretrained)
    if s.optimizer:
        kwargs["optimizer"] = s.optimizer
    from .training import default_learning_rate
    rate = s.learning_rate or default_learning_rate(key, s.optimizer)  # sgd gets sgd's own rate
    if rate:
        kwargs["learning_rate"] = rate
    from .lab import regularise
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
    keras = _keras()
    return keras.Sequential([model, keras.layers.Softmax()], name=f"{model.name}_probabilities")
