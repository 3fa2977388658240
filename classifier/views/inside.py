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

Each view has a `title` in words for the screen ("1st block: convolution", "Hidden layer (128
neurons)", "Scores (softmax)"), from the layer's kind and its place among the blocks (a block
starts at each convolution, one nested base's blocks counted apart); the Keras name (`name`, e.g.
"re_lu_5", numbered by Keras across every model of the process) is kept for code, never shown.
"""
from __future__ import annotations

import math
import re
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
    name: str                  # the Keras layer name: for code and tests, not for the screen
    kind: str                  # input, conv, pool, activation, norm, dense, scores, other
    shape: tuple[int, ...]     # output shape without the batch axis
    values: np.ndarray         # float32: (H, W, C) maps or (units,)
    order: np.ndarray          # channel (unit) indices, strongest first
    note: str = ""             # what the row shows, for its heading
    title: str = ""            # the layer in words, for the screen: "1st block: pooling"


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
    if _type(layer) in ("LeakyReLU", "Softmax"):
        return _words(_type(layer))
    name = getattr(getattr(layer, "activation", None), "__name__", "linear")
    return {"relu": "ReLU", "linear": ""}.get(name, name)


def _note(layer, folded_bn: bool) -> str:
    """What a row shows, for its heading (its title says which layer it is)."""
    kind, act, name = KINDS.get(_type(layer), "other"), _activation(layer), _type(layer)
    how = "max" if "Max" in name else "average"
    size = "x".join(map(str, getattr(layer, "pool_size", None) or ())) or "2x2"
    what = {"conv": f"feature maps{' after ' + act if act else ''}",
            "pool": f"the {how} of each map" if "Global" in name
            else f"the {how} of each {size} patch",
            "activation": "maps", "norm": "maps",
            "dense": f"neurons{' after ' + act if act else ''}"}.get(kind, _words(name))
    return f"{what}, strongest first"


ORDINALS = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    return f"{n}{'th' if 10 <= n % 100 <= 20 else ORDINALS.get(n % 10, 'th')}"


def _words(class_name: str) -> str:
    """A layer class in words: "GlobalAveragePooling2D" -> "global average pooling"."""
    parts = re.findall(r"ReLU|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", class_name.replace("2D", ""))
    return " ".join(p if p == "ReLU" else p.lower() for p in parts) or "layer"


def _what(layer, folded_bn: bool) -> str:
    """What kind of layer it is, in words: "convolution", "max pooling", "after ReLU"."""
    kind, name = KINDS.get(_type(layer), "other"), _type(layer)
    if kind == "conv":
        if name in ("DepthwiseConv2D", "SeparableConv2D"):
            return f"{_words(name).split()[0]} convolution"
        size = tuple(getattr(layer, "kernel_size", ()))
        return "1x1 convolution" if size == (1, 1) else "convolution"
    if kind == "pool":
        return ("max" if "Max" in name else "average") + " pooling"
    if kind == "activation":
        act = _activation(layer) or "activation"
        return f"after {'batch norm and ' if folded_bn else ''}{act}"
    if kind == "norm":
        return "batch norm" if name == "BatchNormalization" else "layer norm"
    return _words(name)


def _title(layer, folded_bn: bool, block: int, where: str) -> str:
    """The layer in words: `where` names a nested base ("MobileNetV2, "), `block` counts the
    convolutions that started blocks so far (0: none yet)."""
    kind, what = KINDS.get(_type(layer), "other"), _what(layer, folded_bn)
    if kind == "dense":
        units = int(getattr(layer, "units", 0))
        return f"{where}Hidden layer ({units} neuron{'s' * (units != 1)})"
    if kind == "pool" and "Global" in _type(layer):
        return f"{where}Global {what}"
    if block:
        return f"{where}{ordinal(block)} block: {what}"
    return f"{where}{what[:1].upper()}{what[1:]}"


def _base_words(base) -> str:
    """A nested base model in words: "MobileNetV2" for Keras's MobileNetV2, else "The base"."""
    return "MobileNetV2" if base.name.lower().startswith("mobilenetv2") else "The base"


def _feeds(a, b) -> bool:
    """True when layer `a`'s output is an input of layer `b`."""
    out = _node(a).output_tensors[0]
    return any(t is out for t in _node(b).input_tensors)


def _starts_block(layer, before) -> bool:
    """A convolution starts a block, except a 1x1 one after a depthwise convolution in the same
    block (MobileNetV2's "project" step: one block with it)."""
    if KINDS.get(_type(layer)) != "conv":
        return False
    return not (tuple(getattr(layer, "kernel_size", ())) == (1, 1) and before is not None
                and _type(before) == "DepthwiseConv2D")


