"""Inside the network: every layer's response to one image, and the first layer's filters.

`layer_views` runs one forward pass through a sub-model (cached per model, sharing its layers, so
it always sees the model's current weights) and returns what each layer made of the image, in
order. `network_picture` and `filters_picture` draw them with numpy and Pillow (fast enough to
redraw per click); `feature_map_figure` enlarges one map with matplotlib.

What is shown: the image as the first learned layer reads it (after the model's own scaling),
then every convolution, pooling, activation, dense layer and the class probabilities. Layers that
do not change values at inference (dropout, flatten, reshape, padding, augmentation) are skipped.
A batch norm directly followed by an activation is folded into that activation's view ("after
batch norm and ReLU"): BN only shifts and scales each channel, which a student cannot see in
maps drawn on a per-layer scale, so a separate row would look like a copy of the pooling row.
A batch norm not followed by an activation (MobileNetV2's block outputs) is shown as "norm".
"""
from __future__ import annotations

import functools
import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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
WIDTH, MARGIN, GAP, HEADER = 976, 8, 4, 20
TILE, CELL, BAR = 56, 14, 16   # target map tile, dense cell and score bar sizes in pixels


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


@dataclass
class Picture:
    """An RGB image and where each tile lies, to map clicks back to (view, channel)."""
    image: np.ndarray                                       # uint8 (H, W, 3)
    boxes: list[tuple[int, int, int, int, int, int]]   # x0, y0, x1, y1, view index, channel
    headers: list[tuple[int, int, int, int, str]]      # x0, y0, x1, y1, heading: one per view

    def at(self, x: float, y: float, slack: float = GAP) -> tuple[int, int] | None:
        """(view index, channel) of the tile at pixel (x, y), or of the nearest one within
        `slack` pixels (a click in the thin gap between tiles still picks one); channel -1 is a
        colour image."""
        best, where = slack + 1e-9, None
        for x0, y0, x1, y1, view, channel in self.boxes:
            away = math.hypot(max(x0 - x, 0, x - x1 + 1), max(y0 - y, 0, y - y1 + 1))
            if away == 0:
                return view, channel
            if away < best:
                best, where = away, (view, channel)
        return where


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


# ---------------------------------------------------------------------------- pictures

BACKGROUND, TOP, OTHER = 236, (214, 96, 34), (70, 110, 170)  # page, top class, others
_STOPS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]])
HEAT = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _STOPS[:, c])
                 for c in range(3)], axis=-1).astype(np.uint8)  # inferno-like, black to yellow


@functools.lru_cache(maxsize=4)
def _font(size: int = 13):
    return ImageFont.load_default(size=size)


