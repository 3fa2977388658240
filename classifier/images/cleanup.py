"""The clean-up that makes a user's drawing or photo look like an MNIST digit or a Fashion-MNIST item.

`digit` and `garment` take an image's pixels (float32 in [0, 255], HxW or HxWx3) and return the
28x28 uint8 image a model sees. Each step is a small function with its own test
(tests/test_cleanup.py, on hand-made arrays):

* **background** (`polarity`): the border's median says dark ink on light paper (negated) or
  light on dark. For digits in a photo, a light sheet inside a dark border (a page on a table:
  a quarter of the photo or more, convex, a few marks on it) is found and used as the
  background instead of the border, less a margin along its edge.
* **ink** (`ink_of`): how far each pixel is from the paper's colour, in its most different colour
  channel for digits (blue or red ink is as strong as black), in grey for garments (as
  Fashion-MNIST was made).
* **uneven light** (`flatten`): for digits, a grey opening (a minimum then a maximum over a window
  a quarter of the image wide) follows the shading of the paper and is subtracted from the ink.
* **threshold** (`otsu`): Otsu's threshold splits strokes from paper; only pixels next to strokes
  keep their grey levels, so texture and specks away from the strokes become 0.
* **ruled lines** (`without_lines`): thin lines across most of a photo, tilted a little or not,
  two or more of them, or one margin across nearly all of it.
* **the strokes that matter** (`main_strokes`): connected pieces at least a tenth the size of the
  largest; pieces touching the image's edge (a table's edge, a shadow) go when others remain.
* **stroke width** (`stroke_width`, `normalise_width`): strokes thinner or thicker than almost all of MNIST's
  (1st to 99th percentile: 1.4 to 4.8 px in its 20-px box) are dilated or eroded to its median,
  2.5 px, measured at four times the final scale (3,000 MNIST digits, by `stroke_width`).
* **garments**: a photo's uneven light is a quadratic surface fitted to the ink along the
  image's edge (`shading`, leaving out an item that touches the edge) and subtracted; an item
  drawn as an outline is filled in at 60% of its lines' ink (`filled_outline`), as
  Fashion-MNIST's items are solid. A drawing or a Fashion-MNIST image is boxed around every pixel
  above the paper's noise, so a test image comes out as it went in (`benchmarks/cleanup_accuracy.py`).
* **placement** (MNIST's own recipe, LeCun et al.): the ink's box fitted into 20x20 keeping its
  aspect ratio, then moved by whole pixels so its centre of mass is at (14, 14). Garments
  (Xiao et al. 2017): the longest edge scaled to 28 and the box centred.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .errors import BLANK, BlankImage

LIGHT_BACKGROUND = 127.0  # border median above this: dark ink on a light background
MIN_CONTRAST = 16.0  # brightest ink less than this above the background: blank
INK_FRACTION = 0.1  # digits: the ink's box is drawn around pixels above this share of the peak
WORKING_SIDE = 512  # the steps after `ink_of` run on at most this many pixels a side
MNIST_STROKE = (1.4, 2.5, 4.8)  # MNIST's stroke width, px in its 20-px box: 1st pct, median, 99th
FINE = 4  # stroke widths are measured and changed at 4x the final scale
LINE_COVER = 0.7  # a line across this share of the image is a ruled line or a margin
PHOTO_FROM = 100  # px: a smaller image (a 28x28 digit) is no photo: no page, no ruled lines
PIECE_SHARE = 0.1  # digits keep connected pieces at least this share of the largest
SPECK_SHARE = 0.01  # garments drop pieces below this share of the largest (sandals have gaps)
OUTLINE_SHARE = 0.75  # a garment whose lines cover less than this share of its inside is an outline
FILL_LEVEL = 0.6  # an outline's inside is filled at this share of its lines' ink
PAPER_SHARE = 0.25  # a light region this share of the image, inside a dark border, may be paper
PAGE_SOLIDITY = 0.97  # ... if it fills this share of its convex hull (30 made photos of sheets:
                     # 0.987-0.999; two fat loops of an '8': 0.95)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's convert("L")


def gray_of(pixels: np.ndarray) -> np.ndarray:
    return pixels @ _LUMA if pixels.ndim == 3 else pixels


def border_of(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 255] (256 bins): the split with the most between-class variance."""
    hist = np.bincount(np.clip(values, 0, 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * levels)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight - total * mass) ** 2 / (weight * (total - weight))
    between[~np.isfinite(between)] = -1
    return float(np.argmax(between)) + 0.5


