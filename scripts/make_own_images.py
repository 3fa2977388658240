"""Our own check set beyond MNIST (issue 13): digits and garments drawn as users draw them.

    python scripts/make_own_images.py [--out assets] [--kinds pen font ...]

Writes <out>/own_digits/<kind>/<label>_<n>.png (.jpg for the photo-like kinds) and
<out>/own_garments/<kind>/<slug>_<n>.png|jpg, each folder with a labels.csv (file,label,kind;
file relative to the folder). Deterministic: every image has its own generator seeded from
(SEED, kind, label, n), so one kind regenerated alone is the same as in a full run. Pillow and
numpy only; fonts are matplotlib's bundled ones (DejaVu, STIX, Computer Modern).

Hand-drawn digits are skeletons of how people write them (a 1 with or without a flag, 7 with or
without a bar, open and closed 4, 9 with a straight or curved tail...) bent by a smooth random
field, turned, stretched and trembled, then drawn as round-capped lines. In the kinds that mix
both, an even n is written by hand and an odd n is printed in a font.
"""
from __future__ import annotations

import argparse
import csv
import io
import shutil
import zlib
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 13
ROOT = Path(__file__).resolve().parent.parent
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
         "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
         "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
         "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf")
GARMENTS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")  # Fashion-MNIST's class names, in its order


def ell(cx, cy, rx, ry, a0, a1):
    """Points on an ellipse from angle a0 to a1 (degrees; y grows downwards, 90 is the bottom)."""
    a = np.radians(np.linspace(a0, a1, max(3, int(abs(a1 - a0) / 25) + 1)))
    return list(zip(cx + rx * np.cos(a), cy + ry * np.sin(a)))


# A digit: variants; a variant: strokes; a stroke: pieces, ("c", points) a smooth curve through
# them or ("l", points) straight lines, each piece going on from where the last one ended.
# Coordinates: the digit 1 high, about 0.6 wide, x from 0, y downwards.
C, L = "c", "l"
SKELETONS = {
    0: [[[(C, ell(.3, .5, .28, .49, -80, 290))]], [[(C, ell(.3, .5, .21, .5, -100, 255))]]],
    1: [[[(L, [(.3, 0), (.3, 1)])]], [[(L, [(.08, .24), (.32, 0), (.32, 1)])]],
        [[(L, [(.1, .2), (.33, 0), (.33, 1)])], [(L, [(.1, 1), (.56, 1)])]]],
    2: [[[(C, ell(.3, .28, .27, .26, 190, 400)), (L, [(.02, 1), (.62, .98)])]],
        [[(C, ell(.3, .27, .26, .25, 200, 380)), (C, [(.4, .6), (.15, .85), (.02, 1)]),
          (L, [(.6, .97)])]]],
    3: [[[(C, ell(.28, .26, .25, .24, 200, 470)), (C, ell(.28, .74, .3, .26, 250, 520))]],
        [[(L, [(.05, .02), (.56, .02), (.24, .42)]), (C, ell(.3, .7, .29, .28, 245, 515))]]],
    4: [[[(L, [(.46, 0), (0, .68), (.64, .68)])], [(L, [(.46, 0), (.46, 1)])]],
        [[(L, [(.06, 0), (.02, .6), (.64, .6)])], [(L, [(.46, .04), (.46, 1)])]]],
    5: [[[(L, [(.1, .02), (.06, .44)]), (C, ell(.28, .69, .29, .28, 235, 510))],
         [(L, [(.1, .02), (.56, 0)])]],
        [[(L, [(.12, .02), (.08, .42)]), (C, [(.3, .4), (.52, .55), (.55, .78), (.35, .98),
                                              (.05, .9)])], [(L, [(.12, .02), (.58, .03)])]]],
    6: [[[(C, [(.52, .02), (.3, .1), (.12, .32), (.04, .6), (.1, .88), (.3, .99), (.5, .9),
               (.56, .72), (.45, .55), (.27, .5), (.1, .6), (.06, .72)])]],
        [[(C, [(.45, 0), (.2, .3), (.06, .65), (.15, .92), (.35, .98), (.52, .82), (.45, .6),
               (.25, .56), (.08, .7)])]]],
    7: [[[(L, [(.02, .02), (.6, .02), (.2, 1)])]],
        [[(L, [(.02, .02), (.6, .02), (.22, 1)])], [(L, [(.18, .52), (.54, .5)])]],
        [[(L, [(.02, .05), (.6, .02)]), (C, [(.4, .4), (.28, .7), (.24, 1)])]]],
    8: [[[(C, [(.52, .12), (.35, .01), (.12, .06), (.08, .24), (.3, .46), (.52, .64),
               (.54, .86), (.3, .99), (.06, .86), (.08, .64), (.3, .46), (.48, .3), (.5, .1)])]],
        [[(C, ell(.3, .24, .21, .23, -90, 275))], [(C, ell(.3, .72, .27, .27, -90, 275))]]],
    9: [[[(C, ell(.3, .27, .26, .26, 10, -340)), (L, [(.55, 1)])]],
        [[(C, ell(.3, .27, .26, .26, 10, -340)), (C, [(.56, .6), (.5, .88), (.3, .99),
                                                       (.1, .92)])]]],
}


def catmull_rom(points, per: int = 10) -> np.ndarray:
    """A smooth curve through `points` (uniform Catmull-Rom), `per` samples a segment."""
    p = np.asarray(points, float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, per, endpoint=False)[:, None]
    out = [0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                  + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3)
           for p0, p1, p2, p3 in zip(p[:-3], p[1:-2], p[2:-1], p[3:])]
    return np.vstack(out + [p[-2:-1]])


