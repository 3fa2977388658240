"""Turn any user image (upload, drawing, array) into exactly what a model takes.

One path for the app, the CLI, folder loading (folders.py) and the tests: `open_image` reads
what a user can give, `to_gray`/`to_rgb` flatten it (transparency onto white), `resize_plain`
resizes it for "plain" datasets, and `prepare` applies the dataset's recipe, so a drawing is made
the way the training images were made:

* "mnist" and "fashion": cleanup.py's `digit` and `garment` (paper and ink found, shading,
  ruled lines, specks and stroke width dealt with, then MNIST's or Fashion-MNIST's placement).
* "plain": resize the whole image to the model's (H, W) (bilinear, aspect not kept, as Keras'
  image_dataset_from_directory does), grayscale or RGB; a uniform image is not an error here.
"""
from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..core.dataset import STYLES
from .errors import BlankImage, ImageTooLarge, NotAnImage

__all__ = ["IMAGE_FORMATS", "BlankImage", "ImageTooLarge", "NotAnImage", "open_image", "to_gray", "to_rgb",
           "resize_plain", "Prepared", "prepare", "upscale"]

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")  # the only decoders Pillow may use
# Memory budget for decoding. A 12-24 MP phone photo is the largest thing a user has reason to
# send; an RGBA image costs 4 bytes a pixel decoded, so 25 MP is at most 100 MB, and only
# `DECODERS` images are decoded at once. Pillow's own limit (89 MP, 2x that before it refuses)
# let a 349 KB PNG cost 2.25 GB.
MAX_PIXELS = 25_000_000
DECODERS = threading.BoundedSemaphore(2)
WORKING_SIDE = 1024  # prepare() shrinks larger images to about this first: a 28x28 input needs no more
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as Pillow's convert("L")
_NOTHING = "nothing to classify: draw something or upload an image"