def polarity(gray: np.ndarray, find_paper: bool) -> tuple[bool, np.ndarray | None]:
    """(negate?, the paper's mask or None): light background, or a light page in a dark border."""
    background = float(np.median(border_of(gray)))
    if background > LIGHT_BACKGROUND:
        return True, None
    if not find_paper or min(gray.shape) < PHOTO_FROM or gray.max() - background < MIN_CONTRAST:
        return False, None
    light = gray > otsu(gray)
    labels, n = ndi.label(light)
    if n == 0:
        return False, None
    sizes = np.bincount(labels.ravel())[1:]
    page = labels == 1 + int(np.argmax(sizes))
    filled = ndi.binary_fill_holes(page)
    holes = filled.sum() - page.sum()
    # a page: much of the photo, light, a convex outline, marks on it; a digit's loops are not
    if (page.sum() >= PAPER_SHARE * gray.size and 0 < holes <= 0.3 * filled.sum()
            and filled.sum() >= PAGE_SOLIDITY * _hull_area(filled)):
        # less a margin: the page's own edge (a shadow, a blur) is not ink
        return True, ndi.binary_erosion(filled, iterations=max(1, min(gray.shape) // 50))
    return False, None


def _hull_area(mask: np.ndarray) -> float:
    """The area of the convex hull of the mask's pixels (their centres, plus half a pixel round)."""
    from scipy.spatial import ConvexHull, QhullError
    ys, xs = np.nonzero(mask & ~ndi.binary_erosion(mask))  # the outline is enough
    points = np.column_stack([np.concatenate([ys - 0.5, ys + 0.5]), np.concatenate([xs - 0.5, xs + 0.5])])
    try:
        return float(ConvexHull(points).volume)  # a 2-D hull's "volume" is its area
    except QhullError:  # all on a line
        return float(mask.sum())


def ink_of(pixels: np.ndarray, negate: bool, paper: np.ndarray | None, per_channel: bool) -> np.ndarray:
    """Each pixel's distance from the background colour (0 there), toward the ink's side."""
    colour = pixels if per_channel and pixels.ndim == 3 else gray_of(pixels)[..., None]
    background = np.median(colour[paper] if paper is not None else border_of(colour), axis=0)
    ink = (background - colour) if negate else (colour - background)
    ink = np.maximum(np.maximum.reduce([ink[..., i] for i in range(ink.shape[2])]), 0)  # faster than max(axis=2)
    if paper is not None:
        ink[~paper] = 0
    return ink


def shrink(ink: np.ndarray, side: int = WORKING_SIDE) -> np.ndarray:
    """At most `side` pixels a side, by the maximum of each block: thin strokes keep their ink."""
    f = math.ceil(max(ink.shape) / side)
    if f < 2:
        return ink
    h, w = (math.ceil(d / f) * f for d in ink.shape)
    padded = np.zeros((h, w), ink.dtype)
    padded[:ink.shape[0], :ink.shape[1]] = ink
    return padded.reshape(h // f, f, w // f, f).max(axis=(1, 3))


def flatten(ink: np.ndarray) -> np.ndarray:
    """Ink less the paper's slow shading: a grey opening a quarter of the image wide, smoothed."""
    size = max(15, max(ink.shape) // 4)
    shade = ndi.uniform_filter(ndi.grey_opening(ink, size=(size, size)), size=size // 2)
    return np.maximum(ink - shade, 0)


def strokes(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ink with texture away from the strokes set to 0, the strokes' mask) by Otsu's threshold."""
    if ink.max() < MIN_CONTRAST:
        raise BlankImage(BLANK)
    mask = ink > max(otsu(ink * (255 / ink.max())) * ink.max() / 255, MIN_CONTRAST / 2)
    near = ndi.binary_dilation(mask, iterations=max(1, max(ink.shape) // 100))
    return np.where(near, ink, 0).astype(np.float32), mask


def without_lines(mask: np.ndarray) -> np.ndarray:
    """The mask less ruled lines and a margin: thin lines (at most 1.5% of the image thick) made of
    runs at least an eighth of the image long (a line tilted by up to about 2 degrees is made of
    such steps), spanning LINE_COVER of the image, two or more of them (ruled paper), or one
    spanning nearly all of it (a margin); never everything (a long stroke stays). Only in
    images of PHOTO_FROM pixels or more: in a 28x28 digit, two bars look like ruled lines."""
    if max(mask.shape) < PHOTO_FROM:
        return mask
    clean = mask.copy()
    for axis in (1, 0):  # lines along the rows (ruled paper), then along the columns (a margin)
        n, across = mask.shape[axis], mask.shape[1 - axis]
        along = (1, max(3, n // 8)) if axis else (max(3, n // 8), 1)
        runs = ndi.binary_opening(mask, structure=np.ones(along, bool))
        steps = (3, max(3, n // 30)) if axis else (max(3, n // 30), 3)
        labels, _ = ndi.label(ndi.binary_closing(runs, structure=np.ones(steps, bool)))
        spans = [(i + 1, box[axis].stop - box[axis].start)
                 for i, box in enumerate(ndi.find_objects(labels))]
        thin = max(2.0, 0.015 * across)
        lines = [(k, span) for k, span in spans if span >= LINE_COVER * n
                 and ((labels == k) & runs).sum() / span <= thin]
        for k, span in lines:
            if len(lines) >= 2 or span >= 0.9 * n:
                clean[(labels == k) & runs] = False
    return clean if clean.any() else mask


def main_strokes(mask: np.ndarray, share: float = PIECE_SHARE, drop_edge: bool = True) -> np.ndarray:
    """The mask's connected pieces at least `share` of the largest (pieces a few pixels apart count
    as one); with drop_edge, pieces touching the edge go if any piece that does not is kept."""
    joined = ndi.binary_dilation(mask, iterations=max(1, max(mask.shape) // 100))
    labels, n = ndi.label(joined)
    if n == 0:
        raise BlankImage(BLANK)
    labels = np.where(mask, labels, 0)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    kept = np.flatnonzero(sizes >= share * sizes.max()) + 1
    if drop_edge:
        edge = set(np.unique(border_of(labels))) - {0}
        inside = [k for k in kept if k not in edge]
        if inside:
            kept = np.array([k for k in inside if sizes[k - 1] >= share * sizes[np.array(inside) - 1].max()])
    return np.isin(labels, kept)


def trim(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The ink inside the mask's bounding box."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise BlankImage(BLANK)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def resized(patch: np.ndarray, longest: int, keep_strokes: bool = True) -> np.ndarray:
    """Longest side `longest`, aspect kept (other side >= 1): area average when shrinking (with
    keep_strokes, after a maximum over each new pixel's footprint, so a thin stroke survives; a
    garment's seams would not), bilinear when enlarging."""
    h, w = patch.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale < 1 and keep_strokes:
        patch = ndi.maximum_filter(patch, size=max(1, math.floor(1 / scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.maximum(np.asarray(Image.fromarray(patch.astype(np.float32)).resize(size, resample)), 0)


def stroke_width(fine: np.ndarray) -> float:
    """Mean stroke width in pixels of a patch: 4 x mean distance to the background - 2
    (exact for straight strokes), on the pixels above half the peak."""
    mask = np.pad(fine > 0.5 * fine.max(), 1)  # the patch's edge is background too
    return max(1.0, 4 * float(ndi.distance_transform_edt(mask)[mask].mean()) - 2)


def _disk(radius: float) -> np.ndarray:
    r = max(1, round(radius))
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= radius * radius + 0.5


def normalise_width(patch: np.ndarray) -> np.ndarray:
    """The patch with strokes outside MNIST's range dilated or eroded to its median width; the
    patch itself when they are inside it."""
    fine = resized(patch, 20 * FINE)
    low, target, high = MNIST_STROKE
    width = stroke_width(fine) / FINE
    if low <= width <= high:
        return patch
    radius = abs(target - width) / 2 * FINE
    if width < low:
        fine = np.pad(fine, math.ceil(radius) + 1)
        return ndi.grey_dilation(fine, footprint=_disk(radius))
    thinner = ndi.grey_erosion(fine, footprint=_disk(radius))
    before, after = _box(fine > 0.5 * fine.max()), _box(thinner > 0.5 * fine.max())
    if after is None or max(abs(a - b) for a, b in zip(after, before)) > 1.5 * radius + 2:
        return patch  # erosion would wipe out a thin part (a tail, a flag): leave it
    return trim(thinner, thinner > INK_FRACTION * thinner.max())


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return None if rows.size == 0 else (rows[0], rows[-1], cols[0], cols[-1])


def fitted(patch: np.ndarray, box: int, new_peak: float, keep_strokes: bool = True) -> np.ndarray:
    """`resized` into `box` with its peak set to new_peak (a thin stroke stays as bright as before)."""
    fit = resized(patch, box, keep_strokes)
    top = float(fit.max())
    if top <= 0:
        raise BlankImage(BLANK)
    return fit * np.float32(new_peak / top)


def centre_of_mass_offset(patch: np.ndarray, centre: float) -> tuple[int, int]:
    """Top-left position that puts the patch's intensity centre of mass nearest `centre`."""
    total = float(patch.sum())
    cy = float(np.arange(patch.shape[0]) @ patch.sum(axis=1)) / total
    cx = float(np.arange(patch.shape[1]) @ patch.sum(axis=0)) / total
    return int(np.round(centre - cy)), int(np.round(centre - cx))


def paste(patch: np.ndarray, top: int, left: int, size: int = 28) -> np.ndarray:
    """Patch on a size x size black canvas at (top, left), clipped at the edges; uint8."""
    canvas = np.zeros((size, size), np.float32)
    h, w = patch.shape
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, size), min(left + w, size)
    canvas[y0:y1, x0:x1] = patch[y0 - top:y1 - top, x0 - left:x1 - left]
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def digit(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """(28x28 uint8 as MNIST makes a digit, negated?) from float pixels in [0, 255]."""
    negate, paper = polarity(gray_of(pixels), find_paper=True)
    ink = shrink(ink_of(pixels, negate, paper, per_channel=True))
    if ink.max() < MIN_CONTRAST:
        raise BlankImage(BLANK)
    ink, mask = strokes(flatten(ink))
    mask = main_strokes(without_lines(mask))
    patch = trim(ink * ndi.binary_dilation(mask, iterations=max(1, max(mask.shape) // 100)), mask)
    patch = normalise_width(patch)
    patch = fitted(trim(patch, patch > INK_FRACTION * patch.max()), 20, 255.0)
    return paste(patch, *centre_of_mass_offset(patch, 14.0)), negate


def garment(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """(28x28 uint8 as Fashion-MNIST makes an item, negated?) from float pixels in [0, 255]."""
    gray = gray_of(pixels)
    negate, _ = polarity(gray, find_paper=False)
    signed = np.median(border_of(gray)) - gray if negate else gray - np.median(border_of(gray))
    ink = np.maximum(signed, 0)
    if ink.max() < MIN_CONTRAST:
        raise BlankImage(BLANK)
    light = shading(signed)
    if np.ptp(light) >= MIN_CONTRAST / 2:  # a photo: the paper's light varies; the item stands out
        ink = np.maximum(signed - light, 0)
        mask = main_strokes(ink > otsu(ink * (255 / max(ink.max(), 1))) * ink.max() / 255 / 2, SPECK_SHARE)
    else:  # a drawing or a Fashion-MNIST image: every pixel above the paper's noise is the item
        spread = 1.4826 * float(np.median(np.abs(border_of(ink) - np.median(border_of(ink)))))
        mask = main_strokes(ink >= max(3 * spread, 1.0), SPECK_SHARE, drop_edge=False)
    ink = filled_outline(ink, mask)
    peak = float(ink.max())
    patch = fitted(trim(ink, mask), 28, peak, keep_strokes=False)
    # Fashion-MNIST rounds an odd margin toward the bottom and right
    return paste(patch, -(-(28 - patch.shape[0]) // 2), -(-(28 - patch.shape[1]) // 2)), negate


def shading(ink: np.ndarray) -> np.ndarray:
    """A smooth surface (quadratic in x and y) fitted to the ink along the image's edge, leaving
    out what stands out there (an item touching the edge): the paper's light in a photo, 0 for
    a drawing or a Fashion-MNIST image."""
    h, w = ink.shape
    y, x = np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32)
    ring = np.zeros((h, w), bool)
    r = max(1, min(h, w) // 20)
    ring[:r], ring[-r:], ring[:, :r], ring[:, -r:] = True, True, True, True
    ys, xs = np.nonzero(ring)
    terms = np.stack([np.ones(ys.size, np.float32), x[xs], y[ys], x[xs] ** 2, y[ys] ** 2, x[xs] * y[ys]], 1)
    values = ink[ring]
    off = np.abs(values - np.median(values))  # from a flat start, so an item on the edge stays out
    keep = off <= max(2.0, 2.5 * 1.4826 * float(np.median(off)))
    for _ in range(3):  # least squares, then again without the points far off it
        coef = np.linalg.lstsq(terms[keep], values[keep], rcond=None)[0]
        off = np.abs(values - terms @ coef)
        keep = off <= max(2.0, 2.5 * 1.4826 * float(np.median(off[keep])))
    c = coef.astype(np.float32)
    return (c[0] + c[1] * x[None, :] + c[2] * y[:, None] + c[3] * x[None, :] ** 2
            + c[4] * y[:, None] ** 2 + c[5] * x[None, :] * y[:, None])


def filled_outline(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A garment drawn as an outline, filled in as Fashion-MNIST's solid items are (its lines stay
    brighter, as seams); the ink as it is when the item is already solid, or is an image under
    PHOTO_FROM pixels (Fashion-MNIST's own size)."""
    if min(mask.shape) < PHOTO_FROM:
        return ink  # a 28x28 item is Fashion-MNIST's own: its gaps (a sandal's) stay
    gaps = max(1, max(mask.shape) // 100)
    filled = ndi.binary_fill_holes(ndi.binary_closing(mask, iterations=gaps, border_value=0))
    if mask.sum() >= OUTLINE_SHARE * filled.sum():
        return ink
    level = FILL_LEVEL * float(np.median(ink[mask]))
    return np.where(filled & (ink < level), level, ink).astype(np.float32)
