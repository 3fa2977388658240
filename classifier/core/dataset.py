"""The one shape every dataset loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# How a user's image is turned into model input for this dataset (see preprocess.py):
# "fashion": Fashion-MNIST's recipe (trim, longest edge to 28, centre, light background inverted)
# "mnist":   MNIST's recipe (white on black, fit 20x20 box, centre by centre of mass in 28x28)
# "plain":   resize to the image shape, converting to grayscale or RGB
STYLES = ("fashion", "mnist", "plain")


@dataclass
class Dataset:
    """Images as uint8 arrays (N, H, W, C), labels as int64 (N,), plus where they came from."""

    key: str
    title: str
    class_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    style: str = "plain"
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        for name in ("x_train", "x_test"):
            x = getattr(self, name)
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{name} must be uint8 (N, H, W, C), got {x.dtype} {x.shape}")

    @property
    def train_images(self) -> int:
        """How many training images it has (a validation split is taken from them)."""
        return len(self.x_train)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self, split: str = "train") -> dict[str, int]:
        """Images per class in the 'train', 'val' or 'test' split."""
        y = {"train": self.y_train, "val": self.y_val, "test": self.y_test}[split]
        counts = np.bincount(y, minlength=self.num_classes) if y is not None else []
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def summary(self) -> str:
        """One line a user can read: size and source."""
        parts = [f"{len(self.x_train):,} train"]
        if self.x_val is not None:
            parts.append(f"{len(self.x_val):,} validation")
        parts.append(f"{len(self.x_test):,} test")
        h, w, c = self.image_shape
        text = f"{self.title}: {' / '.join(parts)}, {h}x{w}x{c}, {self.num_classes} classes, from {self.source}"
        return text + "".join(f" ({n})" for n in self.notes)

    def split_validation(self, share: float, seed: int = 0):
        """Return (x_train, y_train, x_val, y_val): the dataset's own validation set if it has
        one, else a stratified `share` of train held out (never the test set)."""
        if self.x_val is not None:
            return self.x_train, self.y_train, self.x_val, self.y_val
        if not 0 <= share < 1:
            raise ValueError(f"validation share must be in [0, 1), got {share}")
        if share == 0:
            return self.x_train, self.y_train, self.x_train[:0], self.y_train[:0]
        rng = np.random.default_rng(seed)
        val_idx = []
        for c in range(self.num_classes):
            idx = np.flatnonzero(self.y_train == c)
            n = int(round(len(idx) * share))
            if len(idx) > 1:
                n = min(max(n, 1), len(idx) - 1)
            else:
                n = 0
            val_idx.append(rng.choice(idx, size=n, replace=False))
        val_idx = np.sort(np.concatenate(val_idx)).astype(np.int64)
        mask = np.ones(len(self.y_train), dtype=bool)
        mask[val_idx] = False
        return self.x_train[mask], self.y_train[mask], self.x_train[val_idx], self.y_train[val_idx]

    def subset(self, n_train: int, n_test: int | None = None) -> "Dataset":
        """A copy with the first n_train training and n_test (default n_train // 5) test images."""
        n_test = n_test if n_test is not None else max(n_train // 5, 1)
        return replace(self, x_train=self.x_train[:n_train], y_train=self.y_train[:n_train],
                       x_test=self.x_test[:n_test], y_test=self.y_test[:n_test],
                       notes=[*self.notes, f"the first {n_train:,} train / {n_test:,} test images"])
