"""Gradio's cached images, each written once.

Gradio 6.31 saves each image an event sends (a gallery's thumbnails, an Image output) as
<cache>/<hash of its bytes>/image.<format>, and writes that file again, truncating it first,
every time the same image is sent again (processing_utils.save_pil_to_cache). A browser fetching
the file meanwhile gets a response whose Content-Length no longer fits the file: uvicorn logs
"h11._util.LocalProtocolError: Too much data for declared Content-Length" (or "Too little"), with
a traceback, and the picture stays broken on that page. The own-classes gallery re-sends every
thumbnail at each capture (three times a second while recording), so a class in a classroom
meets it. `install()` writes such a file only when it is missing, under a temporary name renamed
into place: a file being served never changes. Its path is the same as before (the content
names it), so pages and Gradio's cache clean-up see no difference.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradio import processing_utils


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """processing_utils.save_pil_to_cache, writing the file only if it is not there yet."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if path.exists():
        try:
            os.utime(path)  # Gradio's delete_cache ages files by ctime: this one is in use
        except OSError:
            pass
        return str(path)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def install() -> None:
    """Patch processing_utils.save_pil_to_cache once (every Blocks of the process); Gradio's
    components call it through the module, so they all get this one."""
    if processing_utils.save_pil_to_cache is not save_pil_to_cache:
        save_pil_to_cache.gradio_own = processing_utils.save_pil_to_cache
        processing_utils.save_pil_to_cache = save_pil_to_cache
