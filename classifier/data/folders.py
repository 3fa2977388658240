"""Any folder of images, or an uploaded zip, with one sub-folder per class (2 to 100 classes).

numpy, Pillow and the standard library only. Zips are checked member by member (paths, symlinks,
declared sizes) before anything is written, so a zip bomb or a `../` entry never touches the disk.
Images are opened and converted by preprocess.py (format whitelist, bomb guard, EXIF orientation,
transparency on white, 16-bit scaling), the same way as a user's upload.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.dataset import Dataset
from ..images.errors import ImageTooLarge, NotAnImage
from ..images.preprocess import IMAGE_FORMATS, open_image, resize_plain

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
MAX_CLASSES = 100
RATIO_CHECK_BYTES = 1_000_000  # compression ratios are only judged on members larger than this
NAMES_SHOWN = 3  # skipped files named per reason in a report's summary
ZIP_IMAGE_CHOICES = {  # what an uploaded zip's images become: label -> (height, width), colour
    "28x28 grey (like MNIST; fastest)": ((28, 28), "grayscale"),
    "28x28 colour": ((28, 28), "rgb"),
    "64x64 colour (photos keep more detail)": ((64, 64), "rgb"),
}


@dataclass
class FolderReport:
    """Files that were skipped while loading a folder, and why; shown to users."""

    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    loaded: int = 0   # images read
    colour: int = 0   # of those, images stored in colour

    def summary(self) -> str:
        """One line naming the first few files of each reason, e.g.
        'skipped 3 files: 2 not images (a/notes.txt, b/x.doc), 1 unreadable (b/broken.png)'."""
        if not self.skipped:
            return "no files skipped"
        counts = Counter(reason for _, reason in self.skipped).most_common()
        parts = ", ".join(f"{n} {'not images' if n > 1 and r == 'not an image' else r} "
                          f"({self._names(r)})" for r, n in counts)
        return f"skipped {len(self.skipped)} file{'s' * (len(self.skipped) > 1)}: {parts}"

    def _names(self, reason: str) -> str:
        names = [name for name, r in self.skipped if r == reason]
        more = len(names) - NAMES_SHOWN
        return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")

    def size_note(self, image_size: tuple[int, int], color: str) -> str:
        """What the images became, and the colour a grey conversion dropped."""
        note = f"images resized to {image_size[0]}x{image_size[1]} " + (
            "grey" if color == "grayscale" else "colour")
        if color == "grayscale" and self.colour:
            note += f"; {self.colour:,} of {self.loaded:,} were in colour"
        return note


def ignored(parts: list[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _member_parts(info: zipfile.ZipInfo, zip_name: str) -> list[str]:
    """The member's path components; ValueError if it could escape the target folder."""
    name = info.filename.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\0" in name:
        raise ValueError(f"{zip_name} has an unsafe entry {info.filename!r} (absolute path or "
                         "'..'); zip the class folders themselves, with relative paths")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ValueError(f"{zip_name} has a symbolic link {info.filename!r}; "
                         "zip real files instead")
    return parts


def _check_limits(members: list[zipfile.ZipInfo], zip_name: str, max_files: int,
                  max_total_bytes: int, max_ratio: float) -> None:
    """Refuse the zip from its declared sizes, before extraction."""
    if len(members) > max_files:
        raise ValueError(f"{zip_name} has {len(members):,} entries; at most {max_files:,} are "
                         "allowed, use fewer images per class")
    total = sum(m.file_size for m in members)
    if total > max_total_bytes:
        raise ValueError(f"{zip_name} would unpack to {total:,} bytes; at most {max_total_bytes:,} "
                         "are allowed, use fewer or smaller images")
    for m in members:
        if m.file_size > RATIO_CHECK_BYTES and m.file_size > max_ratio * max(m.compress_size, 1):
            raise ValueError(f"{zip_name}: {m.filename!r} claims a compression ratio over "
                             f"{max_ratio:g} ({m.compress_size:,} -> {m.file_size:,} bytes); "
                             "refusing a possible zip bomb")


def _write_members(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, list[str]]],
                   target: Path) -> None:
    """Extract the checked members under target, counting the bytes each really unpacks to;
    on any failure remove everything written."""
    created: list[Path] = []
    try:
        for info, parts in members:
            dest = target.joinpath(*parts)
            folders = [*reversed(dest.parents[:len(parts) - 1]), *([dest] if info.is_dir() else [])]
            for folder in (f for f in folders if not f.exists()):
                folder.mkdir()
                created.append(folder)
            if info.is_dir():
                continue
            with zf.open(info) as src, open(dest, "xb") as out:  # "x": never overwrite a file
                created.append(dest)
                written = 0
                while chunk := src.read(1 << 20):
                    written += out.write(chunk)
                    if written > info.file_size:
                        raise ValueError(f"{info.filename!r} is larger than its header declares")
    except BaseException:
        for path in reversed(created):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        raise