def dense(pieces) -> np.ndarray:
    """A stroke's pieces as one polyline sampled every ~0.02 (so the field can bend lines too)."""
    out = [np.asarray(pieces[0][1][:1], float)]
    for kind, pts in pieces:
        pts = np.vstack([out[-1][-1:], np.asarray(pts, float)])
        if kind == C:
            out.append(catmull_rom(pts)[1:])
        else:
            for a, b in zip(pts[:-1], pts[1:]):
                n = max(2, int(np.hypot(*(b - a)) / 0.02) + 1)
                out.append(a + (b - a) * np.linspace(0, 1, n)[1:, None])
    return np.vstack(out)


def bend(points: np.ndarray, rng, amount: float) -> np.ndarray:
    """Displace by a smooth random field (sum of 3 low-frequency waves): a hand's variation."""
    out = points.copy()
    for axis in (0, 1):
        for _ in range(3):
            f = rng.uniform(0.5, 1.6, 2) * rng.choice([-1, 1], 2)
            out[:, axis] += amount / 2 * np.sin(2 * np.pi * points @ f + rng.uniform(0, 2 * np.pi))
    return out


def hand_strokes(label: int, rng, slant: float = 0.0) -> list[np.ndarray]:
    """One person's way of writing `label`: jittered polylines, about 1 high, centred on 0."""
    variants = SKELETONS[label]
    strokes = [dense(s) - (.3, .5) for s in variants[rng.integers(len(variants))]]
    turn = np.radians(rng.uniform(-8, 8))
    shear = np.tan(np.radians(slant)) + rng.uniform(-0.12, 0.12)
    m = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    m = m @ np.array([[rng.uniform(0.8, 1.2), -shear], [0, 1]])
    amount = rng.uniform(0.015, 0.035)
    out = []
    for s in strokes:
        s = bend(s, rng, amount) @ m.T
        tremble = rng.normal(0, 0.004, s.shape)
        out.append(s + np.apply_along_axis(np.convolve, 0, tremble, np.ones(5) / 5, "same"))
    return out


def draw_lines(strokes, height: float, width: float, aa: int = 2) -> Image.Image:
    """Strokes scaled to `height` px drawn white on black, round caps, `aa`x supersampled."""
    pts = [s * height * aa for s in strokes]
    lo = np.vstack(pts).min(0) - width * aa
    size = np.ceil(np.vstack(pts).max(0) - lo + width * aa).astype(int)
    img = Image.new("L", tuple(size), 0)
    d = ImageDraw.Draw(img)
    r = width * aa / 2
    for s in pts:
        s = s - lo
        d.line([tuple(p) for p in s], fill=255, width=max(1, round(width * aa)), joint="curve")
        if r > 1:
            for x, y in (s[0], s[-1]):
                d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return img.reduce(aa) if aa > 1 else img


def font_glyph(label: int, rng, height: float, slant: float = 0.0, turn: float = 0.0):
    """`label` printed in a random bundled font, `height` px high, white on black."""
    font = ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]), 200)
    left, top, right, bottom = font.getbbox(str(label))
    img = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), str(label), fill=255, font=font)
    k = height / (bottom - top)
    img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))),
                     Image.Resampling.LANCZOS)
    if slant:
        t = np.tan(np.radians(slant))
        extra = int(abs(t) * img.height) + 1
        img = img.transform((img.width + extra, img.height), Image.Transform.AFFINE,
                            (1, t, -extra if t > 0 else 0, 0, 1, 0), Image.Resampling.BICUBIC)
    return img.rotate(turn, Image.Resampling.BICUBIC, expand=True) if turn else img


def digit_mask(label, rng, size, height, centre, width=3.0, hand=True, slant=0.0, turn=0.0, aa=2):
    """Coverage in [0, 1] (H, W) of one digit `height` px high around `centre` (x, y): written
    by hand with a pen `width` px wide, or printed in a font (turned by `turn` degrees)."""
    if hand:
        glyph = draw_lines(hand_strokes(label, rng, slant), height, width, aa)
    else:
        glyph = font_glyph(label, rng, height, slant, turn)
    mask = Image.new("L", size, 0)
    mask.paste(glyph, (round(centre[0] - glyph.width / 2), round(centre[1] - glyph.height / 2)))
    return np.asarray(mask, np.float32) / 255


def somewhere(rng, size, height, margin=0.6):
    """A centre that keeps a digit `height` px high inside an image of `size` (w, h)."""
    w, h = size
    return (rng.uniform(margin * height, w - margin * height),
            rng.uniform(margin * height, h - margin * height))


def smooth_noise(rng, size, sigma: float, blur: float) -> np.ndarray:
    """Paper fibre / uneven texture: Gaussian noise blurred by `blur` px, std about `sigma`."""
    noise = Image.fromarray(rng.normal(128, 40, size[::-1]).clip(0, 255).astype(np.uint8))
    a = np.asarray(noise.filter(ImageFilter.GaussianBlur(blur)), np.float32) - 128
    return a * (sigma / max(a.std(), 1e-3))


