"""A webcam frame as the page sends it (a data URL, or Gradio's streamed {"url": ...}) into image
bytes, checked for what a camera can send before anything is decoded."""
from __future__ import annotations

import base64
import binascii
import io

from PIL import Image

from ..core.arguments import quoted
from .errors import ImageTooLarge

MAX_FRAME_CHARS = 4_000_000  # a webcam frame's data URL (a 640x480 JPEG is ~60-150 KB)
MAX_FRAME_PIXELS = 2560 * 1600  # a webcam frame: a camera's size (the page asks for 480x360);
# a 25-megapixel PNG of 82 KB decodes for seconds, 3 frames a second


def webcam_frame(value: object) -> bytes:
    """The image bytes of a webcam frame as the page sends it: a data URL
    ("data:image/jpeg;base64,...") from the Capture button, or Gradio's streamed {"url": ...}.
    ValueError for anything else; the bytes are checked as any image when added or answered."""
    url = value.get("url") if isinstance(value, dict) else value
    if url is None:
        raise ValueError("no webcam picture yet: click 'Click to Access Webcam', allow the "
                         "camera, then try again")
    head = url[:40] if isinstance(url, str) else ""
    if not (head.startswith("data:image/") and ";base64," in head):
        raise ValueError("a webcam frame must be an image as a data URL "
                         f"('data:image/jpeg;base64,...'), got {quoted(url)}")
    if len(url) > MAX_FRAME_CHARS:
        raise ValueError(f"the webcam frame is too large ({len(url):,} characters, at most "
                         f"{MAX_FRAME_CHARS:,}): use a smaller camera resolution")
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webcam frame is not valid base64 image data") from None
    try:  # the header only: nothing is decoded yet
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception:  # not an image: open_image says so when it is read
        return data
    if width * height > MAX_FRAME_PIXELS:
        raise ImageTooLarge(f"the webcam frame is {width}x{height} pixels, larger than a camera's "
                            f"({MAX_FRAME_PIXELS / 1e6:.1f} megapixels at most): use a smaller "
                            "camera resolution")
    return data
