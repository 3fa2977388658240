"""The models the app teaches with, as builders: the tutorials' recipes (corrected) plus our own
small CNNs. MobileNetV2 is in pretrained.py; the registry (registry.py) names them all.

Each builder returns a compiled `keras.Model` that takes raw uint8 pixels (N, H, W, C): scaling
and any other preprocessing live inside the model, so training, evaluation and prediction all feed
the same arrays. A new model is a builder here and one `ModelSpec` line in registry.py.
"""
from __future__ import annotations

import numpy as np


def keras_module():
    import keras
    return keras


def compile_model(model, optimizer: str, learning_rate: float, loss, steps_per_execution: int):
    keras = keras_module()
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop}[optimizer](learning_rate=learning_rate)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


def pixels_input(input_shape, name="pixels"):
    return keras_module().Input(shape=tuple(input_shape), name=name)


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
    keras, layers = keras_module(), keras_module().layers
    x = inputs = pixels_input(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation=None if logits else "softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="mlp_logits" if logits else "mlp")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    return compile_model(model, optimizer, learning_rate, loss, steps_per_execution)


def mlp_logits(input_shape, num_classes, **kwargs):
    """The MLP with a linear last layer, trained `from_logits=True`; `probability_model` adds
    the Softmax for predictions, as the tutorial does."""
    return mlp(input_shape, num_classes, logits=True, **kwargs)


def mlp2(input_shape, num_classes, *, optimizer="sgd", learning_rate=0.05, steps_per_execution=1,
         x_train=None, **_):
    """Two hidden Dense(128, relu) layers, SGD, inputs standardised by the training set's mean
    and std, one-hot labels with categorical cross-entropy: the MNIST digits tutorial."""
    keras, layers = keras_module(), keras_module().layers
    mean, var = _pixel_stats(x_train)
    x = inputs = pixels_input(input_shape)
    x = layers.Flatten()(x)
    x = layers.Normalization(axis=None, mean=mean, variance=var, name="standardise")(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="mlp2")
    return compile_model(model, optimizer, learning_rate, "categorical_crossentropy", steps_per_execution)


def _cnn_body(x, num_classes):
    """The tutorial CNN: Conv(16)-Pool-Conv(32)-Dropout(0.3)-Pool-Flatten-Dense(64)-Dense(n)."""
    layers = keras_module().layers
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
    layers = keras_module().layers
    x = layers.RandomFlip("horizontal", name="random_flip")(x)
    return layers.RandomRotation(0.2, fill_mode="constant", name="random_rotation")(x)


def cnn(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3, steps_per_execution=1,
        **_):
    """The tutorial's small CNN, ending in softmax (the tutorial's sigmoid is a bug).
    The tutorial trains it with adam at 1e-3, batch 32, a constant rate; our defaults (adam
    peaking at 4e-3 after a warm-up over 20% of the run, then cosine to 0, batch 256) reach
    the same accuracy in fewer seconds (BENCHMARKS.md section 10)."""
    keras, layers = keras_module(), keras_module().layers
    inputs = pixels_input(input_shape)
    outputs = _cnn_body(layers.Rescaling(1 / 255, name="scale_0_1")(inputs), num_classes)
    model = keras.Model(inputs, outputs, name="cnn")
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def cnn_aug(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
            steps_per_execution=1, **_):
    """The CNN behind RandomFlip + RandomRotation(0.2), which act only while training."""
    keras, layers = keras_module(), keras_module().layers
    inputs = pixels_input(input_shape)
    x = _augment(layers.Rescaling(1 / 255, name="scale_0_1")(inputs))
    model = keras.Model(inputs, _cnn_body(x, num_classes), name="cnn_aug")
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def cnn_pre(input_shape, num_classes, *, optimizer="adam", learning_rate=4e-3,
            steps_per_execution=1, x_train=None, **_):
    """An input preprocessing layer (Normalization from the training set's statistics) in front
    of the augmentation layers and the CNN, all inside the model."""
    keras, layers = keras_module(), keras_module().layers
    mean, var = _pixel_stats(x_train)
    inputs = pixels_input(input_shape)
    x = layers.Normalization(axis=None, mean=mean, variance=var, name="standardise")(inputs)
    model = keras.Model(inputs, _cnn_body(_augment(x), num_classes), name="cnn_pre")
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)


def _stem(x, filters: int, momentum: float):
    """A 5x5 convolution with stride 2: the image halved at once (28 -> 14), BN, ReLU."""
    layers = keras_module().layers
    x = layers.Conv2D(filters, 5, strides=2, padding="same", use_bias=False, name="stem")(x)
    return layers.ReLU()(layers.BatchNormalization(momentum=momentum)(x))


def _pool_first(x, filters: int, momentum: float):
    """Conv 3x3 -> MaxPool -> BN -> ReLU: the usual Conv-BN-ReLU-Pool reordered so that BN and
    ReLU (unfused, memory-bound in Keras on TensorFlow) run on a quarter of the pixels; measured
    as accurate, and each epoch about a third cheaper."""
    layers = keras_module().layers
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
    keras, layers = keras_module(), keras_module().layers
    x = inputs = pixels_input(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    x = _pool_first(_stem(x, 16, 0.9), 32, 0.9)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="cnn_quick")
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
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
    keras, layers = keras_module(), keras_module().layers
    x = inputs = pixels_input(input_shape)
    x = layers.Rescaling(1 / 255, name="scale_0_1")(x)
    for filters in (32, 64, 96):
        x = _pool_first(x, filters, 0.9)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="cnn_bn")
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)