def _diverging(t: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] to RGB uint8: blue at -1, white at 0, red at +1."""
    t = np.nan_to_num(np.clip(t, -1, 1))
    fade = 1 - np.abs(t)
    rgb = np.stack([np.where(t < 0, fade, 1), fade, np.where(t > 0, fade, 1)], axis=-1)
    return (rgb * 255).astype(np.uint8)


def _colours(values: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """RGB for `values` on the scale of the whole `layer`: blue-white-red around 0 where the
    layer has negative values, else black (0) to yellow (the layer's maximum)."""
    top = _top(layer)
    if (layer < 0).any():
        return _diverging(values / top)
    return HEAT[np.nan_to_num(np.clip(values / top * 255, 0, 255)).astype(np.uint8)]


def _top(values: np.ndarray) -> float:
    """The largest |value|, 1 where there is none (all zero, or not finite after divergence)."""
    top = float(np.nanmax(np.abs(values), initial=0.0))
    return top if 0 < top < np.inf else 1.0


def _stretched(values: np.ndarray) -> np.ndarray:
    """Min-max to uint8: an input image as it looks, whatever the model's scaling."""
    lo, hi = float(values.min()), float(values.max())
    return ((values - lo) / ((hi - lo) or 1.0) * 255).astype(np.uint8)


def _grid(tiles: list[np.ndarray], factor: int, width: int = WIDTH):
    """Tiles (h, w, 3) upscaled by `factor`, in lines across `width`: (image, boxes)."""
    th, tw = tiles[0].shape[0] * factor, tiles[0].shape[1] * factor
    per = max(1, (width - 2 * MARGIN + GAP) // (tw + GAP))
    lines = math.ceil(len(tiles) / per)
    body = np.full((lines * (th + GAP), width, 3), BACKGROUND, np.uint8)
    boxes = []
    for j, tile in enumerate(tiles):
        y, x = (j // per) * (th + GAP), MARGIN + (j % per) * (tw + GAP)
        body[y:y + th, x:x + tw] = tile.repeat(factor, 0).repeat(factor, 1)
        boxes.append((x, y, x + tw, y + th))
    return body, boxes


def _maps_row(view: LayerView, max_channels: int):
    """Each channel a tile, strongest first, on the layer's scale; an RGB input as one tile
    (channel -1). Large maps are thinned to about 2 * TILE pixels, small ones upscaled to about
    TILE, the input to twice that."""
    v = view.values
    small = v[::math.ceil(v.shape[0] / (2 * TILE)), ::math.ceil(v.shape[1] / (2 * TILE))]
    size = 2 * TILE if view.kind == "input" else TILE
    channels = list(view.order[:max_channels])
    if view.kind == "input":
        grey = _stretched(small)
        channels, tiles = ([-1], [grey]) if v.shape[-1] == 3 else \
            (channels, [np.repeat(grey[..., c:c + 1], 3, -1) for c in channels])
    else:
        rgb = _colours(small[..., channels], v)
        tiles = [rgb[:, :, j] for j in range(len(channels))]
    body, boxes = _grid(tiles, max(1, round(size / small.shape[0])))
    hidden = 0 if channels == [-1] else v.shape[-1] - len(channels)
    return body, [(*b, int(c)) for b, c in zip(boxes, channels)], [], hidden


def _cells_row(view: LayerView, max_channels: int):
    """A dense layer's units as small cells, strongest first."""
    units = list(view.order[:8 * max_channels])
    rgb = _colours(view.values[units], view.values)
    body, boxes = _grid([np.broadcast_to(c, (CELL, CELL, 3)) for c in rgb], 1)
    return body, [(*b, int(u)) for b, u in zip(boxes, units)], [], len(view.values) - len(units)


def _scores_row(view: LayerView, class_names: list[str], max_channels: int):
    """Labelled horizontal bars, in class order (top classes only when there are many)."""
    p = view.values
    shown = list(range(len(p))) if len(p) <= max_channels else list(view.order[:max_channels])
    body = np.full((len(shown) * BAR + GAP, WIDTH, 3), BACKGROUND, np.uint8)
    left, span, boxes, texts = 200, WIDTH - 300, [], []
    for j, k in enumerate(shown):
        y = j * BAR
        length = int(round(float(p[k]) * span))
        body[y + 2:y + BAR - 2, left:left + length] = TOP if k == view.order[0] else OTHER
        name = class_names[k] if k < len(class_names) else f"class {k}"
        texts += [(MARGIN, y, name[:28]), (left + length + 6, y, f"{float(p[k]):.1%}")]
        boxes.append((MARGIN, y, WIDTH - MARGIN, y + BAR, int(k)))
    return body, boxes, texts, len(p) - len(shown)


def network_picture(views: list[LayerView], class_names: list[str],
                    max_channels: int = 32) -> Picture:
    """All views as one image, top to bottom, with the boxes that map a click to a channel."""
    parts, boxes, headers, texts, y = [], [], [], [], 0
    for index, view in enumerate(views):
        if view.kind == "scores":
            body, local, words, hidden = _scores_row(view, class_names, max_channels)
        elif view.values.ndim == 3:
            body, local, words, hidden = _maps_row(view, max_channels)
        else:
            body, local, words, hidden = _cells_row(view, max_channels)
        text = " · ".join([view.name, "x".join(map(str, view.shape)), view.note]
                          + ([f"+{hidden} more"] if hidden else []))
        headers.append((0, y, WIDTH, y + HEADER, text))
        texts.append((MARGIN, y + 3, text))
        top = y + HEADER
        boxes += [(x0, y0 + top, x1, y1 + top, index, c) for x0, y0, x1, y1, c in local]
        texts += [(x, ty + top, t) for x, ty, t in words]
        parts += [np.full((HEADER, WIDTH, 3), BACKGROUND, np.uint8), body,
                  np.full((GAP * 2, WIDTH, 3), BACKGROUND, np.uint8)]
        y = top + len(body) + GAP * 2
    image = Image.fromarray(np.concatenate(parts))
    draw = ImageDraw.Draw(image)
    for x, ty, text in texts:
        draw.text((x, ty), text, fill=(20, 20, 20), font=_font())
    return Picture(np.asarray(image), boxes, headers)


def filters_picture(filters: Filters) -> np.ndarray:
    """The filters as a grid of tiles on one scale shared by all filters (strong and weak ones
    compare): grey-input weights blue-white-red around 0, colour kernels as colour images with
    mid-grey at 0. Small kernels are upscaled to about 48 pixels."""
    top, shown = _top(filters.images), filters.images[:MAX_FILTERS]
    if shown.shape[-1] == 3:
        rgb = np.nan_to_num((0.5 + 0.5 * shown / top).clip(0, 1) * 255).astype(np.uint8)
    else:
        rgb = _diverging(shown.mean(axis=-1) / top)
    factor = max(1, round(48 / shown.shape[1]))
    width = min(WIDTH, 2 * MARGIN + len(rgb) * (factor * shown.shape[2] + GAP))
    return _grid(list(rgb), factor, width)[0]


def feature_map_figure(view: LayerView, channel: int, class_names: list[str] | None = None):
    """One channel enlarged with a colour bar of its values (its own range, so its pattern shows),
    or, for a dense or scores view, every unit as a bar with `channel` marked."""
    from matplotlib.figure import Figure
    v, size = view.values, view.values.shape[-1]
    colour = channel == -1 and view.kind == "input" and v.shape[-1:] == (3,) and v.ndim == 3
    if not (0 <= channel < size or colour):
        raise ValueError(f"channel must be between 0 and {size - 1} for {view.name!r} (-1 for "
                         f"a colour input), got {channel}")
    fig = Figure(figsize=(4.6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    if colour:
        ax.imshow(_stretched(v), interpolation="nearest")
        ax.set_title(f"{view.name}: the colour image, {v.min():.3g} to {v.max():.3g}")
    elif v.ndim == 3:
        m, signed = v[..., channel], bool((v < 0).any())
        top = _top(m)
        shown = ax.imshow(m, cmap="RdBu_r" if signed else "inferno", vmin=-top if signed else 0,
                          vmax=top, interpolation="nearest")
        fig.colorbar(shown, ax=ax, label="value")
        ax.set_title(f"{view.name}, channel {channel}: {m.min():.3g} to {m.max():.3g}",
                     fontsize=10)
    else:
        names = class_names if view.kind == "scores" and class_names else []
        label = names[channel] if channel < len(names) else f"unit {channel}"
        ax.bar(range(size), v, width=1.0,
               color=["tab:red" if k == channel else "0.7" for k in range(size)])
        ax.set_xlabel("class" if view.kind == "scores" else "unit")
        ax.set_title(f"{view.name}, {label}: {v[channel]:.3g}", fontsize=10)
        return fig
    ax.set_xticks([])
    ax.set_yticks([])
    return fig
