"""Inside the network: every layer's response to one image, and the first layer's filters.

`layer_views` runs one forward pass through a sub-model (cached per model, sharing its layers, so
it always sees the model's current weights) and returns what each layer made of the image, in
order; `first_layer_filters` the first learned layer's weights. network_pictures.py draws them.

What is shown: the image as the first learned layer reads it (after the model's own scaling),
then every convolution, pooling, activation, dense layer and the class probabilities. Layers that
do not change values at inference (dropout, flatten, reshape, padding, augmentation) are skipped.
A batch norm directly followed by an activation is folded into that activation's view ("after
batch norm and ReLU"): BN only shifts and scales each channel, which a student cannot see in
maps drawn on a per-layer scale, so a separate row would look like a copy of the pooling row.
A batch norm not followed by an activation (MobileNetV2's block outputs) is shown as "norm".
"""
from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np

SKIPPED = ("Dropout", "SpatialDropout", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "Flatten", "Reshape", "ZeroPadding2D", "InputLayer", "ActivityRegularization")
PREPROCESSING = ("Rescaling", "Normalization", "Resizing", "Concatenate", "CenterCrop")
KINDS = {"Conv2D": "conv", "DepthwiseConv2D": "conv", "SeparableConv2D": "conv",
         "MaxPooling2D": "pool", "AveragePooling2D": "pool", "GlobalMaxPooling2D": "pool",
         "GlobalAveragePooling2D": "pool", "BatchNormalization": "norm",
         "LayerNormalization": "norm", "ReLU": "activation", "Activation": "activation",
         "LeakyReLU": "activation", "Softmax": "activation", "Dense": "dense"}
BASE_VIEWS = 6        # views from inside a nested base (MobileNetV2): its first block
MAX_FILTERS = 64      # filter tiles in `filters_picture`


@dataclass
class LayerView:
    """One layer's output for one image."""
    name: str                  # the Keras layer name
    kind: str                  # input, conv, pool, activation, norm, dense, scores, other
    shape: tuple[int, ...]     # output shape without the batch axis
    values: np.ndarray         # float32: (H, W, C) maps or (units,)
    order: np.ndarray          # channel (unit) indices, strongest first
    note: str = ""             # what the row shows, for its heading


@dataclass
class Filters:
    layer: str
    images: np.ndarray         # float32 (n, h, w, c), exactly the weights
    caption: str


# ---------------------------------------------------------------------------- the forward pass

_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _node(layer):
    return layer._inbound_nodes[0]  # its call in the graph it was built in


def _type(layer) -> str:
    return type(layer).__name__


def _skipped(layer) -> bool:
    return _type(layer).startswith(SKIPPED) or _type(layer).startswith("Random")


def _activation(layer) -> str:
    if _type(layer) == "ReLU":
        return "ReLU6" if layer.max_value == 6 else "ReLU"
    name = getattr(getattr(layer, "activation", None), "__name__", "linear")
    return {"relu": "ReLU", "linear": ""}.get(name, name)


def _note(layer, folded_bn: bool) -> str:
    """What a row shows, for its heading."""
    kind, act, name = KINDS.get(_type(layer), "other"), _activation(layer), _type(layer)
    how = "max" if "Max" in name else "average"
    what = {"conv": f"feature maps{' after ' + act if act else ''}",
            "pool": f"global {how} of each map" if "Global" in name else f"{how}-pooled maps",
            "activation": f"after {'batch norm and ' if folded_bn else ''}{act}",
            "dense": f"neurons{' after ' + act if act else ''}",
            "norm": "after batch norm"}.get(kind, name)
    return f"{what}, strongest first"


def _feeds(a, b) -> bool:
    """True when layer `a`'s output is an input of layer `b`."""
    out = _node(a).output_tensors[0]
    return any(t is out for t in _node(b).input_tensors)


def _walk(layers: list, limit: int | None = None) -> tuple[list[tuple], int]:
    """Steps (name, kind, note, tensor) for `layers`, at most `limit`, and how many of
    `layers` they cover."""
    import keras
    steps, kept = [], [layer for layer in layers if not _skipped(layer)]
    for i, layer in enumerate(kept):
        if limit is not None and len(steps) >= limit:
            return steps, layers.index(layer)
        if isinstance(layer, keras.Model):
            steps += _base_steps(layer)
            continue
        after = kept[i + 1] if i + 1 < len(kept) else None
        if KINDS.get(_type(layer)) == "norm" and after is not None and \
                KINDS.get(_type(after)) == "activation" and _feeds(layer, after):
            continue  # folded into the activation's view (module docstring)
        folded = i > 0 and KINDS.get(_type(kept[i - 1])) == "norm" and _feeds(kept[i - 1], layer)
        steps.append((layer.name, KINDS.get(_type(layer), "other"), _note(layer, folded),
                      _node(layer).output_tensors[0]))
    return steps, len(layers)


