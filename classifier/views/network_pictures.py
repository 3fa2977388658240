"""Inside the network, drawn: `network_picture` (every layer's maps in rows, input at the top,
scores at the bottom, with where each tile lies for clicks) and `filters_picture`, with numpy and
Pillow (fast enough to redraw per click); `feature_map_figure` enlarges one map with matplotlib."""
from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .inside import MAX_FILTERS, Filters, LayerView

WIDTH, MARGIN, GAP = 976, 8, 4
TILE, CELL = 56, 14            # target map tile and dense cell sizes in pixels
# Text for a projector: the picture is shown scaled to its panel, about 0.73x at a 1280 px wide
# page (712 of 976 px), so 22 px letters are 16 px on screen; 14 at the least
# (tests/test_browser_inside.py measures it)
FONT = 22
LINE = FONT + 8                # a heading's line; a score bar's row
TITLE_PT = 14                  # the enlarged map's title, in points (100 dpi: 19 px)


@dataclass
class Picture:
    """An RGB image and where each tile lies, to map clicks back to (view, channel)."""
    image: np.ndarray                                       # uint8 (H, W, 3)
    boxes: list[tuple[int, int, int, int, int, int]]   # x0, y0, x1, y1, view index, channel
    headers: list[tuple[int, int, int, int, str]]  # x0, y0, x1, y1, heading (its lines): per view

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


# ---------------------------------------------------------------------------- pictures

BACKGROUND, TOP, OTHER = 236, (214, 96, 34), (70, 110, 170)  # page, top class, others
_STOPS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]])
HEAT = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _STOPS[:, c])
                 for c in range(3)], axis=-1).astype(np.uint8)  # inferno-like, black to yellow


@functools.lru_cache(maxsize=4)
def _font(size: int = FONT):
    return ImageFont.load_default(size=size)


def _lines(parts: list[str], width: int = WIDTH - 2 * MARGIN) -> list[str]:
    """Parts joined by " · " in as few lines as fit `width` pixels at FONT (a part too long for
    a line keeps a line of its own)."""
    lines: list[str] = []
    for part in parts:
        joined = f"{lines[-1]} · {part}" if lines else part
        if lines and _font().getlength(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(part)
    return lines


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
    names = [(class_names[k] if k < len(class_names) else f"class {k}")[:28] for k in shown]
    body = np.full((len(shown) * LINE + GAP, WIDTH, 3), BACKGROUND, np.uint8)
    left = MARGIN + 12 + int(max(_font().getlength(n) for n in names))
    span, boxes, texts = WIDTH - left - MARGIN - int(_font().getlength("100.0%")) - 12, [], []
    for j, (k, name) in enumerate(zip(shown, names)):
        y = j * LINE
        length = int(round(float(p[k]) * span))
        body[y + 4:y + LINE - 4, left:left + length] = TOP if k == view.order[0] else OTHER
        texts += [(MARGIN, y + 2, name), (left + length + 6, y + 2, f"{float(p[k]):.1%}")]
        boxes.append((MARGIN, y, WIDTH - MARGIN, y + LINE, int(k)))
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
        lines = _lines([view.title or view.name, "x".join(map(str, view.shape)), view.note]
                       + ([f"+{hidden} more"] if hidden else []))
        header = len(lines) * LINE
        headers.append((0, y, WIDTH, y + header, "\n".join(lines)))
        texts += [(MARGIN, y + 3 + j * LINE, line) for j, line in enumerate(lines)]
        top = y + header
        boxes += [(x0, y0 + top, x1, y1 + top, index, c) for x0, y0, x1, y1, c in local]
        texts += [(x, ty + top, t) for x, ty, t in words]
        parts += [np.full((header, WIDTH, 3), BACKGROUND, np.uint8), body,
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
        raise ValueError(f"channel must be between 0 and {size - 1} for {view.title or view.name!r}"
                         f" (-1 for a colour input), got {channel}")
    fig = Figure(figsize=(4.8, 4.4), layout="constrained")
    ax = fig.add_subplot()
    title = textwrap.fill(view.title or view.name, 34)  # 14 pt across a 4.8 inch figure
    if colour:
        ax.imshow(_stretched(v), interpolation="nearest")
        ax.set_title(f"{title}\nthe colour image, {v.min():.3g} to {v.max():.3g}",
                     fontsize=TITLE_PT)
    elif v.ndim == 3:
        m, signed = v[..., channel], bool((v < 0).any())
        top = _top(m)
        shown = ax.imshow(m, cmap="RdBu_r" if signed else "inferno", vmin=-top if signed else 0,
                          vmax=top, interpolation="nearest")
        bar = fig.colorbar(shown, ax=ax)
        bar.set_label("value", fontsize=12)
        bar.ax.tick_params(labelsize=11)
        ax.set_title(f"{title}\nchannel {channel}: {m.min():.3g} to {m.max():.3g}",
                     fontsize=TITLE_PT)
    else:
        names = class_names if view.kind == "scores" and class_names else []
        label = names[channel] if channel < len(names) else f"unit {channel}"
        ax.bar(range(size), v, width=1.0,
               color=["tab:red" if k == channel else "0.7" for k in range(size)])
        ax.set_xlabel("class" if view.kind == "scores" else "unit", fontsize=12)
        ax.tick_params(labelsize=11)
        ax.set_title(f"{title}\n{label}: {v[channel]:.3g}", fontsize=TITLE_PT)
        return fig
    ax.set_xticks([])
    ax.set_yticks([])
    return fig
