"""Checks for values that arrive from strangers (every web event is callable by anyone, with any
JSON): each returns the value as the type wanted or raises ValueError naming the argument and
quoting at most a short prefix of what was received."""
from __future__ import annotations

import math
import os
import reprlib
from pathlib import Path
from typing import Sequence

QUOTE_CHARS = 40  # the most of a bad value an error message repeats
_REPR = reprlib.Repr()  # Python 3.11's Repr takes no keywords
_REPR.maxstring = _REPR.maxother = QUOTE_CHARS
_REPR.maxlist = _REPR.maxdict = 4


def quoted(value: object) -> str:
    """`value`'s repr, cut short (reprlib): a 20 MB string is not echoed back or logged."""
    text = _REPR.repr(value)
    if isinstance(value, str) and len(value) > QUOTE_CHARS:
        text += f" ({len(value):,} characters)"
    return text


def number(name: str, value: object, low: float, high: float) -> float:
    """A finite number in [low, high]; numeric strings ("0.5") are accepted."""
    wanted = f"{name} must be a number from {_plain(low)} to {_plain(high)}, got {quoted(value)}"
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise ValueError(wanted)
    try:
        out = float(value)
    except ValueError:
        raise ValueError(wanted) from None
    if not math.isfinite(out) or not low <= out <= high:
        raise ValueError(wanted)
    return out


def _plain(x: float) -> str:
    """4294967295, not 4.29497e+09; 0.05, not 0.050000."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def integer(name: str, value: object, low: int, high: int) -> int:
    """A whole number in [low, high]; "64" and 64.0 are accepted, 6.5 is not."""
    out = number(name, value, low, high)
    if out != int(out):
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {quoted(value)}")
    return int(out)


def choice(name: str, value: object, choices: Sequence) -> object:
    """One of `choices`; for number choices, its string ("64") is accepted too."""
    for option in choices:
        if value == option or (isinstance(value, str) and not isinstance(option, str)
                               and value == str(option)):
            return option
    shown = ", ".join(map(str, choices)) if len(choices) <= 12 else f"one of {len(choices)} names"
    raise ValueError(f"{name} must be one of: {shown}; got {quoted(value)}")


def uploaded_path(value: object, upload_folder: str | Path) -> str:
    """The path of a file a user uploaded: a path (or Gradio FileData-like dict with "path") that
    lies inside `upload_folder` once links and `..` are resolved. Anything else is refused
    without saying whether such a server file exists."""
    path = value.get("path") if isinstance(value, dict) else value
    if not isinstance(path, (str, Path)) or not str(path) or len(str(path)) > 4096:
        raise ValueError("upload an image file (got no file)")
    real = Path(os.path.realpath(path))
    folder = Path(os.path.realpath(upload_folder))
    if folder not in real.parents:
        raise ValueError("upload an image file: only files uploaded through this app are read")
    return str(real)
