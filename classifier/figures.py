"""Pictures and tables the app shows: sample grids, class counts, curves, scores, confusion.

Matplotlib is used through `Figure` objects (no pyplot), which is safe from many threads.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from .data import Dataset


def upscale(image: np.ndarray, size: int = 140) -> np.ndarray:
    """Nearest-neighbour upscale so 28x28 pixels stay sharp; (H, W, 1) becomes (H, W)."""
    img = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    factor = max(1, size // max(img.shape[:2]))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def sample_indices(dataset: Dataset, k: int = 25, class_index: int | None = None,
                   seed: int = 0) -> np.ndarray:
    """k random training-image indices, all of one class if `class_index` is given."""
    pool = np.arange(len(dataset.y_train))
    if class_index is not None:
        pool = np.flatnonzero(dataset.y_train == class_index)
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=min(k, len(pool)), replace=False)


def sample_grid(dataset: Dataset, indices: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(image, class name) pairs for a gallery."""
    return [(upscale(dataset.x_train[i]), dataset.class_names[dataset.y_train[i]]) for i in indices]


def class_counts(dataset: Dataset) -> tuple[pd.DataFrame, float]:
    """Training images per class, and the accuracy of always answering the largest class."""
    counts = dataset.class_counts("train")
    frame = pd.DataFrame({"class": list(counts), "images": list(counts.values())})
    baseline = max(counts.values()) / max(sum(counts.values()), 1)
    return frame, baseline


def pixel_figure(image: np.ndarray, title: str):
    """One image enlarged with a colorbar of its pixel values (0-255)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.add_subplot()
    img = image[..., 0] if image.shape[-1] == 1 else image
    shown = ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255,
                      interpolation="nearest")
    if img.ndim == 2:
        fig.colorbar(shown, ax=ax, label="pixel value")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def augment_preview(image: np.ndarray, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """What RandomFlip("horizontal") + RandomRotation(0.2) can do to one image (up to +-72 deg)."""
    img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    rng = np.random.default_rng(seed)
    out = [(upscale(np.asarray(img)), "original"),
           (upscale(np.asarray(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))), "flipped")]
    for _ in range(3):
        angle = float(rng.uniform(-72, 72))
        flipped = rng.random() < 0.5
        pic = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flipped else img
        rotated = pic.rotate(angle, resample=Image.Resampling.BILINEAR)
        out.append((upscale(np.asarray(rotated)), f"{'flipped, ' if flipped else ''}{angle:+.0f} deg"))
    return out


def curve_frames(points: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy and loss curves (training every few batches, validation every epoch) as long
    tables for line plots: columns epoch (fractional), value, series."""
    rows = []
    for p in points:
        if p["kind"] == "batch":
            x = p["epoch"] - 1 + p["step"] / p["steps"]
            rows += [(x, p.get("accuracy"), "training", "accuracy"), (x, p.get("loss"), "training", "loss")]
        elif "val_accuracy" in p:
            rows += [(float(p["epoch"]), p["val_accuracy"], "validation", "accuracy"),
                     (float(p["epoch"]), p["val_loss"], "validation", "loss")]
    if rows and not any(r[2] == "validation" for r in rows):
        # a placeholder with no value, so a live plot knows both series from its first frame
        # (Gradio 6.31's LinePlot fixes its colour domain when it is first drawn)
        rows += [(rows[0][0], None, "validation", "accuracy"), (rows[0][0], None, "validation", "loss")]
    frame = pd.DataFrame(rows, columns=["epoch", "value", "series", "metric"])
    frame = frame[frame.value.notna() | (frame.series == "validation")]
    acc = frame[frame.metric == "accuracy"].drop(columns="metric").rename(columns={"value": "accuracy"})
    loss = frame[frame.metric == "loss"].drop(columns="metric").rename(columns={"value": "loss"})
    return acc.reset_index(drop=True), loss.reset_index(drop=True)


def probability_frame(probabilities: dict[str, float]) -> pd.DataFrame:
    """Every class's probability, the top one marked, for a bar chart."""
    top = max(probabilities, key=probabilities.get)
    return pd.DataFrame({"class": list(probabilities),
                         "probability": [round(p, 4) for p in probabilities.values()],
                         "answer": ["top answer" if c == top else "other" for c in probabilities]})


def confusion_figure(cm: np.ndarray, class_names: list[str]):
    """Confusion matrix with class names: rows true, columns predicted, counts in the cells."""
    from matplotlib.figure import Figure
    n = len(class_names)
    fig = Figure(figsize=(min(2.5 + 0.6 * n, 12), min(2 + 0.55 * n, 11)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_title("Confusion matrix: rows true, columns predicted")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        limit = cm.max() / 2
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > limit else "black")
    return fig


def prediction_grid_figure(images: np.ndarray, y_true, y_pred, confidence, class_names,
                           columns: int = 5):
    """Test images with 'predicted (confidence) / true', green when right, red when wrong."""
    from matplotlib.figure import Figure
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig = Figure(figsize=(2.1 * columns, 2.3 * rows + 0.4), layout="constrained")
    fig.suptitle("Test images: predicted (confidence), true label. Green right, red wrong")
    for k, img in enumerate(images):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
        right = y_true[k] == y_pred[k]
        ax.set_title(f"{class_names[y_pred[k]]} {confidence[k]:.0%}\n(true: {class_names[y_true[k]]})",
                     fontsize=8, color="tab:green" if right else "tab:red")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
