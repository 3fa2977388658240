"""MobileNetV2 transfer learning: ImageNet's weights where they are cached or can be fetched, a
frozen base and a small new head."""
from __future__ import annotations

import os
from pathlib import Path

from .recipes import compile_model, keras_module, pixels_input

OFFLINE_WEIGHTS_HELP = ("MobileNetV2's ImageNet weights are not cached and could not be "
                        "downloaded: connect to the internet, or train with random initial "
                        "weights (pretrained=False, --random-weights in the CLI)")



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
        from ..data.datasets import download, downloads_allowed
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
    keras = keras_module()
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
    keras, layers = keras_module(), keras_module().layers
    h, w, c = input_shape
    size = mobilenet_size(input_shape)
    x = inputs = pixels_input(input_shape)
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
    return compile_model(model, optimizer, learning_rate, "sparse_categorical_crossentropy",
                    steps_per_execution)