def _holding_dir(target: Path, members: list[tuple[zipfile.ZipInfo, list[str]]]) -> Path:
    """target, or its single top-level folder when that folder holds the class folders."""
    tops = {parts[0] for info, parts in members if len(parts) > 1 or info.is_dir()}
    nested = any(len(parts) > 2 or (len(parts) == 2 and info.is_dir()) for info, parts in members)
    return target / tops.pop() if len(tops) == 1 and nested else target


def zip_file_count(zip_path: str | Path) -> int:
    """How many files a zip of class folders holds (what `extract_zip` would write), read from
    its directory without extracting anything; 0 for a zip that cannot be read."""
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return sum(1 for info in zf.infolist()
                       if (parts := _member_parts(info, zip_path.name)) and not ignored(parts))
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def extract_zip(zip_path: str | Path, target_dir: str | Path, *, max_files: int = 20_000,
                max_total_bytes: int = 500_000_000, max_ratio: float = 200) -> Path:
    """Safely extract a zip of class folders; return the folder that holds the class folders."""
    zip_path, target = Path(zip_path), Path(target_dir)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(f"{zip_path.name} is not a readable zip file ({e})") from None
    with zf:
        members = [(info, _member_parts(info, zip_path.name)) for info in zf.infolist()]
        members = [(info, parts) for info, parts in members if parts and not ignored(parts)]
        _check_limits([info for info, _ in members], zip_path.name,
                      max_files, max_total_bytes, max_ratio)
        if not members:
            raise ValueError(f"{zip_path.name} holds no files; zip one folder of images per class")
        target.mkdir(parents=True, exist_ok=True)
        try:
            _write_members(zf, members, target)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError,
                ValueError) as e:
            raise ValueError(f"{zip_path.name} could not be extracted: {e}") from None
    return _holding_dir(target, members)


def _class_folders(root: Path) -> list[Path]:
    """Sorted visible sub-folders of root; ValueError unless there are 2 to MAX_CLASSES."""
    classes = sorted((p for p in root.iterdir() if p.is_dir() and not ignored([p.name])),
                     key=lambda p: p.name)
    if len(classes) < 2:
        found = f"1 class folder ({classes[0].name!r})" if classes else f"0 class folders in {root}"
        raise ValueError(f"found {found}; need at least 2, one sub-folder per class")
    if len(classes) > MAX_CLASSES:
        raise ValueError(f"found {len(classes)} class folders in {root}; at most {MAX_CLASSES} "
                         "are supported, merge or remove some")
    return classes


def files_in(folder: Path) -> list[Path]:
    """Every visible file under folder, nested folders included, in a stable order."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not ignored([d]))
        found += [Path(here) / f for f in sorted(files) if not f.startswith(".")]
    return found


def _read_image(path: Path, size: tuple[int, int], color: str) -> tuple[np.ndarray, bool]:
    """One image file resized to size (H, W): uint8 (H, W, 1) or (H, W, 3), and whether the
    file was in colour; ValueError if bad."""
    img = open_image(path, draft_size=(max(size),) * 2)  # big JPEGs decode at a reduced scale
    channels = 1 if color == "grayscale" else 3
    in_colour = img.mode not in ("1", "L", "LA", "I", "I;16", "F")
    return resize_plain(img, *size, channels).reshape(*size, channels), in_colour


def _skip_reason(path: Path, error: BaseException) -> str:
    """'too large', 'not an image' (no image format, no image suffix), else 'unreadable'."""
    if isinstance(error, ImageTooLarge):
        return "too large"
    if isinstance(error, NotAnImage) and path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image"
    return "unreadable"


def _load_class(folder: Path, root: Path, size: tuple[int, int], color: str,
                max_per_class: int, rng: np.random.Generator,
                report: FolderReport) -> tuple[list[np.ndarray], str | None]:
    """Images of one class (a random max_per_class when there are more) and a note if capped."""
    files = files_in(folder)
    capped = len(files) > max_per_class
    order = rng.permutation(len(files)) if capped else range(len(files))
    images: list[np.ndarray] = []
    for i in order:
        if len(images) == max_per_class:
            break
        try:
            image, in_colour = _read_image(files[i], size, color)
        except Exception as e:  # one bad file must not stop the others
            reason = _skip_reason(files[i], e)
            report.skipped.append((files[i].relative_to(root).as_posix(), reason))
            continue
        images.append(image)
        report.loaded += 1
        report.colour += in_colour
    note = (f"'{folder.name}': used a random {max_per_class:,} of {len(files):,} files"
            if capped and len(images) == max_per_class else None)
    return images, note


def stratified_split(y: np.ndarray, test_share: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (train, test) indices with test_share of each class (at least 1; none for a
    share of 0) in test."""
    test = [np.zeros(0, np.int64)]
    for c in np.unique(y) if test_share > 0 else []:
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:min(max(int(round(len(idx) * test_share)), 1), len(idx) - 1)])
    test_idx = np.concatenate(test)
    mask = np.ones(len(y), dtype=bool)
    mask[test_idx] = False
    return rng.permutation(np.flatnonzero(mask)), rng.permutation(test_idx)


