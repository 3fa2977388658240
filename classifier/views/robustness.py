"""What breaks it: shift, rotate, scale, blur, add noise to or erase part of the image a model
saw, and follow the top class's confidence along a sweep of one transform.

An MLP's answer collapses under a few pixels of shift where a CNN's holds: the point of
convolutions, shown on the student's own image. Images stay uint8 with their shape; what a
transform uncovers is black (the datasets' background). `apply` always works in one order:
geometry (scale, rotate, shift: one bilinear resampling about the centre), then blur, then noise,
then erase, so the same sliders always give the same picture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

__all__ = ["Transform", "TRANSFORMS", "transform", "apply", "Sweep", "sweep", "sweep_figure",
           "strip"]


@dataclass(frozen=True)
class Transform:
    """One slider: its range and neutral value, and the sweep (start, stop, step) a button draws."""
    label: str
    unit: str
    low: float
    high: float
    step: float
    neutral: float
    sweep: tuple[float, float, float]
    phrase: str  # "Confidence in 'x' as the image <phrase>"

    def sweep_values(self) -> np.ndarray:
        start, stop, step = self.sweep
        return np.round(np.linspace(start, stop, round((stop - start) / step) + 1), 6)


TRANSFORMS: dict[str, Transform] = {  # the order the app lists them in
    "shift_right": Transform("shift right", "px", -10, 10, 1, 0, (-8, 8, 1), "shifts right"),
    "shift_down": Transform("shift down", "px", -10, 10, 1, 0, (-8, 8, 1), "shifts down"),
    "rotate": Transform("rotate (anticlockwise)", "degrees", -180, 180, 5, 0, (-90, 90, 10),
                        "rotates"),
    "scale": Transform("scale factor", "x", 0.4, 1.6, 0.05, 1, (0.5, 1.5, 0.05), "is scaled"),
    "blur": Transform("blur (Gaussian sigma)", "px", 0, 4, 0.1, 0, (0, 3, 0.25), "is blurred"),
    "noise": Transform("noise (std)", "grey levels", 0, 150, 5, 0, (0, 120, 10), "gets noisier"),
    "erase": Transform("erase centre square (side)", "px", 0, 20, 1, 0, (0, 16, 1),
                       "loses its centre"),
}
_GEOMETRY = ("scale", "rotate", "shift_right", "shift_down")
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def _spec(kind: str) -> Transform:
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown transform {kind!r}: use one of {', '.join(TRANSFORMS)}")
    return TRANSFORMS[kind]


def _checked(kind: str, amount) -> float:
    """`amount` as a float inside `kind`'s slider range, or a ValueError saying what is allowed."""
    t = _spec(kind)
    try:
        value, got = float(amount), f"{float(amount):g}"
    except (TypeError, ValueError):
        value, got = math.nan, repr(amount)
    if not t.low <= value <= t.high:  # False for NaN too
        raise ValueError(f"{t.label.split(' (')[0]} must be a number from "
                         f"{_span(t.low, t.high, t.unit)}, got {got}")
    return value


def _checked_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or 0 in image.shape:
        raise ValueError(f"expected a uint8 image (H, W) or (H, W, C), got {image.dtype} "
                         f"array of shape {image.shape}")
    return image


def transform(image: np.ndarray, kind: str, amount: float, seed: int = 0) -> np.ndarray:
    """`image` with one transform (a key of TRANSFORMS) applied by `amount`."""
    _checked(kind, amount)
    return apply(image, seed=seed, **{kind: amount})


def apply(image: np.ndarray, seed: int = 0, **amounts: float) -> np.ndarray:
    """`image` with several transforms (keys of TRANSFORMS), in the module's fixed order."""
    image = _checked_image(image)
    a = {kind: TRANSFORMS[kind].neutral for kind in TRANSFORMS}
    a.update({kind: _checked(kind, value) for kind, value in amounts.items()})
    out = image
    if any(a[k] != TRANSFORMS[k].neutral for k in _GEOMETRY):
        out = _per_channel(out, lambda c: _affine(c, a["scale"], a["rotate"],
                                                  a["shift_right"], a["shift_down"]))
    if a["blur"] > 0:
        out = _per_channel(out, lambda c: _blur(c, a["blur"]))
    if a["noise"] > 0:  # same seed, same pattern: the slider only scales it
        noise = np.random.default_rng(seed).standard_normal(out.shape) * a["noise"]
        out = np.clip(np.rint(out + noise), 0, 255).astype(np.uint8)
    if a["erase"] >= 1:
        out = _erase(out, int(round(a["erase"])))
    return out.copy() if out is image else out


