"""Classes a user makes in the browser: named classes of webcam frames, uploads and pastes.

numpy, Pillow and the standard library only. A `ClassSet` lives in memory, one per browser
session; nothing is written to disk but `to_zip`'s file and `from_zip`'s work folder (removed
once read). Every image is read by preprocess.py's `open_image` (format whitelist, bomb guard,
EXIF orientation, transparency on white), like any upload, and kept at STORED_SIDE x STORED_SIDE
RGB uint8: 96 is MobileNetV2's smallest ImageNet size and above the largest training choice in
folders.ZIP_IMAGE_CHOICES (64), so every model's input is a shrink of it, and an image costs a
fixed 27 KB, so the image limits bound memory (1,000 images: 27.6 MB). Like `resize_plain`, the
whole frame is squeezed to a square (aspect not kept), as Predict does with a live frame.

Thread safety: a session's handlers can run at once (a webcam stream, a delete, an upload), so
every change and every read of the classes holds the set's lock; decoding runs outside it.
`version` changes with every change, so a dataset made from the set can be kept until then.
"""
from __future__ import annotations

import io
import shutil
import threading
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.arguments import quoted, uploaded_path
from ..core.dataset import Dataset
from ..images.errors import ImageTooLarge
from ..images.preprocess import MAX_PIXELS, open_image, resize_plain
from .folders import (  # one way to walk a zip
    extract_zip,
    files_in,
    ignored,
    stratified_split,
)

STORED_SIDE = 96  # images are kept at 96x96 RGB (see above)
IMAGE_BYTES = STORED_SIDE * STORED_SIDE * 3
MIN_CLASSES, MAX_CLASSES = 2, 10  # to train; an 11th class is refused
MAX_NAME_CHARS = 40
MAX_PER_CLASS = 200  # about a minute of 'hold to record' at 3 frames a second
MAX_IMAGES = 1_000  # per session, all classes together
MAX_BYTES = MAX_IMAGES * IMAGE_BYTES  # 27.6 MB: what the image limits cost in memory at most
MIN_PER_CLASS = 5  # to train: 1 held out to test on, 1 to validate, 3 to learn from
MAX_ZIP_ENTRIES = 2 * MAX_IMAGES  # an uploaded zip: entries, and bytes once unpacked
MAX_ZIP_BYTES = 200_000_000
NAMES_SHOWN = 3  # skipped images named per reason in a report's summary
TRAIN_EPOCHS, TRAIN_BATCH = 20, 16  # the Train form's defaults for a set: 20 photos a class
# is a step or two an epoch at batch 16 (the Quick CNN was at chance after 4 steps, right after 20)
_UNSAFE = set('/\\:*?"<>|')  # not in a folder name on Linux, macOS or Windows
_DEVICES = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(10))}


def clean_name(name: object) -> str:
    """A class name trimmed and NFC-normalised; ValueError unless it is safe as a folder name."""
    if not isinstance(name, str):
        raise ValueError(f"a class name must be text, got {type(name).__name__} {quoted(name)}")
    name = name.strip()
    if not name:
        raise ValueError("a class name cannot be empty: type a name such as 'thumbs up'")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"class name {quoted(name)} has {len(name):,} characters; at most "
                         f"{MAX_NAME_CHARS} are allowed")
    name = unicodedata.normalize("NFC", name)
    bad = sorted({ch for ch in name if ch in _UNSAFE or unicodedata.category(ch)[0] == "C"
                  or unicodedata.category(ch) in ("Zl", "Zp")})  # control, format, line breaks
    if bad:
        raise ValueError(f"class name {quoted(name)} has {', '.join(map(ascii, bad))}: names "
                         "become folder names in the zip download, so they cannot hold "
                         "/ \\ : * ? \" < > | or control characters")
    if name[0] == "." or name[-1] == ".":
        raise ValueError(f"class name {quoted(name)} starts or ends with '.': as a folder it would "
                         "be hidden, lost or ('..') outside the zip; drop the dot")
    if name.split(".")[0].casefold() in _DEVICES or name == "__MACOSX":
        raise ValueError(f"class name {quoted(name)} is reserved for devices or system folders "
                         "on some computers; choose another")
    return name