def open_image(source, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Read a path, bytes, PIL image, numpy array or Gradio Sketchpad dict as an upright image.

    Errors are ValueError (ImageTooLarge, NotAnImage for those cases). With draft_size
    (width, height), a JPEG path or bytes may be decoded at 1/2, 1/4 or 1/8 scale, never below
    that size: much faster when the image is only going to be shrunk.
    """
    if isinstance(source, dict):
        return _open_sketch(source)
    if source is None:
        raise ValueError(_NOTHING)
    if isinstance(source, Image.Image):
        img = _decoded(source, "(a PIL image)")
    elif isinstance(source, np.ndarray):
        img = _from_array(source)
    elif isinstance(source, (bytes, bytearray)):
        img = _read(io.BytesIO(source), f"({len(source)} bytes)", len(source), draft_size)
    elif isinstance(source, (str, Path)):
        img = _read_path(Path(source), draft_size)
    else:
        raise ValueError(f"cannot read an image from a {type(source).__name__}: give a file path, "
                         "bytes, a PIL image, a numpy array or a Sketchpad value")
    if 0 in img.size:
        raise ValueError(_NOTHING)
    return img


def _open_sketch(value: dict) -> Image.Image:
    """The composite of a Gradio Sketchpad/ImageEditor value; nothing drawn is an error."""
    if "composite" not in value:
        raise ValueError(f"expected a Sketchpad value with a 'composite' key, "
                         f"got keys {sorted(value)}")
    img = open_image(value["composite"])
    if "A" in img.getbands() and img.getchannel("A").getextrema()[1] == 0:
        raise ValueError(_NOTHING)  # a fully transparent canvas
    return img


def _read_path(path: Path, draft_size=None) -> Image.Image:
    """Open an image file, with errors that name the file."""
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:  # e.g. a name too long to be a path
        size = None
    if size is None:
        raise ValueError(f"could not read the image: no file at {str(path)[:200]!r}")
    return _read(path, repr(path.name), size, draft_size)  # the name only: no server paths shown


def _read(fp, name: str, size: int, draft_size=None) -> Image.Image:
    """Decode one of IMAGE_FORMATS from a path or file object: first frame, EXIF upright."""
    if size == 0:
        raise NotAnImage(f"could not read the image {name}: the file is empty (0 bytes)")
    try:
        with DECODERS, Image.open(fp, formats=IMAGE_FORMATS) as img:
            return _decoded(img, name, draft_size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = re.search(r"\((\d+) pixels\)", str(err))  # Pillow refused it on opening
        raise _too_large(name, f"{int(pixels[1]):,} pixels" if pixels else "larger") from err
    except UnidentifiedImageError as err:
        raise NotAnImage(f"could not read the image {name}: not a {'/'.join(IMAGE_FORMATS)} "
                         "file, or a damaged one; upload a PNG or JPEG") from err
    except OSError as err:  # e.g. no permission to read it
        raise ValueError(f"could not read the image {name}: {err.strerror or err}") from err


def _decoded(img: Image.Image, name: str, draft_size=None) -> Image.Image:
    """Load the first frame and apply the EXIF orientation; decoding errors become ValueError."""
    if img.width * img.height > _pixel_limit():  # judged from the header
        raise _too_large(name, f"{img.width}x{img.height} pixels")
    try:
        if img.tell() != 0:
            img.seek(0)  # animated: first frame
        if draft_size:
            img.draft(None, draft_size)  # JPEG only (others ignore it); before load()
        img.load()  # truncated files fail here, not later
        return _upright(img, _reduced(img, draft_size))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = re.search(r"\((\d+) pixels\)", str(err))  # Pillow refused it on opening
        raise _too_large(name, f"{int(pixels[1]):,} pixels" if pixels else "larger") from err
    except Exception as err:  # Pillow raises OSError, SyntaxError, EOFError, struct.error...
        raise ValueError(f"could not read the image {name}: the file is truncated or damaged "
                         f"({err})") from err


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _upright(original: Image.Image, img: Image.Image) -> Image.Image:
    """`img` (the decoded `original`, maybe reduced) turned as `original`'s EXIF orientation
    says (what ImageOps.exif_transpose does, without its full-size copy)."""
    method = _TRANSPOSE.get(original.getexif().get(0x0112, 1))
    if method is None:
        return img
    upright = img.transpose(method)
    upright.info.pop("exif", None)  # turned once: read again, it must not turn again
    return upright


def _pixel_limit() -> int:
    return min(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_PIXELS)


def _too_large(name: str, size: str) -> ImageTooLarge:
    limit = _pixel_limit()
    return ImageTooLarge(f"image is too large: {name} is {size}, over the limit of {limit:,} "
                         f"(about {limit / 1e6:.0f} megapixels); scale it down and try again")


def _reduced(img: Image.Image, draft_size) -> Image.Image:
    """`img` shrunk by a whole factor while it stays at least `draft_size` (what draft does for
    JPEG, for every format), so later conversions work on a small copy."""
    if not draft_size:
        return img
    factor = min(img.width // draft_size[0], img.height // draft_size[1])
    if factor < 2:
        return img
    try:
        return img.reduce(factor)
    except ValueError:  # modes reduce() does not take (P, 1): convert on the small side
        return img.convert("RGBA").reduce(factor)


def _from_array(a: np.ndarray) -> Image.Image:
    """An L, RGB or RGBA image from an HxW, HxWx1, HxWx3 or HxWx4 array."""
    a = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"expected an image array of shape HxW, HxWx1, HxWx3 or HxWx4, "
                         f"got {a.shape}")
    if a.size == 0:
        raise ValueError(_NOTHING)
    if a.dtype == bool:
        a = a.astype(np.uint8) * np.uint8(255)
    elif a.dtype.kind not in "iuf":
        raise ValueError(f"expected an array of bool, integer or float pixels, got dtype {a.dtype}")
    return Image.fromarray(a if a.dtype == np.uint8 else _scaled_uint8(a))


def _scaled_uint8(a: np.ndarray) -> np.ndarray:
    """uint16 (or ints above 255) scaled from 0-65535, floats from 0-1 (if max <= 1) or 0-255."""
    lo, hi = float(a.min()), float(a.max())
    if a.dtype == np.uint16 or (a.dtype.kind in "iu" and hi > 255):
        full = 65535.0
    else:
        full = 1.0 if a.dtype.kind == "f" and hi <= 1 else 255.0
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > full:
        raise ValueError(f"pixel values must be in [0, 1] or [0, 255] ([0, 65535] for 16-bit), "
                         f"got {a.dtype} values from {lo} to {hi}")
    return np.rint(a.astype(np.float32) * np.float32(255 / full)).astype(np.uint8)


def _pixels(img: Image.Image) -> np.ndarray:
    """Float32 pixels in [0, 255], HxW or HxWx3, with any transparency composited on white."""
    if img.mode == "F":
        a = np.nan_to_num(np.asarray(img, np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        return np.clip(a * 255 if a.max() <= 1 else a, 0, 255)
    if img.mode == "I" or img.mode.startswith("I;16"):  # 16-bit data: scale, don't clip at 255
        return np.clip(np.asarray(img, np.float32), 0, 65535) / np.float32(257)
    if img.has_transparency_data:  # alpha band, or a transparent palette entry or colour
        white = Image.new("RGBA", img.size, "white")
        img = Image.alpha_composite(white, img.convert("RGBA")).convert("RGB")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("L" if img.mode == "1" else "RGB")  # CMYK, YCbCr, palette...
    return np.asarray(img, np.float32)


def to_gray(img: Image.Image) -> np.ndarray:
    """Grayscale float32 HxW in [0, 255] (transparency on white, 16-bit scaled, not clipped)."""
    a = _pixels(img)
    return a @ _LUMA if a.ndim == 3 else a


def to_rgb(img: Image.Image) -> np.ndarray:
    """RGB uint8 HxWx3 (transparency on white, 16-bit scaled, not clipped)."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return np.array(img)
    a = _pixels(img)
    a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


@dataclass
class Prepared:
    """A model's input and what it shows."""

    batch: np.ndarray  # uint8, (1, H, W, C): exactly what the model takes
    seen: np.ndarray  # uint8, (H, W) for C == 1 or (H, W, 3): "what the model sees"
    inverted: bool  # True if a light background was detected and negated


def prepare(source, image_shape=(28, 28, 1), style: str = "fashion") -> Prepared:
    """Turn `source` (anything open_image takes) into model input by the dataset's recipe."""
    h, w, c = _check_shape(image_shape, style)
    img = open_image(source, draft_size=(max(WORKING_SIDE, w), max(WORKING_SIDE, h)))
    if style == "plain":
        seen = resize_plain(img, h, w, c)
        return Prepared(seen.reshape(1, h, w, c), seen, False)
    from .cleanup import (  # scipy: loaded when a drawing is first cleaned up
        digit,
        garment,
    )
    seen, inverted = (digit if style == "mnist" else garment)(_pixels(img))
    return Prepared(seen[None, :, :, None], seen, inverted)


def _check_shape(image_shape, style: str) -> tuple[int, int, int]:
    """(H, W, C) as ints, checked against the style."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    try:
        h, w, c = (int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be (height, width, channels), "
                         f"got {image_shape!r}") from None
    if h < 1 or w < 1 or c not in (1, 3):
        raise ValueError(f"image_shape must be (height, width, 1 or 3), got {image_shape!r}")
    if style != "plain" and (h, w, c) != (28, 28, 1):
        raise ValueError(f"style {style!r} makes 28x28x1 images, got image_shape {(h, w, c)}; "
                         "use style='plain' for other shapes")
    return h, w, c


def resize_plain(img: Image.Image, h: int, w: int, c: int) -> np.ndarray:
    """The "plain" recipe: the whole image resized to (h, w), bilinear, aspect not kept;
    uint8 HxW gray (c == 1) or HxWx3 RGB."""
    if c == 3:
        return np.array(Image.fromarray(to_rgb(img)).resize((w, h), Image.Resampling.BILINEAR))
    small = Image.fromarray(to_gray(img)).resize((w, h), Image.Resampling.BILINEAR)
    return np.clip(np.rint(np.asarray(small)), 0, 255).astype(np.uint8)


def upscale(image: np.ndarray, size: int = 140) -> np.ndarray:
    """Nearest-neighbour upscale so 28x28 pixels stay sharp; (H, W, 1) becomes (H, W)."""
    img = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    factor = max(1, size // max(img.shape[:2]))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)