def _per_channel(image: np.ndarray, fn) -> np.ndarray:
    """`fn` on each (H, W) channel: works alike for grey, (H, W, 1) and RGB."""
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., k]) for k in range(image.shape[-1])], axis=-1)


def _affine(channel: np.ndarray, scale: float, degrees: float, right: float, down: float):
    """Scale and rotate about the centre, then shift; bilinear, black fill. Pillow maps each
    output pixel back into the input, so the matrix is the inverse; whole-pixel shifts and
    quarter turns of a square land on pixel centres and are exact."""
    h, w = channel.shape
    cx, cy = w / 2, h / 2
    t = math.radians(degrees)
    cos, sin = round(math.cos(t), 15) / scale, round(math.sin(t), 15) / scale
    ox, oy = cx + right, cy + down  # where the centre goes
    data = (cos, -sin, cx - cos * ox + sin * oy, sin, cos, cy - sin * ox - cos * oy)
    out = Image.fromarray(channel).transform((w, h), Image.Transform.AFFINE, data,
                                             resample=Image.Resampling.BILINEAR, fillcolor=0)
    return np.asarray(out)


def _blur(channel: np.ndarray, sigma: float) -> np.ndarray:
    """Exact separable Gaussian (three sigmas wide), zero outside the image like the background."""
    reach = math.ceil(3 * sigma)
    total = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2).sum()

    def matrix(n: int) -> np.ndarray:  # row i: the kernel centred on pixel i
        d = np.arange(n)[:, None] - np.arange(n)[None, :]
        return np.exp(-0.5 * (d / sigma) ** 2) * (np.abs(d) <= reach) / total
    out = matrix(channel.shape[0]) @ channel.astype(np.float64) @ matrix(channel.shape[1]).T
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _erase(image: np.ndarray, side: int) -> np.ndarray:
    """A black square of `side` px (at most the image) at the centre."""
    out = image.copy()
    h, w = image.shape[:2]
    top, left = (h - min(side, h)) // 2, (w - min(side, w)) // 2
    out[top:top + min(side, h), left:left + min(side, w)] = 0
    return out


@dataclass
class Sweep:
    """One model's answers along one transform: confidence in the followed class at each value."""
    kind: str
    values: np.ndarray      # sorted amounts
    confidence: np.ndarray  # probability of `class_index` at each value
    top: np.ndarray         # the top class at each value
    class_index: int

    def holds(self) -> tuple[float, float] | None:
        """The contiguous range of values around the neutral one where `class_index` stays the
        top answer; None when it is not the top answer at the value nearest neutral."""
        i = int(np.argmin(np.abs(self.values - TRANSFORMS[self.kind].neutral)))
        if self.top[i] != self.class_index:
            return None
        lo = hi = i
        while lo > 0 and self.top[lo - 1] == self.class_index:
            lo -= 1
        while hi < len(self.top) - 1 and self.top[hi + 1] == self.class_index:
            hi += 1
        return float(self.values[lo]), float(self.values[hi])