def lighting(rng, size, mean: float, spread: float) -> np.ndarray:
    """Uneven light over the image: a gradient in a random direction and a soft fall-off."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * (xx - xx.mean()) + np.sin(a) * (yy - yy.mean())
    cx, cy = rng.uniform(0.3, 0.7) * w / max(w, h), rng.uniform(0.3, 0.7) * h / max(w, h)
    return (mean + spread * ramp - rng.uniform(0.3, 1) * spread * ((xx - cx) ** 2 + (yy - cy) ** 2)
            ).astype(np.float32)


def photo(rng, reflect: np.ndarray, light: np.ndarray, blur=(0.6, 1.4), quality=(55, 80)):
    """A phone photo: reflectance times light, sensor noise, a little blur, JPEG bytes."""
    a = reflect * light[..., None] + rng.normal(0, rng.uniform(2, 5), reflect.shape)
    img = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*blur)))
    return jpeg(img, int(rng.integers(*quality)))


def jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def ink_on(paper, ink, mask) -> np.ndarray:
    """Ink colour (RGB or grey) over paper (array or colour) with coverage `mask`."""
    m = mask[..., None] if np.ndim(paper) == 3 or np.ndim(ink) == 1 else mask
    return np.asarray(paper, np.float32) * (1 - m) + np.asarray(ink, np.float32) * m


# ---- digits: one function per kind, (label, n, rng) -> (file suffix, bytes) ----

def font_kind(label, n, rng):
    s = int(rng.integers(128, 257))
    mask = digit_mask(label, rng, (s, s), s * rng.uniform(0.5, 0.8), (s / 2, s / 2), hand=False)
    return ".png", png(255 * (1 - mask))


def pen(label, n, rng, width=(2, 4), height=(150, 230)):
    h = rng.uniform(*height)
    w = rng.uniform(*width)
    mask = digit_mask(label, rng, (280, 280), h, somewhere(rng, (280, 280), h, 0.55), w)
    return ".png", png(255 * (1 - mask))


def marker(label, n, rng):
    return pen(label, n, rng, width=(18, 30), height=(160, 210))


def thin(label, n, rng):
    size = [(1024, 768), (900, 900), (1200, 900), (768, 1024)][rng.integers(4)]
    h = rng.uniform(0.4, 0.7) * min(size)
    mask = digit_mask(label, rng, size, h, somewhere(rng, size, h), 1, aa=1)
    return ".png", png(255 * (1 - mask))


def slanted(label, n, rng):
    slant = rng.choice([-1, 1]) * rng.uniform(12, 20)
    h = rng.uniform(150, 200)
    mask = digit_mask(label, rng, (280, 280), h, (140, 140), rng.uniform(6, 14),
                      hand=n % 2 == 0, slant=slant)
    return ".png", png(255 * (1 - mask))


def small_offcentre(label, n, rng):
    size = (400, 300) if rng.random() < 0.7 else (300, 400)
    h = rng.uniform(0.10, 0.15) * size[1]
    w, hh = size
    cx = rng.choice([rng.uniform(0.1, 0.3), rng.uniform(0.7, 0.9)]) * w
    cy = rng.uniform(0.12, 0.88) * hh
    mask = digit_mask(label, rng, size, h, (cx, cy), rng.uniform(1.5, 3), hand=n % 2 == 0)
    return ".png", png(255 * (1 - mask))


def paper_photo(label, n, rng):
    size = (480, 360)
    h = rng.uniform(120, 220)
    mask = digit_mask(label, rng, size, h, somewhere(rng, size, h), rng.uniform(4, 9),
                      hand=n % 2 == 0, turn=rng.uniform(-6, 6))
    paper = rng.uniform(0.78, 0.9) + smooth_noise(rng, size, 0.02, 2)
    reflect = ink_on(paper[..., None] * (1, 1, rng.uniform(0.9, 1)), rng.uniform(0.08, 0.25), mask)
    return ".jpg", photo(rng, reflect, lighting(rng, size, rng.uniform(190, 250), 90))


def ruled(label, n, rng):
    size, gap = (480, 360), rng.uniform(24, 34)
    paper = np.ones((size[1], size[0], 3), np.float32) * (0.93, 0.94, rng.uniform(0.88, 0.96))
    lines = np.zeros(size[::-1], np.float32)
    y0 = rng.uniform(10, gap)
    lines[np.arange(y0, size[1] - 1, gap).astype(int)] = rng.uniform(0.5, 0.9)
    paper = ink_on(paper, (0.55, 0.7, 0.92) if rng.random() < 0.7 else (0.65,) * 3, lines)
    if rng.random() < 0.5:  # the red margin
        margin = np.zeros_like(lines)
        margin[:, int(rng.uniform(40, 90))] = 0.8
        paper = ink_on(paper, (0.9, 0.45, 0.45), margin)
    h = gap * rng.uniform(1.6, 2.8)
    mask = digit_mask(label, rng, size, h, somewhere(rng, size, h, 1), rng.uniform(2.5, 5),
                      hand=n % 2 == 0)
    ink = (0.1, 0.15, 0.45) if rng.random() < 0.5 else (0.1, 0.1, 0.12)
    reflect = ink_on(paper, ink, mask)
    return ".jpg", photo(rng, reflect, lighting(rng, size, rng.uniform(225, 255), 40),
                         (0.3, 0.8), (70, 88))


def coloured_ink(label, n, rng):
    s = int(rng.integers(240, 400))
    h = rng.uniform(0.5, 0.8) * s
    mask = digit_mask(label, rng, (s, s), h, somewhere(rng, (s, s), h),
                      s / 280 * rng.uniform(3, 12), hand=n % 2 == 0)
    paper = (255, 255, 255) if rng.random() < 0.5 else (250, 244, 225)
    ink = [(30, 60, 200), (20, 40, 140), (200, 30, 30), (170, 20, 60)][rng.integers(4)]
    return ".png", png(ink_on(np.broadcast_to(np.float32(paper), (s, s, 3)), ink, mask))


def border(label, n, rng):
    size = (480, 360)
    w, h = size
    # the sheet: a slightly turned rectangle covering 55-85% of the frame, on a dark table
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6)
    sw, sh, turn = w * rng.uniform(0.55, 0.85), h * rng.uniform(0.6, 0.9), rng.uniform(-0.12, 0.12)
    corners = [(cx + x * np.cos(turn) - y * np.sin(turn), cy + x * np.sin(turn) + y * np.cos(turn))
               for x, y in np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * (sw / 2, sh / 2)]
    sheet = Image.new("L", size, 0)
    ImageDraw.Draw(sheet).polygon(corners, fill=255)
    sheet = np.asarray(sheet.filter(ImageFilter.GaussianBlur(1)), np.float32) / 255
    table = np.float32([(0.35, 0.22, 0.13), (0.2, 0.2, 0.22), (0.45, 0.33, 0.22)][rng.integers(3)])
    table = table * (1 + smooth_noise(rng, size, 0.15, 3)[..., None])
    paper = ink_on(table, np.float32(rng.uniform(0.8, 0.9)), sheet)
    dh = min(sw, sh) * rng.uniform(0.45, 0.7)
    mask = digit_mask(label, rng, size, dh, (cx, cy), rng.uniform(4, 8), hand=n % 2 == 0,
                      turn=np.degrees(turn))
    reflect = ink_on(paper, rng.uniform(0.08, 0.2), mask)
    return ".jpg", photo(rng, reflect, lighting(rng, size, rng.uniform(200, 250), 60))


def white_on_black(label, n, rng):
    s = int(rng.integers(128, 281))
    h = s * rng.uniform(0.5, 0.8)
    mask = digit_mask(label, rng, (s, s), h, somewhere(rng, (s, s), h, 0.55), hand=False)
    return ".png", png(ink_on(rng.uniform(0, 30), rng.uniform(220, 255), mask))


def low_res(label, n, rng):
    """A digit a dozen pixels tall (a low-resolution scan, a crop of a form, a thumbnail) on
    paper, blurred a little, sometimes a small JPEG, then scaled up 10-30x (bilinear or bicubic)
    to 150-400 px as a scanner's driver or a phone's zoom does; sometimes with paper noise."""
    h = rng.uniform(10, 14)
    size = tuple(round(h * rng.uniform(1.5, 2.4)) for _ in range(2))
    mask = digit_mask(label, rng, size, h, somewhere(rng, size, h, 0.55), rng.uniform(1.3, 2.6),
                      hand=n % 2 == 0, aa=4)
    paper = np.full(size[::-1], rng.uniform(195, 245), np.float32)
    if rng.random() < 0.5:  # the paper's grain, at the scan's own resolution
        paper += smooth_noise(rng, size, rng.uniform(3, 8), 0.5)
    img = Image.fromarray(ink_on(paper, rng.uniform(10, 90), mask).clip(0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.5)))
    if rng.random() < 0.5:  # saved small as a JPEG before anyone zoomed in
        img = Image.open(io.BytesIO(jpeg(img, int(rng.integers(40, 80)))))
    k = rng.uniform(150, 400) / max(size)
    resample = Image.Resampling.BICUBIC if rng.random() < 0.5 else Image.Resampling.BILINEAR
    big = np.asarray(img.resize((round(size[0] * k), round(size[1] * k)), resample), np.float32)
    if rng.random() < 0.5:  # the scanner's own noise, at the large size
        big = big + rng.normal(0, rng.uniform(2, 5), big.shape)
    return ".jpg", jpeg(Image.fromarray(big.clip(0, 255).astype(np.uint8)), 80)


# kind: (function, images of each digit)
DIGIT_KINDS = {"font": (font_kind, 4), "pen": (pen, 4), "marker": (marker, 3), "thin": (thin, 3),
               "slanted": (slanted, 3), "small_offcentre": (small_offcentre, 3),
               "paper_photo": (paper_photo, 3), "ruled": (ruled, 3),
               "coloured_ink": (coloured_ink, 3), "border": (border, 3),
               "white_on_black": (white_on_black, 3), "low_res": (low_res, 3)}


# ---- garments: polygons in a unit box of the given aspect (width / height), toes to the left ----
# Each variant: (aspect, body polygons, detail lines (seams, collars, laces), straps and handles).
GARMENT_SHAPES = {
    "T-shirt/top": [
        (1.0, [[(.37, .02), (.44, .09), (.5, .11), (.56, .09), (.63, .02), (.8, .06), (1, .3),
                (.86, .4), (.78, .3), (.79, 1), (.21, 1), (.22, .3), (.14, .4), (0, .3),
                (.2, .06)]],
         [[(.2, .06), (.22, .3)], [(.8, .06), (.78, .3)]], []),
        (.75, [[(.3, 0), (.38, 0), (.42, .12), (.58, .12), (.62, 0), (.7, 0), (.72, .2), (.8, .32),
                (.82, 1), (.18, 1), (.2, .32), (.28, .2)]], [], [])],
    "Trouser": [
        (.45, [[(.05, 0), (.95, 0), (1, 1), (.6, 1), (.5, .28), (.4, 1), (0, 1)]],
         [[(.05, .06), (.95, .06)], [(.5, .06), (.5, .25)]], []),
        (.5, [[(.1, 0), (.9, 0), (1, 1), (.58, 1), (.5, .3), (.42, 1), (0, 1)]],
         [[(.1, .05), (.9, .05)]], [])],
    "Pullover": [
        (1.0, [[(.38, .02), (.44, .08), (.5, .1), (.56, .08), (.62, .02), (.78, .06), (.95, .4),
                (1, .92), (.88, .94), (.8, .45), (.8, .96), (.2, .96), (.2, .45), (.12, .94),
                (0, .92), (.05, .4), (.22, .06)]],
         [[(.2, .9), (.8, .9)], [(.01, .86), (.13, .88)], [(.87, .88), (.99, .86)]], [])],
    "Dress": [
        (.65, [[(.3, 0), (.37, 0), (.42, .1), (.58, .1), (.63, 0), (.7, 0), (.72, .22), (.64, .38),
                (1, 1), (0, 1), (.36, .38), (.28, .22)]], [[(.36, .38), (.64, .38)]], []),
        (.6, [[(.36, 0), (.44, .07), (.56, .07), (.64, 0), (.8, .05), (.92, .2), (.78, .27),
               (.72, .22), (.68, .4), (.85, 1), (.15, 1), (.32, .4), (.28, .22), (.22, .27),
               (.08, .2), (.2, .05)]], [], [])],
    "Coat": [
        (.8, [[(.38, 0), (.5, .2), (.62, 0), (.8, .05), (.95, .35), (1, .85), (.88, .87),
               (.82, .42), (.84, 1), (.16, 1), (.18, .42), (.12, .87), (0, .85), (.05, .35),
               (.2, .05)]],
         [[(.38, 0), (.42, .2), (.5, .2)], [(.62, 0), (.58, .2), (.5, .2)], [(.5, .2), (.5, 1)],
          [(.25, .7), (.38, .7)], [(.62, .7), (.75, .7)]], [])],
    "Sandal": [
        (2.5, [[(0, .88), (.04, .8), (.96, .78), (1, .84), (.96, .95), (.04, .96)]], [],
         [[(.12, .8), (.2, .45), (.35, .4), (.45, .79)],
          [(.55, .78), (.62, .3), (.8, .25), (.92, .32), (.94, .76)]]),
        (1.8, [[(0, .92), (.05, .86), (.4, .85), (.75, .55), (1, .5), (1, .58), (.95, .62),
                (.93, 1), (.87, 1), (.86, .66), (.75, .66), (.42, .95), (.05, .98)]], [],
         [[(.1, .86), (.18, .6), (.3, .6), (.38, .85)], [(.8, .56), (.8, .15), (.98, .15),
                                                          (.98, .5)]])],
    "Shirt": [
        (.9, [[(.38, 0), (.5, .1), (.62, 0), (.78, .04), (.94, .35), (1, .9), (.88, .92), (.8, .45),
               (.79, 1), (.21, 1), (.2, .45), (.12, .92), (0, .9), (.06, .35), (.22, .04)]],
         [[(.38, 0), (.45, .14), (.5, .1)], [(.62, 0), (.55, .14), (.5, .1)], [(.5, .1), (.5, 1)],
          [(.02, .83), (.13, .85)], [(.87, .85), (.98, .83)]], []),
        (1.0, [[(.37, 0), (.5, .1), (.63, 0), (.8, .06), (1, .3), (.86, .4), (.78, .3), (.79, 1),
                (.21, 1), (.22, .3), (.14, .4), (0, .3), (.2, .06)]],
         [[(.37, 0), (.45, .15), (.5, .1)], [(.63, 0), (.55, .15), (.5, .1)], [(.5, .1), (.5, 1)],
          [(.6, .3), (.72, .3), (.72, .42), (.6, .42), (.6, .3)]], [])],
    "Sneaker": [
        (2.2, [[(0, .8), (.03, .62), (.15, .52), (.42, .32), (.55, .08), (.72, .02), (.9, .05),
                (.98, .3), (1, .85), (.96, 1), (.04, 1)]],
         [[(.01, .84), (.99, .84)], [(.3, .42), (.36, .5)], [(.37, .35), (.43, .44)],
          [(.44, .27), (.5, .37)], [(.3, .72), (.6, .62), (.85, .42)]], [])],
    "Bag": [
        (1.2, [[(.08, .35), (.92, .35), (1, 1), (0, 1)]], [[(.08, .35), (.5, .6), (.92, .35)]],
         [[(.28, .36), (.32, .08), (.5, 0), (.68, .08), (.72, .36)]]),
        (1.4, [[(0, .3), (1, .3), (1, 1), (0, 1)]],
         [[(0, .55), (1, .55)], [(.47, .55), (.53, .62)]],
         [[(.1, .31), (.3, 0), (.7, 0), (.9, .31)]])],
    "Ankle boot": [
        (1.1, [[(0, .86), (.04, .68), (.25, .58), (.45, .48), (.5, 0), (.92, 0), (.94, .45),
                (1, .7), (1, .88), (.95, 1), (.72, 1), (.7, .92), (.06, .96)]],
         [[(.02, .9), (.7, .9)], [(.6, .05), (.6, .5)]], []),
        (1.0, [[(0, .9), (.05, .75), (.35, .62), (.5, .5), (.52, 0), (.9, 0), (.92, .55),
                (.95, .65), (.93, 1), (.82, 1), (.8, .8), (.4, .94), (.04, .97)]],
         [[(.52, .08), (.9, .08)]], [])],
}
SHOES = ("Sandal", "Sneaker", "Ankle boot")


def slug(label: str) -> str:
    return label.lower().replace("/", "-").replace(" ", "-")


def garment_masks(label, rng, size, fill: float, width: float, aa: int = 2) -> dict:
    """Coverage masks of one drawn garment filling `fill` of the image: body (filled, with its
    straps), edges (its outline) and details (seams, laces)."""
    variants = GARMENT_SHAPES[label]
    aspect, polys, details, straps = variants[rng.integers(len(variants))]
    w, h = size
    scale = fill * min(w / aspect, h)
    box = np.array([aspect * scale, scale])
    origin = np.array([w, h]) / 2 - box / 2 + rng.uniform(-0.06, 0.06, 2) * (w, h)
    turn = np.radians(rng.uniform(-5, 5))
    m = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    flip = label in SHOES and rng.random() < 0.5
    amount = rng.uniform(0.01, 0.02)
    field = [(rng.uniform(0.5, 1.5, 2), rng.uniform(0, 2 * np.pi)) for _ in range(4)]

    def to_px(pts, closed=False):
        p = dense([(L, list(pts) + (list(pts[:1]) if closed else []))])
        if flip:
            p[:, 0] = 1 - p[:, 0]
        for i, (f, phase) in enumerate(field):  # the same smooth wobble for every part
            p[:, i % 2] += amount / 2 * np.sin(2 * np.pi * p @ f + phase)
        p = ((p - 0.5) * box) @ m.T + box / 2 + origin
        return [tuple(q) for q in p * aa]

    layers = {}
    for name in ("body", "edges", "details"):
        img = Image.new("L", (w * aa, h * aa), 0)
        d = ImageDraw.Draw(img)
        lw = round(width * aa)
        for poly in polys:
            if name == "body":
                d.polygon(to_px(poly), fill=255)
            elif name == "edges":
                d.line(to_px(poly, closed=True), fill=255, width=lw, joint="curve")
        for line in straps if name != "details" else details:
            d.line(to_px(line), fill=255, width=lw * (3 if name == "body" else 1), joint="curve")
        layers[name] = np.asarray(img.reduce(aa), np.float32) / 255
    return layers


DARK = [(20, 20, 20), (60, 60, 65), (25, 35, 90), (110, 25, 30), (80, 50, 30), (0, 0, 0)]


def filled(label, n, rng):
    s = int(rng.integers(240, 360))
    masks = garment_masks(label, rng, (s, s), rng.uniform(0.6, 0.85), rng.uniform(2, 4))
    colour = DARK[rng.integers(len(DARK))]
    img = ink_on(np.full((s, s, 3), 255, np.float32), colour, masks["body"])
    img = ink_on(img, rng.uniform(150, 230), masks["details"] * masks["body"])
    return ".png", png(img)


def outline(label, n, rng):
    s = int(rng.integers(240, 360))
    masks = garment_masks(label, rng, (s, s), rng.uniform(0.6, 0.85), rng.uniform(2, 6))
    colour = DARK[rng.integers(len(DARK))]
    lines = np.maximum(masks["edges"], masks["details"])
    img = ink_on(np.full((s, s, 3), 255, np.float32), colour, lines)
    return ".png", png(img)


def garment_photo(label, n, rng):
    size = (480, 360)
    masks = garment_masks(label, rng, size, rng.uniform(0.55, 0.8), rng.uniform(2, 4))
    paper = (rng.uniform(0.75, 0.9) + smooth_noise(rng, size, 0.02, 2))[..., None] * (1, 1, 0.95)
    colour = [(.1, .1, .12), (.15, .2, .45), (.6, .12, .12), (.35, .35, .38), (.55, .45, .3),
              (.2, .35, .55)][rng.integers(6)]
    reflect = ink_on(paper, colour, masks["body"])
    reflect = ink_on(reflect, 0.5 * np.float32(colour), masks["details"] * masks["body"])
    return ".jpg", photo(rng, reflect, lighting(rng, size, rng.uniform(190, 250), 80))


# Plain surfaces a garment is laid on for a photo: (colour family, reflectance, texture).
SURFACES = {"wooden table": ("brown", (.45, .30, .17), "grain"),
            "dark wood": ("brown", (.30, .19, .11), "grain"),
            "green cloth": ("green", (.22, .42, .25), "weave"),
            "blue cloth": ("blue", (.25, .33, .55), "weave"),
            "grey cloth": ("grey", (.45, .45, .47), "weave"),
            "bed sheet": ("white", (.85, .82, .74), "folds"),
            "blue sheet": ("blue", (.62, .72, .85), "folds")}
# Garment colours: (family, reflectance). The first nine have a hue; the last three none.
CLOTH = [("blue", (.15, .30, .75)), ("red", (.75, .12, .12)), ("green", (.20, .55, .25)),
         ("yellow", (.85, .75, .20)), ("pink", (.90, .50, .60)), ("purple", (.45, .20, .55)),
         ("orange", (.90, .45, .10)), ("brown", (.50, .33, .20)), ("teal", (.10, .50, .50)),
         ("grey", (.50, .50, .52)), ("white", (.92, .92, .90)), ("black", (.08, .08, .09))]


def luma(rgb) -> float:
    return float(np.dot(rgb, (0.299, 0.587, 0.114)))


def as_bright_as(rgb, target: float) -> np.ndarray:
    """The colour darkened (scaled) or lightened (mixed with white) to grey brightness `target`:
    the same hue, the grey level of another thing."""
    c = np.asarray(rgb, np.float32)
    if luma(c) >= target:
        return c * np.float32(target / luma(c))
    return c + (1 - c) * np.float32((target - luma(c)) / (1 - luma(c)))


def soft_noise(rng, size, sigma: float, cells: tuple[int, int]) -> np.ndarray:
    """Slow random waves, std about `sigma`: noise on a grid of `cells` (x, y) resized smoothly
    (in floats, so no steps show)."""
    grid = Image.fromarray(rng.normal(0, 1, cells[::-1]).astype(np.float32), "F")
    a = np.asarray(grid.resize(size, Image.Resampling.BICUBIC), np.float32)
    return a * (sigma / max(float(a.std()), 1e-3))


def surface_texture(rng, size, texture: str) -> np.ndarray:
    """A surface's pattern as a factor around 1: wood grain (streaks along x), a cloth's weave
    (fine noise and soft creases) or a sheet's folds (broad soft waves)."""
    if texture == "grain":
        return 1 + soft_noise(rng, size, 0.12, (6, size[1] // 12)) + smooth_noise(rng, size, 0.03, 1)
    if texture == "weave":
        return 1 + smooth_noise(rng, size, 0.04, 0.6) + soft_noise(rng, size, 0.05, (8, 6))
    return 1 + soft_noise(rng, size, 0.07, (5, 4)) + smooth_noise(rng, size, 0.015, 0.8)


def surface(label, n, rng):
    """A garment laid on a plain coloured surface (wood, cloth, a bed sheet: grain, weave or
    folds) and photographed from above: uneven light, sometimes a soft shadow, noise, JPEG. Even
    n: a garment of another hue but within 8% of the surface's grey brightness, so apart in colour
    only (the first T-shirt is issue 27's own: blue on a wooden table); odd n: one at least 0.2
    lighter or darker too."""
    size = (480, 360) if rng.random() < 0.7 else (360, 480)
    names = list(SURFACES)
    name = "wooden table" if (label, n) == ("T-shirt/top", 0) else names[rng.integers(len(names))]
    family, ground, texture = SURFACES[name]
    if n % 2 == 0:  # a hue of its own, the surface's grey
        hues = [c for f, c in CLOTH[:9] if f != family]
        colour = (.15, .30, .75) if (label, n) == ("T-shirt/top", 0) else hues[rng.integers(len(hues))]
        colour = as_bright_as(colour, luma(ground) * rng.uniform(0.92, 1.08))
    else:  # lighter or darker than the surface
        others = [c for f, c in CLOTH if f != family and abs(luma(c) - luma(ground)) >= 0.2]
        colour = np.float32(others[rng.integers(len(others))])
    masks = garment_masks(label, rng, size, rng.uniform(0.55, 0.8), rng.uniform(2, 4))
    # darker grain and creases are a little more saturated (their blue falls fastest), as wood's is
    table = np.float32(ground) * np.clip(surface_texture(rng, size, texture), 0.3, 2)[..., None] ** \
        np.float32([1.0, 1.15, 1.3])
    if rng.random() < 0.5:  # a soft shadow beside the garment
        shadow = Image.fromarray(np.uint8(255 * masks["body"])).filter(ImageFilter.GaussianBlur(6))
        offset = rng.integers(2, 8, 2)
        shade = np.roll(np.asarray(shadow, np.float32) / 255, tuple(offset), axis=(0, 1))
        table = table * (1 - rng.uniform(0.1, 0.25) * shade)[..., None]
    fabric = 1 + smooth_noise(rng, size, 0.03, 0.7) + soft_noise(rng, size, 0.05, (10, 8))
    reflect = ink_on(table, colour * fabric[..., None], masks["body"])
    reflect = ink_on(reflect, 0.7 * colour * fabric[..., None], masks["details"] * masks["body"])
    return ".jpg", photo(rng, np.clip(reflect, 0, 1), lighting(rng, size, rng.uniform(170, 245), 60))


GARMENT_KINDS = {"filled": (filled, 2), "outline": (outline, 2), "photo": (garment_photo, 2),
                 "surface": (surface, 3)}
SETS = {"own_digits": (DIGIT_KINDS, list(range(10)), str),
        "own_garments": (GARMENT_KINDS, list(GARMENTS), slug)}


# ---- photos of what no model here knows (issue 27): real photos that packages ship ----
# Copied shrunk into <out>/own_photos/<kind>/ (not committed: they are the packages' pictures,
# under their own licences), listed with their source in labels.csv. The gate that says "not
# sure" (classifier/training/novelty.py) never trains on a picture listed here.
OPENCV = "/usr/share/doc/opencv-doc/examples/data/"  # Debian: opencv-doc
MATE = "/usr/share/backgrounds/mate/nature/"  # Debian: mate-backgrounds
PLASMA = "/usr/share/wallpapers/"  # Debian: plasma-workspace-wallpapers
ICONS = "/var/lib/AccountsService/icons/"  # Debian: dde-account-faces
PHOTO_KINDS = {
    "face": [("matplotlib", "grace_hopper.jpg"), *((OPENCV, f) for f in (
        "baboon.jpg", "messi5.jpg", "chicky_512.png")), *((ICONS, f"{i}.png") for i in (4, 12, 13, 14))],
    "scene": [("sklearn", "china.jpg"), *((OPENCV, f) for f in (
        "aero1.jpg", "aero3.jpg", "building.jpg", "home.jpg", "leuvenA.jpg", "leuvenB.jpg",
        "starry_night.jpg")), *((PLASMA, f) for f in (
        "BytheWater", "ColdRipple", "EveningGlow", "FallenLeaf", "Grey", "OneStandsOut", "Path",
        "Volna", "summer_1am", "MilkyWay", "Canopee")),
        *((MATE, f) for f in ("Aqua.jpg", "Dune.jpg", "Storm.jpg", "Wood.jpg")), (ICONS, "9.png")],
    "object": [("sklearn", "flower.jpg"), *((OPENCV, f) for f in (
        "apple.jpg", "butterfly.jpg", "fruits.jpg", "orange.jpg", "smarties.png", "stuff.jpg",
        "box_in_scene.png", "rubberwhale1.png", "board.jpg", "aloeL.jpg", "squirrel_cls.jpg",
        "licenseplate_motion.jpg", "basketball1.png", "graf1.png")), *((MATE, f) for f in (
        "Blinds.jpg", "FreshFlower.jpg", "Garden.jpg", "LadyBird.jpg", "RainDrops.jpg",
        "TwoWings.jpg", "YellowFlower.jpg", "GreenMeadow.jpg")),
        *((ICONS, f"{i}.png") for i in (1, 2, 5, 6, 7, 8, 10, 11))],
}
PHOTO_SIDE = 640  # px: the copies' longest side (a phone photo a user would upload, shrunk)


def photo_source(folder: str, name: str) -> Path:
    """Where a package put the picture: a Python package's data, or a path Debian installs."""
    if folder == "matplotlib":
        return Path(matplotlib.get_data_path()) / "sample_data" / name
    if folder == "sklearn":
        import sklearn.datasets
        return Path(sklearn.datasets.__file__).parent / "images" / name
    if folder == PLASMA:  # a folder of sizes of one picture: the smallest landscape one
        sizes = sorted(Path(folder, name, "contents", "images").glob("*"),
                       key=lambda p: [int(d) for d in p.stem.split("x")])
        return next((p for p in sizes if int(p.stem.split("x")[0]) >= int(p.stem.split("x")[1])), sizes[0])
    return Path(folder, name)


def write_photos(folder: Path, kinds) -> list[dict]:
    """Shrunk JPEG copies of PHOTO_KINDS' pictures; labels.csv rows (label "none": no class)."""
    rows = []
    for kind in kinds:
        out = folder / kind
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for where, name in PHOTO_KINDS[kind]:
            source = photo_source(where, name)
            if not source.is_file():
                raise SystemExit(f"{source} is missing: apt-get install opencv-doc mate-backgrounds "
                                 "plasma-workspace-wallpapers dde-account-faces")
            img = Image.open(source).convert("RGB")
            img.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
            stem = name.split(".")[0] if where != PLASMA else name
            path = out / f"{slug(stem)}.jpg"
            img.save(path, "JPEG", quality=88)
            rows.append({"file": f"{kind}/{path.name}", "label": "none", "kind": kind,
                         "source": str(source)})
    return rows


def write_kind(folder: Path, kind: str, fn, per_label: int, labels, name) -> list[dict]:
    """Regenerate one kind's folder; its labels.csv rows."""
    out = folder / kind
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows = []
    for label in labels:
        for n in range(per_label):
            rng = np.random.default_rng([SEED, zlib.crc32(kind.encode()), labels.index(label), n])
            suffix, data = fn(label, n, rng)
            path = out / f"{name(label)}_{n}{suffix}"
            path.write_bytes(data)
            rows.append({"file": f"{kind}/{path.name}", "label": str(label), "kind": kind})
    return rows


def write_labels(folder: Path, rows: list[dict], kinds: set[str],
                 columns=("file", "label", "kind")) -> None:
    """labels.csv: the new rows, and the old ones of kinds not regenerated this time."""
    path = folder / "labels.csv"
    if path.exists():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["kind"] not in kinds] + rows
    order = {k: i for i, k in enumerate(list(DIGIT_KINDS) + list(GARMENT_KINDS) + list(PHOTO_KINDS))}
    rows.sort(key=lambda r: (order.get(r["kind"], len(order)), r["kind"], r["file"]))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder that gets "
                        "own_digits/ and own_garments/ (default: assets/)")
    every = list(DIGIT_KINDS) + list(GARMENT_KINDS)
    parser.add_argument("--kinds", nargs="+", choices=every + list(PHOTO_KINDS), default=every,
                        help="only these kinds (the others' files and labels are kept); the "
                             "photos (face, scene, object) only when named: they are copied from "
                             "Debian packages")
    args = parser.parse_args(argv)
    photos = [k for k in PHOTO_KINDS if k in args.kinds]
    if photos:
        folder = args.out / "own_photos"
        rows = write_photos(folder, photos)
        write_labels(folder, rows, set(photos), ["file", "label", "kind", "source"])
        print(f"{folder}: {len(rows)} photos of {', '.join(photos)}")
    for set_name, (kinds, labels, name) in SETS.items():
        chosen = [k for k in kinds if k in args.kinds]
        if not chosen:
            continue
        folder = args.out / set_name
        rows = [r for k in chosen for r in write_kind(folder, k, *kinds[k], labels, name)]
        write_labels(folder, rows, set(chosen))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{folder}: {len(rows)} images of {', '.join(chosen)} ({size / 1e6:.2f} MB in all)")


if __name__ == "__main__":
    main()