def stored_image(source) -> np.ndarray:
    """Anything `open_image` reads, as a read-only (STORED_SIDE, STORED_SIDE, 3) uint8 image."""
    img = open_image(source, draft_size=(STORED_SIDE, STORED_SIDE))  # big JPEGs decode small
    if img.width * img.height > MAX_PIXELS:  # arrays and PIL images: open_image judged files
        raise ImageTooLarge(f"image is too large: {img.width}x{img.height} pixels, over the "
                            f"limit of {MAX_PIXELS:,}; scale it down and try again")
    small = resize_plain(img, STORED_SIDE, STORED_SIDE, 3)
    small.flags.writeable = False  # shared with thumbnails: nobody may change it
    return small


@dataclass
class AddReport:
    """What an add (or a zip) brought in, and each image skipped with the reason; shown to users."""

    added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (which image, why)

    def summary(self) -> str:
        """One line, e.g. "added 4 images; skipped 2: 'a.txt': could not read ... ; 1 more".
        Images skipped for the same reason are counted together, the first few named."""
        text = f"added {self.added:,} image{'s' * (self.added != 1)}"
        if not self.skipped:
            return text
        by_reason: dict[str, list[str]] = defaultdict(list)
        for label, reason in self.skipped:
            by_reason[reason].append(label)
        parts = []
        for reason, labels in by_reason.items():
            if len(labels) == 1:
                parts.append(reason if labels[0] in reason else f"{labels[0]}: {reason}")
                continue
            more = len(labels) - NAMES_SHOWN
            names = ", ".join(labels[:NAMES_SHOWN]) + (f" and {more:,} more" if more > 0 else "")
            parts.append(f"{len(labels):,} images ({names}): {reason}")
        return f"{text}; skipped {len(self.skipped):,}: " + "; ".join(parts)


def _label(source, i: int) -> str:
    """How a report names the i-th source: a file by its name (never its server folder)."""
    if isinstance(source, dict) and "path" in source:
        source = source["path"]
    if isinstance(source, (str, Path)):
        return repr(Path(source).name)
    return f"{'frame' if isinstance(source, np.ndarray) else 'image'} {i + 1}"