def _check_args(root: Path, image_size: tuple[int, int], color: str, test_share: float,
                max_per_class: int) -> None:
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "does not exist"
        raise ValueError(f"{root} {problem}; give a folder with one sub-folder per class")
    if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2
            and all(isinstance(d, (int, np.integer)) and d > 0 for d in image_size)):
        raise ValueError(f"image_size must be two positive ints (height, width), "
                         f"got {image_size!r}")
    if color not in ("grayscale", "rgb"):
        raise ValueError(f"color must be 'grayscale' or 'rgb', got {color!r}")
    if not 0 <= test_share < 1:
        raise ValueError(f"test_share must be at least 0 and below 1 (e.g. 0.2), got {test_share}")
    if max_per_class < 2:
        raise ValueError(f"max_per_class must be at least 2, got {max_per_class}")


def _check_counts(names: list[str], per_class: list[list[np.ndarray]]) -> None:
    empty = [repr(n) for n, imgs in zip(names, per_class) if not imgs]
    if empty:
        raise ValueError(f"no usable images in class folder(s) {', '.join(empty)}; add images "
                         f"({', '.join(IMAGE_FORMATS)}) or remove the folder")
    single = [repr(n) for n, imgs in zip(names, per_class) if len(imgs) == 1]
    if single:
        raise ValueError(f"class {', '.join(single)} has only 1 usable image; need at least 2 per "
                         "class (one to train on, one to test on)")


def load_image_folder(root: str | Path, *, image_size: tuple[int, int] = (28, 28),
                      color: str = "grayscale", test_share: float = 0.2, seed: int = 0,
                      max_per_class: int = 5000,
                      title: str | None = None) -> tuple[Dataset, FolderReport]:
    """Load a folder with one sub-folder of images per class, split stratified into train/test."""
    root = Path(root)
    _check_args(root, image_size, color, test_share, max_per_class)
    image_size = (int(image_size[0]), int(image_size[1]))
    classes = _class_folders(root)
    rng, report, notes, per_class = np.random.default_rng(seed), FolderReport(), [], []
    for folder in classes:
        images, note = _load_class(folder, root, image_size, color, max_per_class, rng, report)
        per_class.append(images)
        notes += [note] if note else []
    names = [c.name for c in classes]
    _check_counts(names, per_class)
    x = np.stack([img for images in per_class for img in images])
    y = np.repeat(np.arange(len(names), dtype=np.int64), [len(i) for i in per_class])
    train, test = stratified_split(y, test_share, rng)
    notes += [report.size_note(image_size, color)] + ([report.summary()] if report.skipped else [])
    dataset = Dataset(key="folder", title=title or root.resolve().name, class_names=names,
                      x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test],
                      source=f"folder {root}", style="plain", notes=notes)
    return dataset, report


def load_image_zip(zip_path: str | Path, work_dir: str | Path,
                   **kwargs) -> tuple[Dataset, FolderReport]:
    """Extract an uploaded zip of class folders into work_dir and load it like a folder.

    The extracted files are removed once loaded (or refused): the dataset lives in memory, and
    messages name places inside the zip, never the server's folders."""
    zip_path, work_dir = Path(zip_path), Path(work_dir)
    kwargs.setdefault("title", zip_path.stem)
    try:
        dataset, report = load_image_folder(extract_zip(zip_path, work_dir), **kwargs)
    except ValueError as exc:
        raise ValueError(str(exc).replace(str(work_dir), zip_path.name)) from None
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return dataclasses.replace(dataset, source=f"uploaded zip {zip_path.name}"), report
