"""Saliency, "why this answer": which pixels of one image drove a class score.

Grad-CAM (Selvaraju et al. 2017) for models with a Conv2D layer: the last spatial feature maps,
weighted by the mean gradient of the class score, ReLU, upsampled to the input. Models without
convolutions (the MLPs) get gradient x input. Scores are the pre-softmax logits wherever the model
ends in a softmax we can peel off, so the map shows evidence *for* the class rather than evidence
against the others (the gradient of a probability mixes in every class).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Saliency:
    """A heat map over the input image and how it was made."""
    heat: np.ndarray          # (H, W) float32 in [0, 1], max 1 unless all zero
    method: str               # "Grad-CAM" or "gradient x input"
    class_index: int          # the class explained
    layer: str | None         # the conv layer Grad-CAM used, None for gradient x input


def _keras():
    import keras
    return keras


def unwrap(model):
    """The model that `probability_model` wrapped in Sequential([model, Softmax]), or the model."""
    keras = _keras()
    layers = model.layers
    if (isinstance(model, keras.Sequential) and len(layers) == 2
            and isinstance(layers[0], keras.Model) and isinstance(layers[1], keras.layers.Softmax)):
        return layers[0]
    return model


def _has_conv(layer) -> bool:
    """True for a Conv2D layer or a nested model (MobileNetV2's base) that holds one."""
    keras = _keras()
    if isinstance(layer, keras.Model):
        return any(_has_conv(inner) for inner in layer.layers)
    return isinstance(layer, keras.layers.Conv2D)


def _symbolic_output(layer):
    """The layer's output in its parent's graph; a nested model's `.output` is its inner graph's."""
    return layer._inbound_nodes[0].output_tensors[0]


def _softmax_head(model) -> tuple[list, Callable | None]:
    """The layers before a final softmax and a function from their output to logits, else
    (all layers, None)."""
    keras = _keras()
    *body, last = model.layers
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and activation == "softmax"):
        return body, lambda h: h
    if isinstance(last, keras.layers.Dense) and activation == "softmax":
        return body, lambda h: h @ last.kernel + last.bias
    return model.layers, None


def _spatial(shape) -> bool:
    """True for a batch of feature maps bigger than 1x1."""
    return len(shape) == 4 and shape[1] * shape[2] > 1


def _forward(model) -> Callable:
    """A function x -> (last spatial conv features or None, that layer's name, class scores)."""
    keras = _keras()
    model = unwrap(model)
    body, head = _softmax_head(model)
    to_scores = head or (lambda h: h)
    if isinstance(model, keras.Sequential):  # Keras 3 may hold no graph to cut: call in turn
        def run_layers(x):
            features, name = None, None
            for layer in body:
                x = layer(x, training=False)
                if _has_conv(layer) and _spatial(x.shape):
                    features, name = x, layer.name
            return features, name, to_scores(x)
        return run_layers
    convs = [layer for layer in model.layers
             if _has_conv(layer) and _spatial(_symbolic_output(layer).shape)]
    conv = convs[-1] if convs else None
    outputs = {"scores": model.layers[-1].input if head else model.outputs[0]}
    if conv:
        outputs["features"] = _symbolic_output(conv)
    cut = keras.Model(model.inputs, outputs)  # a dict out: the same structure back, always

    def run_graph(x):
        out = cut(x, training=False)
        return out.get("features"), (conv.name if conv else None), to_scores(out["scores"])
    return run_graph


def _normalise(heat) -> np.ndarray:
    """Finite, non-negative, scaled so the maximum is 1 (all zeros stay zeros)."""
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    heat = np.maximum(heat, 0.0)
    top = float(heat.max())
    return heat / top if top > 0 else heat


def saliency(model, batch: np.ndarray, class_index: int | None = None) -> Saliency:
    """Heat map of which pixels of the one image in `batch` (1, H, W, C) drove a class's score."""
    import tensorflow as tf
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[0] != 1:
        raise ValueError(f"saliency needs a batch of one image (1, H, W, C), got {batch.shape}")
    x = tf.convert_to_tensor(batch, tf.float32)
    run = _forward(model)
    with tf.GradientTape() as tape:
        tape.watch(x)
        features, layer, scores = run(x)
        n = int(scores.shape[-1])
        index = int(tf.argmax(scores[0])) if class_index is None else int(class_index)
        if not 0 <= index < n:
            raise ValueError(f"class_index must be between 0 and {n - 1}, got {class_index}")
        score = scores[0, index]
    h, w = batch.shape[1:3]
    if features is not None:
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(features * weights, axis=-1, keepdims=True))
        heat = tf.image.resize(cam, (h, w), method="bilinear")[0, ..., 0]
        return Saliency(_normalise(heat), "Grad-CAM", index, layer)
    grads = tape.gradient(score, x)
    heat = tf.reduce_sum(tf.abs(grads * x), axis=-1)[0] if grads is not None else np.zeros((h, w))
    return Saliency(_normalise(heat), "gradient x input", index, None)


def overlay(seen: np.ndarray, heat: np.ndarray, size: int = 196) -> np.ndarray:
    """RGB uint8: the image the model saw with the heat map blended in, upscaled sharp."""
    import matplotlib

    from ..images.preprocess import upscale
    image = np.asarray(seen)
    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    if image.shape[:2] != np.shape(heat):
        raise ValueError(f"the heat map {np.shape(heat)} must match the image {image.shape[:2]}")
    rgb = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]
    colours = matplotlib.colormaps["inferno"](np.clip(heat, 0, 1))[..., :3] * 255.0
    blend = 0.5 * rgb.astype(np.float32) + 0.5 * colours
    return upscale(np.clip(np.rint(blend), 0, 255).astype(np.uint8), size)