class ClassSet:
    """Named classes of small RGB images, in the order they were made (limits: see above)."""

    def __init__(self) -> None:
        self._classes: dict[str, list[np.ndarray]] = {}
        self._lock = threading.RLock()
        self._version = 0  # counts changes: a dataset made from the set is current while it holds

    def __getstate__(self) -> dict:  # deepcopy (gr.State) and pickle: a fresh lock, the images
        with self._lock:
            return {"_classes": {n: list(imgs) for n, imgs in self._classes.items()}}

    def __setstate__(self, state: dict) -> None:
        self._classes, self._lock, self._version = state["_classes"], threading.RLock(), 0
        for images in self._classes.values():
            for img in images:
                img.flags.writeable = False

    def _find(self, name: object) -> str:
        """The stored name matching `name` (case-insensitively); ValueError if none does."""
        wanted = clean_name(name).casefold()
        for stored in self._classes:
            if stored.casefold() == wanted:
                return stored
        known = ", ".join(map(repr, self._classes)) or "none yet"
        raise ValueError(f"no class called {quoted(name)}; the classes are: {known}")

    def _check_new(self, name: str, replacing: str | None = None) -> None:
        clash = [n for n in self._classes if n.casefold() == name.casefold() and n != replacing]
        if clash:
            raise ValueError(f"there is already a class called {clash[0]!r}; names must differ "
                             "by more than capitals (they become folders in the zip)")

    def names(self) -> list[str]:
        with self._lock:
            return list(self._classes)

    @property
    def version(self) -> int:
        """A number that changes with every change to the classes or their images."""
        return self._version

    def add_class(self, name: object) -> str:
        """Add an empty class; returns its cleaned name. At most MAX_CLASSES."""
        name = clean_name(name)
        with self._lock:
            self._check_new(name)
            if len(self._classes) >= MAX_CLASSES:
                raise ValueError(f"there are already {MAX_CLASSES} classes, the most allowed; "
                                 f"remove one before adding {name!r}")
            self._classes[name] = []
            self._version += 1
        return name

    def rename_class(self, old: object, new: object) -> str:
        """Give class `old` the name `new` (its place and images stay); returns the new name."""
        new = clean_name(new)
        with self._lock:
            old = self._find(old)
            self._check_new(new, replacing=old)
            self._classes = {new if n == old else n: imgs for n, imgs in self._classes.items()}
            self._version += 1
        return new

    def remove_class(self, name: object) -> int:
        """Remove a class and its images; returns how many images went with it."""
        with self._lock:
            removed = self._classes.pop(self._find(name))
            self._version += 1
        return len(removed)

    def clear(self) -> None:
        """Forget every class and image (the tab closed, or the user starts again)."""
        with self._lock:
            self._classes = {}
            self._version += 1

    def _room(self, name: str) -> str | None:
        """Why class `name` can take no more images, or None while it can."""
        if name not in self._classes:
            return f"class {name!r} was removed meanwhile"
        if len(self._classes[name]) >= MAX_PER_CLASS:
            return (f"class {name!r} is full: at most {MAX_PER_CLASS} images a class; "
                    "delete some or make another class")
        if self.total() >= MAX_IMAGES:
            return (f"the set is full: at most {MAX_IMAGES:,} images in all "
                    f"({MAX_BYTES / 1e6:.1f} MB); delete some first")
        return None

    def add_images(self, name: object, sources, *, uploads: str | Path | None = None) -> AddReport:
        """Add images to class `name`: one source or a list of anything `open_image` takes
        (webcam frames as arrays, file paths, bytes, PIL images). With `uploads` (Gradio's
        upload folder) a path, or a {"path": ...} dict, is read only if it lies inside it.
        Unreadable or surplus images are skipped and reported; the others are added."""
        if sources is None:
            sources = []
        elif not isinstance(sources, (list, tuple)):
            sources = [sources]
        with self._lock:
            name = self._find(name)
        return self._add(name, [(_label(s, i), s) for i, s in enumerate(sources)], uploads)

    def _add(self, name: str, items: list[tuple[str, object]], uploads) -> AddReport:
        report = AddReport()
        for label, source in items:
            with self._lock:
                full = self._room(name)
            if full is None:
                try:
                    if uploads is not None and isinstance(source, (str, Path, dict)) and (
                            not isinstance(source, dict) or "path" in source):
                        source = uploaded_path(source, uploads)
                    image = stored_image(source)
                except Exception as exc:  # one bad image must not stop the others
                    report.skipped.append((label, str(exc) or type(exc).__name__))
                    continue
                with self._lock:  # another handler may have filled it while this one decoded
                    full = self._room(name)
                    if full is None:
                        self._classes[name].append(image)
                        self._version += 1
                        report.added += 1
            if full is not None:
                report.skipped.append((label, full))
        return report

    def delete_image(self, name: object, index: object) -> None:
        """Delete image `index` (0-based, in thumbnail order) of class `name`."""
        with self._lock:
            name = self._find(name)
            images = self._classes[name]
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                    or not 0 <= index < len(images):
                where = f"0 to {len(images) - 1}" if images else "none: it is empty"
                raise ValueError(f"class {name!r} has {len(images)} images (index {where}); "
                                 f"got index {quoted(index)}")
            del images[int(index)]
            self._version += 1

    def counts(self) -> dict[str, int]:
        """Images per class, in the order the classes were made."""
        with self._lock:
            return {n: len(imgs) for n, imgs in self._classes.items()}

    def total(self) -> int:
        with self._lock:
            return sum(len(imgs) for imgs in self._classes.values())

    @property
    def nbytes(self) -> int:
        """Memory the images take (at most MAX_BYTES)."""
        return self.total() * IMAGE_BYTES

    def baseline(self) -> float:
        """The accuracy of always answering the largest class (0 with no images)."""
        counts = self.counts().values()
        return max(counts, default=0) / max(sum(counts), 1)

    def thumbnails(self, name: object) -> list[tuple[np.ndarray, str]]:
        """(image, caption) pairs of class `name` for a gr.Gallery; captions count from 1."""
        with self._lock:
            images = list(self._classes[self._find(name)])
        return [(img, f"{i + 1}") for i, img in enumerate(images)]

    def training_problem(self) -> str | None:
        """Why `to_dataset` would refuse this set (what to add), or None when it is ready."""
        counts = self.counts()
        if len(counts) < MIN_CLASSES:
            return (f"make at least {MIN_CLASSES} classes to train (there "
                    f"{'is' if len(counts) == 1 else 'are'} {len(counts)})")
        few = [f"{n!r} ({c})" for n, c in counts.items() if c < MIN_PER_CLASS]
        if few:
            return (f"add at least {MIN_PER_CLASS} images to each class before training (one is "
                    f"kept aside to test on, one to validate); too few in {', '.join(few)}")
        return None

    def to_dataset(self, image_size: tuple[int, int] = (64, 64), color: str = "rgb",
                   test_share: float = 0.2, seed: int = 0) -> Dataset:
        """The set as a Dataset for training: images resized as `resize_plain` does, classes in
        name order (as folders.py orders a zip's folders, so the set and its `to_zip` give the
        same classes), split stratified with at least 1 test image per class; the training
        path takes its validation images from the training ones."""
        h, w = _checked_size(image_size)
        if color not in ("grayscale", "rgb"):
            raise ValueError(f"color must be 'grayscale' or 'rgb', got {quoted(color)}")
        if isinstance(test_share, bool) or not isinstance(test_share, (int, float)) \
                or not 0 < test_share < 1:
            raise ValueError(f"test_share must be above 0 and below 1 (e.g. 0.2), "
                             f"got {quoted(test_share)}")
        with self._lock:
            problem = self.training_problem()
            classes = {n: list(imgs) for n, imgs in sorted(self._classes.items())}
        if problem:
            raise ValueError(problem)
        c = 1 if color == "grayscale" else 3
        x = np.stack([resize_plain(Image.fromarray(img), h, w, c).reshape(h, w, c)
                      for images in classes.values() for img in images])
        y = np.repeat(np.arange(len(classes), dtype=np.int64), [len(i) for i in classes.values()])
        train, test = stratified_split(y, test_share, np.random.default_rng(seed))
        notes = [f"made in this browser tab, resized to {h}x{w} {'grey' if c == 1 else 'colour'}"]
        if len(test) < 50:
            notes.append(f"only {len(test)} test images: each is {1 / len(test):.0%} of the test "
                         "accuracy; add more images for a steadier measure")
        return Dataset(key="folder", title="Your own classes", class_names=list(classes),
                       x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test],
                       source="your own classes", style="plain", notes=notes)

    def to_zip(self, path: str | Path) -> Path:
        """Write the set as a zip of class folders of PNGs (class/0001.png, ..., an empty class
        as an empty folder) that `from_zip` and folders.load_image_zip read back."""
        path = Path(path)
        with self._lock:
            classes = {n: list(imgs) for n, imgs in self._classes.items()}
        if not any(classes.values()):
            raise ValueError("nothing to download yet: add images to a class first")
        try:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed
                for name, images in classes.items():
                    zf.mkdir(name)
                    for i, img in enumerate(images, 1):
                        png = io.BytesIO()
                        Image.fromarray(img).save(png, "PNG")
                        zf.writestr(f"{name}/{i:04d}.png", png.getvalue())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_zip(cls, zip_path: str | Path, work_dir: str | Path) -> tuple["ClassSet", AddReport]:
        """A set from an uploaded zip of class folders (a `to_zip` download, or any such zip),
        checked and extracted by folders.extract_zip into work_dir, which is removed after.
        Class folders must be 1 to MAX_CLASSES with valid names; files that are not images, and
        images past the limits, are skipped and reported."""
        zip_path, work_dir = Path(zip_path), Path(work_dir)
        try:
            root = extract_zip(zip_path, work_dir, max_files=MAX_ZIP_ENTRIES,
                               max_total_bytes=MAX_ZIP_BYTES)
            return cls._read_folders(root, zip_path.name)
        except ValueError as exc:  # messages name places in the zip, not the server's folders
            raise ValueError(str(exc).replace(str(work_dir), zip_path.name)) from None
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    @classmethod
    def _read_folders(cls, root: Path, zip_name: str) -> tuple["ClassSet", AddReport]:
        folders = sorted((p for p in root.iterdir() if p.is_dir() and not ignored([p.name])),
                         key=lambda p: p.name)
        if not 1 <= len(folders) <= MAX_CLASSES:
            raise ValueError(f"{zip_name} has {len(folders)} class folders; it needs 1 to "
                             f"{MAX_CLASSES}, one folder of images per class")
        loose = [p for p in root.iterdir() if p.is_file() and not ignored([p.name])]
        new = cls()
        report = AddReport(skipped=[(repr(p.name), "not inside a class folder") for p in loose])
        for folder in folders:
            name = new.add_class(folder.name)
            files = files_in(folder)
            part = new._add(name, [(repr(f.relative_to(root).as_posix()), f) for f in files], None)
            report.added += part.added
            report.skipped += part.skipped
        return new, report


def _checked_size(image_size) -> tuple[int, int]:
    """(height, width) as ints from 8 to STORED_SIDE; ValueError otherwise."""
    if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2 and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and 8 <= d <= STORED_SIDE
            for d in image_size)):
        raise ValueError(f"image_size must be (height, width), each from 8 to {STORED_SIDE} "
                         f"(images are kept at {STORED_SIDE}x{STORED_SIDE}); "
                         f"got {quoted(image_size)}")
    return int(image_size[0]), int(image_size[1])
