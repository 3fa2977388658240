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
  Fashion-MNIST was made) unless only their colour tells them from the surface (below).
* **uneven light** (`flatten`): for digits, a grey opening (a minimum then a maximum over a window
  a quarter of the image wide) follows the shading of the paper and is subtracted from the ink.
* **threshold** (`otsu`): Otsu's threshold splits strokes from paper; only pixels next to strokes
  keep their grey levels, so texture and specks away from the strokes become 0.
* **ruled lines** (`without_lines`, `ruled_lines`): thin lines across most of a photo, tilted a
  little or not, two or more of them, or one margin across nearly all of it; on ruled paper, a
  shorter run on the lines' grid too (a line broken up by a shadow); then every piece left
  wholly inside a line's band (its dashes), which would box a small digit with them.
* **the strokes that matter** (`main_strokes`): connected pieces at least a tenth the size of the
  largest; pieces touching the image's edge (a table's edge, a shadow) go when others remain.
* **blur** (`blur_of`, `deblurred`): a small scan or thumbnail scaled up, its edges blurred over
  2 or more of its own pixels and, in MNIST's 20-px box, more than MNIST's (0.5 px), is shrunk
  to where its blur is 4 px and deconvolved (`richardson_lucy`): its strokes get their own width
  back instead of a blur's (thresholded, a blob), and keep it when shrunk to the box (no maximum
  over each new pixel's footprint, which only a thin sharp stroke needs).
* **stroke width** (`stroke_width`, `normalise_width`): strokes thinner or thicker than almost all of MNIST's
  (1st to 99th percentile: 1.4 to 4.8 px in its 20-px box) are dilated or eroded to its median,
  2.5 px, measured at four times the final scale (3,000 MNIST digits, by `stroke_width`).
* **garments**: a photo's uneven light is a quadratic surface fitted to the ink along the
  image's edge (`shading`, leaving out an item that touches the edge) and subtracted, from the
  grey and from each colour channel (`off_background`). How far each pixel stands out from the
  surface (`stand_out`) is counted in the surface's own variation along the border, split into a
  change of brightness along the surface's colour (light, shadows, wood grain, a sheet's folds)
  and a change of hue across it; a photo in which nothing stands out 3 times that (2.5 with a
  sharp edge, `edge_step`) is blank: a plain wall, an empty table (`standing_item`). The item
  is read in grey, on whichever side of the background's grey it lies (a navy dress on a dark
  cloth), when its grey difference is at least half its colour difference and stands out from
  the surface's brightness (`item_side`); otherwise by its colour (`by_colour`: a blue T-shirt on
  a brown table of the same grey), bright and solid, masked by its hue where that shows it. An
  item drawn as an outline is filled in at 60% of its lines' ink (`filled_outline`), as
  Fashion-MNIST's items are solid. A drawing or a Fashion-MNIST image is boxed around every pixel
  above the paper's noise, so a test image comes out as it went in (`benchmarks/cleanup_accuracy.py`);
  a photo's item is what stands out in grey and from the surface's texture.