def _base_steps(base) -> list[tuple]:
    """A nested model's first views, taken in the outer graph by calling a sub-model of it on
    what the outer model feeds it, then the base's own output."""
    import keras
    inner, looked = _walk(base.layers, BASE_VIEWS)
    mapped = keras.Model(base.inputs, [s[3] for s in inner])(_node(base).input_tensors[0])
    mapped = mapped if isinstance(mapped, (list, tuple)) else [mapped]
    steps = [(*s[:3], t) for s, t in zip(inner, mapped)]
    note = f"the base's output, {len(base.layers) - looked} layers on, strongest first"
    return steps + [(base.name, KINDS.get(_type(base.layers[-1]), "other"), note,
                     _node(base).output_tensors[0])]


def _build_plan(model) -> tuple[list[tuple], object]:
    """The steps to show and a sub-model whose outputs are their tensors."""
    import keras

    from ..models.registry import outputs_logits
    if len(model.inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(model.inputs)} inputs: layer views "
                         "need a model with one image input")
    layers = [layer for layer in model.layers if _type(layer) != "InputLayer"]
    steps = [(model.inputs[0].name, "input", "the image as the model receives it",
              model.inputs[0])]
    while layers and (_skipped(layers[0]) or _type(layers[0]) in PREPROCESSING):
        layer = layers.pop(0)  # the model's own scaling and resizing: how it sees the image
        if not _skipped(layer):
            steps[0] = (layer.name, "input", "the image as the first layer reads it",
                        _node(layer).output_tensors[0])
    steps += _walk(layers)[0]
    note = "softmax of the logits" if outputs_logits(model) else "class probabilities"
    last = len(steps) - 1 if steps[-1][3] is model.outputs[0] else len(steps)
    steps[last:] = [(model.layers[-1].name, "scores", note, model.outputs[0])]
    return steps, keras.Model(model.inputs, [s[3] for s in steps], name=f"{model.name}_views")


def _order(values: np.ndarray) -> np.ndarray:
    """Channel indices by mean activation, descending; by mean |value| where any is negative."""
    strength = np.abs(values) if (values < 0).any() else values
    if strength.ndim == 3:
        strength = strength.mean(axis=(0, 1))
    return np.argsort(-strength, kind="stable")


def layer_views(model, batch: np.ndarray) -> list[LayerView]:
    """Every shown layer's output for the first image of `batch` (N, H, W, C) or (H, W, C)."""
    from ..models.registry import outputs_logits
    batch = np.asarray(batch)
    batch = batch[None] if batch.ndim == 3 else batch[:1]
    expected = tuple(model.input_shape[1:])
    if batch.shape[1:] != expected:
        raise ValueError(f"model {model.name!r} takes images of shape {expected}, got "
                         f"{batch.shape[1:]}: prepare the image for this model first")
    with _LOCK:
        if model not in _PLANS:
            _PLANS[model] = _build_plan(model)
        steps, sub = _PLANS[model]
        outputs = sub.predict_on_batch([batch.astype(np.float32)])
    views = []
    for (name, kind, note, _), out in zip(steps, outputs):
        values = np.asarray(out[0], dtype=np.float32)
        if kind == "input" and values.ndim == 1 and values.size == math.prod(expected):
            values = values.reshape(expected)  # standardised after Flatten: still the image
        if kind == "scores" and outputs_logits(model):
            values = np.exp(values - values.max(), dtype=np.float32)
            values /= values.sum()
        views.append(LayerView(name, kind, values.shape, values, _order(values), note))
    return views


# ---------------------------------------------------------------------------- filters

def _first_weighted(model):
    """The first Conv2D or Dense layer, looking inside a nested base."""
    import keras
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return _first_weighted(layer)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            return layer
    raise ValueError(f"model {model.name!r} has no Conv2D or Dense layer to show filters of")


def _colour_key(channels: int, what: str) -> str:
    if channels == 3:
        return f"mid-grey is 0, and a colour shows where that colour raises {what}"
    return f"red where a bright pixel raises {what}, blue where it lowers it"


def first_layer_filters(model) -> Filters:
    """The first layer's learned weights as images, one per filter or hidden neuron."""
    import keras
    layer = _first_weighted(model)
    kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)
    more = f" (the first {MAX_FILTERS} shown)" if kernel.shape[-1] > MAX_FILTERS else ""
    if isinstance(layer, keras.layers.Conv2D):
        k, _, cin, cout = kernel.shape
        return Filters(layer.name, np.transpose(kernel, (3, 0, 1, 2)).copy(),
                       f"{cout} filters of {k}x{k} pixels, the first convolution's kernels"
                       f"{more}: {_colour_key(cin, 'the response')}.")
    shape = tuple(model.input_shape[1:])
    if kernel.shape[0] != math.prod(shape):
        raise ValueError(f"layer {layer.name!r} reads {kernel.shape[0]} values, not the "
                         f"{math.prod(shape)} pixels of a {shape} image: no filters to show")
    return Filters(layer.name, kernel.T.reshape(-1, *shape).copy(),
                   f"{kernel.shape[1]} neurons' weights, one per pixel, what each neuron of the "
                   f"first layer looks for{more}: {_colour_key(shape[-1], 'its response')}.")