def _walk(layers: list, limit: int | None = None, where: str = "") -> tuple[list[tuple], int]:
    """Steps (name, kind, note, tensor, title) for `layers`, at most `limit`, and how many of
    `layers` they cover; `where` starts the titles of a nested base's layers."""
    import keras
    steps, kept = [], [layer for layer in layers if not _skipped(layer)]
    block, conv = 0, None  # blocks so far, the block's last convolution
    for i, layer in enumerate(kept):
        if limit is not None and len(steps) >= limit:
            return steps, layers.index(layer)
        if isinstance(layer, keras.Model):
            steps += _base_steps(layer)
            continue
        if _starts_block(layer, conv):
            block += 1
        if KINDS.get(_type(layer)) == "conv":
            conv = layer
        after = kept[i + 1] if i + 1 < len(kept) else None
        if KINDS.get(_type(layer)) == "norm" and after is not None and \
                KINDS.get(_type(after)) == "activation" and _feeds(layer, after):
            continue  # folded into the activation's view (module docstring)
        folded = i > 0 and KINDS.get(_type(kept[i - 1])) == "norm" and _feeds(kept[i - 1], layer)
        steps.append((layer.name, KINDS.get(_type(layer), "other"), _note(layer, folded),
                      _node(layer).output_tensors[0], _title(layer, folded, block, where)))
    return steps, len(layers)


def _base_steps(base) -> list[tuple]:
    """A nested model's first views, taken in the outer graph by calling a sub-model of it on
    what the outer model feeds it, then the base's own output."""
    import keras
    words = _base_words(base)
    inner, looked = _walk(base.layers, BASE_VIEWS, f"{words}, ")
    mapped = keras.Model(base.inputs, [s[3] for s in inner])(_node(base).input_tensors[0])
    mapped = mapped if isinstance(mapped, (list, tuple)) else [mapped]
    steps = [(*s[:3], t, s[4]) for s, t in zip(inner, mapped)]
    rest = len(base.layers) - looked
    note = f"its last layer's maps, {rest} layers on, strongest first"
    return steps + [(base.name, KINDS.get(_type(base.layers[-1]), "other"), note,
                     _node(base).output_tensors[0], f"{words}'s output")]


def _hidden_titles(steps: list[tuple], classes: int) -> list[tuple]:
    """A linear dense layer of one unit a class just before the scores is the logits; hidden
    layers are numbered when there are several ("2nd hidden layer (128 neurons)")."""
    out = list(steps)
    if len(out) > 2 and out[-2][4].startswith("Hidden layer") and \
            out[-2][2] == "neurons, strongest first" and tuple(out[-2][3].shape[1:]) == (classes,):
        out[-2] = (*out[-2][:2], "one number a class, before the softmax", out[-2][3],
                   "Scores before softmax (logits)")
    hidden = [i for i, s in enumerate(out) if s[4].startswith("Hidden layer")]
    for n, i in enumerate(hidden if len(hidden) > 1 else [], start=1):
        out[i] = (*out[i][:4], f"{ordinal(n)} h{out[i][4][1:]}")
    return out


def _build_plan(model) -> tuple[list[tuple], object]:
    """The steps to show and a sub-model whose outputs are their tensors."""
    import keras

    from ..models.registry import outputs_logits
    if len(model.inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(model.inputs)} inputs: layer views "
                         "need a model with one image input")
    layers = [layer for layer in model.layers if _type(layer) != "InputLayer"]
    steps = [(model.inputs[0].name, "input", "the image as the model receives it",
              model.inputs[0], "Input")]
    while layers and (_skipped(layers[0]) or _type(layers[0]) in PREPROCESSING):
        layer = layers.pop(0)  # the model's own scaling and resizing: how it sees the image
        if not _skipped(layer):
            steps[0] = (layer.name, "input", "the image as the first layer reads it",
                        _node(layer).output_tensors[0], "Input")
    steps += _walk(layers)[0]
    note = "softmax of the logits" if outputs_logits(model) else "class probabilities"
    last = len(steps) - 1 if steps[-1][3] is model.outputs[0] else len(steps)
    steps[last:] = [(model.layers[-1].name, "scores", note, model.outputs[0], "Scores (softmax)")]
    steps = _hidden_titles(steps, int(model.outputs[0].shape[-1]))
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
    for (name, kind, note, _, title), out in zip(steps, outputs):
        values = np.asarray(out[0], dtype=np.float32)
        if kind == "input" and values.ndim == 1 and values.size == math.prod(expected):
            values = values.reshape(expected)  # standardised after Flatten: still the image
        if kind == "scores" and outputs_logits(model):
            values = np.exp(values - values.max(), dtype=np.float32)
            values /= values.sum()
        views.append(LayerView(name, kind, values.shape, values, _order(values), note, title))
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