* **placement** (MNIST's own recipe, LeCun et al.): the ink's box fitted into 20x20 keeping its
  aspect ratio, then moved by whole pixels so its centre of mass is at (14, 14). Garments
  (Xiao et al. 2017): the longest edge scaled to 28 and the brightest pixel set to 254-255 (as
  every one of Fashion-MNIST's 60,000 training images has it: a grey boot on a beige table, 100
  levels from it, is no dimmer a boot), sharpened (`sharpened`: their "Gaussian operator of
  radius and standard deviation 1.0") when it was shrunk from 56 px or more, and the box centred.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .errors import BLANK, NOTHING_STANDS_OUT, BlankImage

LIGHT_BACKGROUND = 127.0  # border median above this: dark ink on a light background
MIN_CONTRAST = 16.0  # brightest ink less than this above the background: blank
INK_FRACTION = 0.1  # digits: the ink's box is drawn around pixels above this share of the peak
WORKING_SIDE = 512  # the steps after `ink_of` run on at most this many pixels a side
MNIST_STROKE = (1.4, 2.5, 4.8)  # MNIST's stroke width, px in its 20-px box: 1st pct, median, 99th
FINE = 4  # stroke widths are measured and changed at 4x the final scale
MNIST_EDGE = 0.5  # px in the 20-px box: the blur (sigma) of MNIST's stroke edges (`blur_of` on
                  # 300 test digits: median 0.42, 95th percentile 0.68)
UPSAMPLED = 2.0  # px: edges blurred over this many of an image's own pixels: scaled up (the own
                 # check set's drawings and photos: 1.5 at most; its low_res scans: 3 to 12)
DEBLUR_AT = 4.0  # px: `deblurred` works on a blurred patch shrunk until its blur is this
DEBLUR_SHARE, DEBLUR_STEPS = 0.8, 10  # ... taking out this share of it in this many steps (the
                                      # best of 0.6-1 and 5-20 on 430 made low-resolution scans)
LINE_COVER = 0.7  # a line across this share of the image is a ruled line or a margin
PHOTO_FROM = 100  # px: a smaller image (a 28x28 digit) is no photo: no page, no ruled lines
PIECE_SHARE = 0.1  # digits keep connected pieces at least this share of the largest
SPECK_SHARE = 0.01  # garments drop pieces below this share of the largest (sandals have gaps)
OUTLINE_SHARE = 0.75  # a garment whose lines cover less than this share of its inside is an outline
FILL_LEVEL = 0.6  # an outline's inside is filled at this share of its lines' ink
HUE_SHARE = 0.5  # a garment whose grey ink is under this share of its colour distance: by colour
NOISE_FLOOR = 2.0  # grey levels: a background's variation is taken to be at least this
STANDS_OUT = 3.0  # an item's median stands out this many times its background's variation, or it
EDGED_OUT = 2.5  # ... this many with an edge EDGE_STEP high, or the photo is blank (60 made empty
EDGE_STEP = 0.8  # surfaces and papers: at most 2.72, with a soft edge (0.4), or an edge of 1.4 at
                 # 2.26; 50 made photos of garments: 3.3 and up, one dark coat on dark wood 2.9,
                 # its edge 1.0)
ABOVE_TEXTURE = 2.0  # a garment's pixels stand out at least this many times (wood grain: about 1)
PAPER_SHARE = 0.25  # a light region this share of the image, inside a dark border, may be paper
PAGE_SOLIDITY = 0.97  # ... if it fills this share of its convex hull (30 made photos of sheets:
                     # 0.987-0.999; two fat loops of an '8': 0.95)
FASHION_PEAK = 254.0  # garments' brightest pixel is set to at least this (every one of Fashion-
                     # MNIST's 60,000 training images has its brightest at 254 or 255)
SHARPEN = 1.0  # garments shrunk to 28 px are sharpened as Fashion-MNIST's were (`sharpened`):
SHARPEN_SIGMA = 1.0  # unsharp masking by this much, over a Gaussian of this sigma (px),
SHARPEN_FROM = 56  # when the item was at least this many pixels long (shrunk 2x or more)
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
    """The mask less ruled lines and a margin (`ruled_lines`), and less the pieces left wholly
    inside a line's band (its faint or broken stretches: `main_strokes` would keep them as
    strokes, boxing a small digit with them); never everything (a long stroke stays). Only in
    images of PHOTO_FROM pixels or more: in a 28x28 digit, two bars look like ruled lines."""
    if max(mask.shape) < PHOTO_FROM:
        return mask
    clean, bands = mask.copy(), np.zeros_like(mask)
    for axis in (1, 0):  # lines along the rows (ruled paper), then along the columns (a margin)
        for line, band in ruled_lines(mask, axis):
            clean &= ~line
            bands |= band
    pieces, n = ndi.label(clean, structure=np.ones((3, 3), bool))
    clean &= np.bincount(pieces[~bands], minlength=n + 1)[pieces] > 0  # some pixel outside the bands
    return clean if clean.any() else mask


def ruled_lines(mask: np.ndarray, axis: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(its pixels, its band) for each line along `axis` (1: the rows): thin lines (at most 1.5%
    of the image thick) made of runs at least an eighth of the image long (gaps of a sixtieth
    bridged: a faint line breaks up; a line tilted by up to about 2 degrees is made of such
    steps), spanning LINE_COVER of the image, two or more of them (ruled paper), or one spanning
    nearly all of it (a margin). On ruled paper, a shorter run on the lines' grid is a line too
    (a stretch of paper in shadow breaks its line into pieces too short to span the image)."""
    n, across = mask.shape[axis], mask.shape[1 - axis]
    gap = (1, max(3, n // 60)) if axis else (max(3, n // 60), 1)
    along = (1, max(3, n // 8)) if axis else (max(3, n // 8), 1)
    bridged = ndi.binary_closing(mask, structure=np.ones(gap, bool))
    runs = ndi.binary_opening(bridged, structure=np.ones(along, bool)) & mask
    steps = (3, max(3, n // 30)) if axis else (max(3, n // 30), 3)
    labels, count = ndi.label(ndi.binary_closing(runs, structure=np.ones(steps, bool)))
    spans = [box[axis].stop - box[axis].start for box in ndi.find_objects(labels)]
    pixels = ndi.sum(runs, labels, np.arange(1, count + 1))
    thin = [k for k in range(1, count + 1) if pixels[k - 1] / spans[k - 1] <= max(2.0, 0.015 * across)]
    long = [k for k in thin if spans[k - 1] >= LINE_COVER * n]
    found = [k for k in long if len(long) >= 2 or spans[k - 1] >= 0.9 * n]
    fits = {k: line_fit((labels == k) & runs, axis) for k in (thin if len(found) >= 2 else found)}
    if len(found) >= 2:
        found += [k for k in thin if k not in found and on_grid(fits[k], [fits[f] for f in found])]
    return [((labels == k) & runs, band(mask.shape, axis, fits[k])) for k in found]


def line_fit(line: np.ndarray, axis: int) -> tuple[float, float, float]:
    """(where it crosses the image's middle, its slope, its half thickness) of a line's pixels
    along `axis`, by least squares: a tilted line's band follows it."""
    ys, xs = np.nonzero(line)
    along, across = (xs, ys) if axis else (ys, xs)
    slope, at_0 = np.polyfit(along, across, 1)
    middle = line.shape[axis] / 2
    return float(at_0 + slope * middle), float(slope), float(np.abs(across - at_0 - slope * along).max()) + 1


def band(shape: tuple[int, int], axis: int, fit: tuple[float, float, float]) -> np.ndarray:
    """The pixels within a fitted line's half thickness of it, across the whole image."""
    middle, slope, half = fit
    rows, cols = np.indices(shape)
    along, across = (cols, rows) if axis else (rows, cols)
    return np.abs(across - middle - slope * (along - shape[axis] / 2)) <= half


def on_grid(fit: tuple[float, float, float], lines: list[tuple[float, float, float]]) -> bool:
    """Whether a run lies on the grid of ruled `lines` (their closest spacing, at least 5 px):
    within 2 px of a whole number of spacings from them, and parallel to them."""
    at = np.sort([f[0] for f in lines])
    spacing = float(np.diff(at).min())
    if spacing < 5:
        return False
    steps = (fit[0] - at[0]) / spacing
    return abs(steps - round(steps)) * spacing <= 2 and abs(fit[1] - float(np.median([f[1] for f in lines]))) < 0.02


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


def blur_of(patch: np.ndarray) -> float:
    """How blurred the strokes' edges are, in the patch's own pixels: the sigma of a Gaussian blur
    that gives their slope (a step of height h blurred so has slope h / (sigma sqrt(2 pi)) at its
    middle), from the median slope where the ink is a quarter to three quarters of the strokes'
    level, smoothed by 1 px first (noise and JPEG blocks have steep slopes of their own) and
    that 1 px taken back out; 0 when there are too few edge pixels to tell."""
    smooth = ndi.gaussian_filter(patch.astype(np.float32), 1.0)
    level = float(np.percentile(smooth[smooth > 0.5 * smooth.max()], 90))
    edge = (smooth > 0.25 * level) & (smooth < 0.75 * level)
    if edge.sum() < 10:
        return 0.0
    dy, dx = np.gradient(smooth)
    slope = float(np.median(np.hypot(dx, dy)[edge]))
    if slope <= 0:  # flat grey (a stroke of one half-dark level): no edge to tell by
        return 0.0
    sigma = 0.9 * level / (math.sqrt(2 * math.pi) * slope)  # 0.9: the median of slopes over the band
    return math.sqrt(max(sigma * sigma - 1.0, 0.0))


def deblurred(patch: np.ndarray) -> tuple[np.ndarray, bool]:
    """(the patch, blurred?): a small scan or thumbnail scaled up has edges blurred over several
    of its own pixels (UPSAMPLED) and, once in MNIST's 20-px box, more than MNIST's (MNIST_EDGE).
    Its ink spreads past the strokes (thresholded, a blob; judged by width, a fat stroke), so the
    blur is taken back out (`richardson_lucy`) near the scale where the strokes really live:
    shrunk until the blur is DEBLUR_AT px (no finer detail is there to lose; at 2 px made scans
    read a little worse), which also makes it fast. Sharp patches come back as they are."""
    sigma = blur_of(patch)
    if sigma < UPSAMPLED or sigma * 20 / max(patch.shape) <= MNIST_EDGE:
        return patch, False
    side = min(max(patch.shape), round(max(patch.shape) * DEBLUR_AT / sigma))
    small = resized(patch, side, keep_strokes=False)
    return richardson_lucy(small, DEBLUR_SHARE * sigma * side / max(patch.shape), DEBLUR_STEPS), True


def richardson_lucy(ink: np.ndarray, sigma: float, steps: int) -> np.ndarray:
    """Ink blurred by a Gaussian of `sigma` px, deconvolved by Richardson-Lucy's steps: the
    estimate times the blurred ratio of the ink to the estimate blurred. It stays >= 0 and
    keeps the ink's total (blur spreads ink, it does not add any); a few steps sharpen the
    edges without making the noise into specks."""
    ink = ink.astype(np.float32)
    estimate = ink + np.float32(1e-3)
    for _ in range(steps):
        estimate *= ndi.gaussian_filter(ink / np.maximum(ndi.gaussian_filter(estimate, sigma), 1e-3), sigma)
    return estimate


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
    patch, blurred = deblurred(patch)
    patch = normalise_width(patch)
    # a blurred stroke is many pixels wide: no maximum needed to keep it when shrinking
    patch = fitted(trim(patch, patch > INK_FRACTION * patch.max()), 20, 255.0, keep_strokes=not blurred)
    return paste(patch, *centre_of_mass_offset(patch, 14.0)), negate


def garment(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """(28x28 uint8 as Fashion-MNIST makes an item, negated?) from float pixels in [0, 255]."""
    gray = gray_of(pixels)
    negate, _ = polarity(gray, find_paper=False)
    signed = np.median(border_of(gray)) - gray if negate else gray - np.median(border_of(gray))
    light = shading(signed)
    photo = np.ptp(light) >= MIN_CONTRAST / 2  # a photo: the paper's light varies
    away = off_background(pixels, photo)
    along, across = stand_out(away, pixels)
    found = standing_item(np.hypot(along, across), plain=np.ptp(gray) < MIN_CONTRAST)
    side = item_side(found, away, signed - light if photo else signed, along)
    if side < 0:  # darker than a dark surface, or lighter than a light one: that side is the ink's
        negate, signed, light = not negate, -signed, -light
    ink = np.maximum(signed - light if photo else signed, 0)
    if side == 0:  # apart from its surface in colour, hardly in grey
        # its hue alone, where that shows it: a sheet's folds and shadows change the brightness
        mask = item_mask(across) if np.median(across[found]) >= STANDS_OUT else found
        ink = by_colour(away, mask, pixels)
    elif signed.max() < MIN_CONTRAST:
        raise BlankImage(BLANK)
    elif photo:  # the item stands out from the paper's light, and from the surface's texture
        mask = main_strokes(ink > otsu(ink * (255 / max(ink.max(), 1))) * ink.max() / 255 / 2, SPECK_SHARE)
        mask = mask & found if (mask & found).any() else mask
    else:  # a drawing or a Fashion-MNIST image: every pixel above the paper's noise is the item
        spread = 1.4826 * float(np.median(np.abs(border_of(ink) - np.median(border_of(ink)))))
        mask = main_strokes(ink >= max(3 * spread, 1.0), SPECK_SHARE, drop_edge=False)
    item = trim(filled_outline(ink, mask), mask)
    patch = fitted(item, 28, float(np.clip(item.max(), FASHION_PEAK, 255)), keep_strokes=False)
    if max(item.shape) >= SHARPEN_FROM:
        patch = sharpened(patch)
    # Fashion-MNIST rounds an odd margin toward the bottom and right
    return paste(patch, -(-(28 - patch.shape[0]) // 2), -(-(28 - patch.shape[1]) // 2)), negate


def sharpened(patch: np.ndarray) -> np.ndarray:
    """A garment shrunk to 28 px sharpened as Fashion-MNIST's items were after their own shrinking
    (Xiao et al. 2017: "a Gaussian operator of the radius and standard deviation of 1.0"):
    unsharp masking, SHARPEN times the patch's difference from itself blurred by SHARPEN_SIGMA
    px (black around it), kept within [0, 255]. Seams, a collar, a shoe's sole: the details the
    shrinking blurs, and that the models learnt from."""
    blur = ndi.gaussian_filter(patch, SHARPEN_SIGMA, mode="constant")
    return np.clip(patch + SHARPEN * (patch - blur), 0, 255)


def off_background(pixels: np.ndarray, photo: bool) -> np.ndarray:
    """Each pixel's difference from the background's colour, channel by channel (HxWxC): from the
    border's median, less that channel's own light in a photo (`shading`)."""
    colour = pixels if pixels.ndim == 3 else pixels[..., None]
    away = colour - np.median(border_of(colour), axis=0)
    if photo:
        for c in range(away.shape[2]):
            away[..., c] -= shading(away[..., c], every=max(1, max(away.shape[:2]) // 64))
    return away.astype(np.float32)


def stand_out(away: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(along, across): how far each pixel stands out from its background, in units of the
    background's own variation: its difference split into a change of the surface's brightness
    (light, a shadow, wood grain, a sheet's folds: along the surface's colour) and a change of hue
    (across it), each divided by what the image's border shows of it (3 times its median size,
    about its 95th percentile, so an item touching the edge does not count; at least
    NOISE_FLOOR). A blue T-shirt on a brown table stands out across; the grain does not."""
    colour = pixels if pixels.ndim == 3 else pixels[..., None]
    local = colour - away + np.float32(1)  # the surface's colour there (grey where it is black)
    # at least 1: a surface's fitted light can dip to 0 or below at a dark corner (0/0 was NaN)
    along = (away * local).sum(axis=2) / np.maximum(np.sqrt((local * local).sum(axis=2)), 1)
    across = np.sqrt(np.maximum((away * away).sum(axis=2) - along * along, 0))
    spread = [max(3 * float(np.median(np.abs(border_of(a)))), NOISE_FLOOR) for a in (along, across)]
    return along / spread[0], across / spread[1]


def standing_item(standing: np.ndarray, plain: bool = True) -> np.ndarray:
    """The mask of what stands out (`stand_out`'s two parts together), by Otsu's threshold halved
    but at least ABOVE_TEXTURE (wood grain stays out), specks dropped. Blank (a plain wall, an
    empty table or bed) when its median stands out less than STANDS_OUT, unless it stands out
    EDGED_OUT and has an edge (`edge_step`): a sheet's folds may stand out as much as a dark
    coat on dark wood, but they rise softly. Where nothing stands out at all, "blank" for a
    `plain` image, else "nothing stands out" (noise, a busy scene: not blank to the eye)."""
    if standing.max() <= ABOVE_TEXTURE:
        raise BlankImage(BLANK if plain else NOTHING_STANDS_OUT)
    mask = item_mask(standing)
    height = float(np.median(standing[mask]))
    if height < STANDS_OUT and (height < EDGED_OUT or edge_step(standing, mask) < EDGE_STEP):
        raise BlankImage(NOTHING_STANDS_OUT)
    return mask


def item_mask(standing: np.ndarray) -> np.ndarray:
    """What stands out (`stand_out`, one part or both, at least ABOVE_TEXTURE somewhere) above
    Otsu's threshold halved but at least ABOVE_TEXTURE (wood grain stays out), specks dropped."""
    top = float(standing.max())
    level = max(otsu(standing * (255 / top)) * top / 255 / 2, ABOVE_TEXTURE)
    return main_strokes(standing > level, SPECK_SHARE)


def edge_step(standing: np.ndarray, mask: np.ndarray) -> float:
    """How sharply the item rises from its surroundings: the median of `standing` in a band just
    inside the mask's outline less that in a band just outside it (each 1% of the image wide)."""
    k = max(1, max(mask.shape) // 100)
    inside = mask & ~ndi.binary_erosion(mask, iterations=k)
    outside = ndi.binary_dilation(mask, iterations=k) & ~mask
    if not outside.any():  # the item fills the image
        return float("inf")
    return float(np.median(standing[inside]) - np.median(standing[outside]))


def item_side(mask: np.ndarray, away: np.ndarray, grey: np.ndarray, along: np.ndarray) -> int:
    """Which side of the background's grey the item is on: 1 the ink's (dark on a light surface,
    light on a dark one), -1 the other (a dark T-shirt on a dark cloth), 0 neither: its median
    grey difference is under HUE_SHARE of its colour difference (a blue T-shirt on a brown table
    of the same grey), or its brightness stands out from the surface's own (`stand_out`'s along)
    less than STANDS_OUT (a pale dress on a creased sheet), so grey would not find it."""
    level = float(np.median(grey[mask]))
    far = float(np.median(np.sqrt((away[mask] ** 2).mean(axis=1))))
    if abs(level) < HUE_SHARE * far or float(np.median(np.abs(along[mask]))) < STANDS_OUT:
        return 0
    return 1 if level > 0 else -1


def by_colour(away: np.ndarray, mask: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """An item found by its colour, as Fashion-MNIST shows items: bright and fairly solid on
    black. Its distance from the surface's colour (root mean square over the channels) over the
    surface's own brightness there (so the light falling off across it does not shade it) within
    the mask and a pixel or two round it, 0 elsewhere (the surface's texture), its brightest pixel
    255 (as every Fashion-MNIST image's is). On the 30 made photos of `surface` the shipped CNN
    read this as well as any other (0.73; the distance alone, the darkness against white floored
    at 30%, each peaked at 160, 200 or 255: 0.67-0.73); the MLP 0.70 (those: 0.63-0.77)."""
    colour = pixels if pixels.ndim == 3 else pixels[..., None]
    surface = np.sqrt(((colour - away) ** 2).mean(axis=2)) + 1  # the fitted light and colour
    far = np.sqrt((away ** 2).mean(axis=2)) / surface
    item = np.where(ndi.binary_dilation(mask, iterations=max(1, max(mask.shape) // 200)), far, 0)
    return item * np.float32(255 / float(item.max()))


def shading(ink: np.ndarray, every: int = 1) -> np.ndarray:
    """A smooth surface (quadratic in x and y) fitted to the ink along the image's edge (every
    `every`-th pixel of it: the colour channels' fits are only for finding the item), leaving
    out what stands out there (an item touching the edge): the paper's light in a photo, 0 for
    a drawing or a Fashion-MNIST image."""
    h, w = ink.shape
    y, x = np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32)
    ring = np.zeros((h, w), bool)
    r = max(1, min(h, w) // 20)
    ring[:r], ring[-r:], ring[:, :r], ring[:, -r:] = True, True, True, True
    ys, xs = (a[::every] for a in np.nonzero(ring))
    terms = np.stack([np.ones(ys.size, np.float32), x[xs], y[ys], x[xs] ** 2, y[ys] ** 2, x[xs] * y[ys]], 1)
    values = ink[ys, xs]
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
