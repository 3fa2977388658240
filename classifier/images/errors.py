"""What can be wrong with an image a user gives, as exceptions every layer above may catch (no
Pillow, no numpy: cleanup.py and preprocess.py both raise them)."""
from __future__ import annotations

BLANK = "the image is blank: draw or upload something with visible content"
# a photo in which no one item stands out from its surface: an empty table, or a busy scene
NOTHING_STANDS_OUT = ("nothing in it stands out from its background: photograph one item alone "
                      "on a plain surface")


class ImageTooLarge(ValueError):
    """More pixels than the decoding limit (preprocess.MAX_PIXELS): refused as a possible bomb."""


class BlankImage(ValueError):
    """Nothing visible to classify: an all-white or all-black image, an empty drawing."""


class NotAnImage(ValueError):
    """Empty data, or data in none of the image formats preprocess.py reads."""