def sweep(probabilities: Callable[[np.ndarray], np.ndarray], image: np.ndarray, kind: str,
          values=None, class_index: int | None = None) -> Sweep:
    """Predict `image` under each value of transform `kind` (its sweep by default) in ONE batch,
    following `class_index` or, if None, the top class on the untransformed image."""
    image = _checked_image(image)
    values = _spec(kind).sweep_values() if values is None else values
    values = np.sort(np.array([_checked(kind, v) for v in np.ravel(values).tolist()], float))
    if len(values) == 0:
        raise ValueError(f"a sweep needs at least one value of {kind}, got none")
    batch = np.stack([image] + [transform(image, kind, v) for v in values])
    if batch.ndim == 3:
        batch = batch[..., None]  # (H, W) images: the model takes one channel
    p = np.asarray(probabilities(batch), dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != len(batch):
        raise ValueError(f"probabilities must return ({len(batch)}, classes), got shape {p.shape}")
    followed = int(np.argmax(p[0])) if class_index is None else int(class_index)
    if not 0 <= followed < p.shape[1]:
        raise ValueError(f"class_index must be from 0 to {p.shape[1] - 1}, got {class_index!r}")
    return Sweep(kind, values, p[1:, followed], np.argmax(p[1:], axis=1), followed)


def _span(lo: float, hi: float, unit: str) -> str:
    return f"{lo:g}x to {hi:g}x" if unit == "x" else f"{lo:g} to {hi:g} {unit}"


def _legend(name: str, s: Sweep, show_class: str | None) -> str:
    held, unit = s.holds(), TRANSFORMS[s.kind].unit
    who = f"{name} ('{show_class}')" if show_class else name
    if held is None:
        return f"{who}: not its top answer even untouched"
    return f"{who}: holds from {_span(*held, unit)}"


def sweep_figure(sweeps: list[tuple[str, Sweep]], class_names: list[str]):
    """Each model's confidence in its followed class along one transform; crosses where another
    class is on top; the legend gives the range where the answer holds."""
    from matplotlib.figure import Figure
    if not sweeps or len({s.kind for _, s in sweeps}) != 1:
        raise ValueError(f"give one or more (model name, Sweep) pairs of one transform, got "
                         f"{[s.kind for _, s in sweeps]}")
    t = TRANSFORMS[sweeps[0][1].kind]
    same = len({s.class_index for _, s in sweeps}) == 1
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.axvline(t.neutral, ls="--", color="0.6", lw=1)
    for k, (name, s) in enumerate(sweeps):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        ax.plot(s.values, s.confidence, "-o", ms=3, color=colour,
                label=_legend(name, s, None if same else class_names[s.class_index]))
        lost = s.top != s.class_index
        ax.plot(s.values[lost], s.confidence[lost], "x", ms=8, mew=2, color=colour)
    if any((s.top != s.class_index).any() for _, s in sweeps):
        ax.plot([], [], "x", color="0.3", mew=2, label="another class on top")
    followed = f"'{class_names[sweeps[0][1].class_index]}'" if same else "each model's answer"
    ax.set_title(f"Confidence in {followed} as the image {t.phrase}")
    ax.set(xlabel=f"{t.label} ({t.unit})", ylabel="confidence", ylim=(-0.03, 1.03))
    ax.legend(fontsize=8, loc="best")
    return fig


def _every(n: int, count: int) -> range:
    """Indices of at most `count` of n values, evenly spaced, both ends included."""
    if n <= count:
        return range(n)
    need = math.ceil((n - 1) / max(count - 1, 1))  # the smallest stride that fits
    return range(0, n, next(d for d in range(need, n) if (n - 1) % d == 0))


def strip(image: np.ndarray, kind: str, values=None, size: int = 56, count: int = 9) -> np.ndarray:
    """Up to `count` of the transformed images side by side, each enlarged to about `size` px
    and split by a grey line: what was done to the picture, to show under the chart."""
    from ..images.preprocess import upscale
    image = _checked_image(image)
    values = _spec(kind).sweep_values() if values is None else values
    values = np.sort(np.ravel(np.asarray(values, dtype=np.float64)))
    if len(values) == 0:
        raise ValueError(f"a strip needs at least one value of {kind}, got none")
    pics = [upscale(transform(image, kind, values[i]), size) for i in _every(len(values), count)]
    gap = np.full((pics[0].shape[0], 2) + pics[0].shape[2:], 128, np.uint8)
    return np.concatenate([p for pic in pics for p in (gap, pic)][1:], axis=1)


def changed_answer(predictor, weights, seen: np.ndarray, seed: int = 0, **amounts: float):
    """(`seen`, an image as `predictor`'s model takes it, with the transforms `amounts`, that
    image's probabilities) with the live weights (None) or `weights`."""
    changed = apply(seen, seed=seed, **amounts)
    batch = (changed[..., None] if changed.ndim == 2 else changed)[None]
    return changed, predictor.probabilities_at(batch, weights)[0]


def sweep_models(models, image, kind: str) -> list[tuple[str, Sweep, np.ndarray]]:
    """(name, sweep, the image it swept) for each (name, predictor, weights) in `models`, each on
    `image` as its own clean-up makes it; later models follow the first one's class when they
    have the same classes, so the chart compares one answer."""
    out, followed, classes = [], None, None
    for name, predictor, weights in models:
        seen = predictor.prepare(image).seen
        same = classes is not None and predictor.class_names == classes
        s = sweep(lambda batch, p=predictor: p.probabilities_at(batch, weights), seen, kind,
                  class_index=followed if same else None)
        if classes is None:
            followed, classes = s.class_index, predictor.class_names
        out.append((name, s, seen))
    return out
