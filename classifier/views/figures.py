"""Pictures and tables the app shows: sample grids, class counts, curves, scores, confusion,
per-class accuracy by epoch, the test images of one confusion pair.

Matplotlib is used through `Figure` objects (no pyplot), which is safe from many threads.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from ..core.dataset import Dataset
from ..images.preprocess import upscale


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


DASH = 0.08  # epochs: the width of a lone validation point's dash


def curve_frames(points: list[dict], x: str = "epoch") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy and loss curves (training every few batches, validation every epoch) as long
    tables for line plots: columns `x` ("epoch", fractional, or "seconds" of training), value,
    series."""
    if x not in ("epoch", "seconds"):
        raise ValueError(f"x must be 'epoch' or 'seconds', got {x!r}")
    rows = []
    for p in points:
        if p["kind"] == "batch":
            at = p["epoch"] - 1 + p["step"] / p["steps"] if x == "epoch" else p["seconds"]
            rows += [(at, p.get("accuracy"), "training", "accuracy"), (at, p.get("loss"), "training", "loss")]
        elif "val_accuracy" in p:  # an epoch cut short is drawn where it was cut
            at = (p["epoch"] - 1 + p.get("step", 1) / p.get("steps", 1) if x == "epoch"
                  else p["seconds"])
            rows += [(at, p["val_accuracy"], "validation", "accuracy"),
                     (at, p["val_loss"], "validation", "loss")]
    validation = [r for r in rows if r[2] == "validation"]
    if len(validation) == 2:  # one epoch: one point, which a line plot does not draw; a short
        end = validation[0][0]  # level dash ending at it shows the value (no markers in LinePlot)
        width = DASH if x == "epoch" else DASH * end
        rows += [(end - width, v, "validation", metric) for _, v, _, metric in validation]
    if rows and not any(r[2] == "validation" for r in rows):
        # a placeholder with no value, so a live plot knows both series from its first frame
        # (Gradio 6.31's LinePlot fixes its colour domain when it is first drawn)
        rows += [(rows[0][0], None, "validation", "accuracy"), (rows[0][0], None, "validation", "loss")]
    frame = pd.DataFrame(rows, columns=[x, "value", "series", "metric"])
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


def _message_figure(text: str, size: tuple[float, float] = (5, 2)):
    """A figure that only says `text` (a placeholder before there is anything to draw)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=size)
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="0.35")
    return fig


def per_class_figure(points: list[dict], class_names: list[str], epochs: int):
    """Validation accuracy of each class (rows) after each epoch (columns), red bad to green good;
    epochs not trained yet stay blank. Redrawn once an epoch."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    done = {p["epoch"]: p["val_per_class"] for p in points if p.get("val_per_class") is not None}
    if not done:
        return _message_figure("Per-class validation accuracy appears here after each epoch\n"
                               "(it needs a validation split).")
    n, columns = len(class_names), max(int(epochs or 0), *done)
    grid = np.full((n, columns), np.nan)
    for epoch, values in done.items():
        values = np.asarray(values, float)[:n]
        grid[:len(values), epoch - 1] = values
    fig = Figure(figsize=(5, 0.9 + 0.24 * n), layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto",
                      interpolation="nearest", extent=(0.5, columns + 0.5, n - 0.5, -0.5))
    ax.set_facecolor("0.95")
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True, min_n_ticks=1))  # 1 epoch: "1"
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_title("Validation accuracy per class (%)", fontsize=9)
    fig.colorbar(shown, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=7)
    if columns <= 15:
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(j + 1, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value - 0.5) > 0.35 else "black", in_layout=False)
    return fig


def confusion_frame(cm: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """Confusion matrix as a table: column 0 the true class, column j + 1 predicted class j."""
    cm = np.asarray(cm)
    if cm.shape != (len(class_names), len(class_names)):
        raise ValueError(f"a confusion matrix for {len(class_names)} classes must be "
                         f"{len(class_names)}x{len(class_names)}, got shape {cm.shape}")
    frame = pd.DataFrame(cm.astype(np.int64), columns=list(class_names))
    frame.insert(0, "true \\ predicted", list(class_names))
    return frame


def confusion_styler(cm: np.ndarray, class_names: list[str]):
    """`confusion_frame` shaded for a non-interactive gr.Dataframe: right answers green by the
    share of their class, mistakes red by count (the largest mistake darkest)."""
    cm = np.asarray(cm)
    frame = confusion_frame(cm, class_names)
    totals = np.maximum(cm.sum(axis=1), 1)
    worst = max(int((cm - np.diag(np.diag(cm))).max(initial=0)), 1)
    styles = np.full(frame.shape, "", dtype=object)
    for (i, j), count in np.ndenumerate(cm):
        if i == j and count:
            alpha = 0.15 + 0.6 * count / totals[i]
            styles[i, j + 1] = f"background-color: rgba(34, 160, 70, {alpha:.2f})"
        elif count:
            alpha = 0.1 + 0.7 * count / worst
            styles[i, j + 1] = f"background-color: rgba(220, 40, 40, {alpha:.2f})"
    styles[:, 0] = "font-weight: bold"
    return frame.style.apply(lambda _: pd.DataFrame(styles, frame.index, frame.columns), axis=None)


def pair_figure(images: np.ndarray, probabilities: np.ndarray, class_names: list[str],
                true_name: str, pred_name: str, max_images: int = 12):
    """Test images of one (true, predicted) pair, each titled with its confidence and with every
    class's probability below it (predicted class red, or green when right; true class blue)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    if len(images) != len(probabilities):
        raise ValueError(f"got {len(images)} images but {len(probabilities)} rows of probabilities")
    if len(images) == 0:
        return _message_figure(f"No test image was {true_name} predicted as {pred_name}.", (6, 1.2))
    shown, n = min(len(images), max_images), len(class_names)
    columns, pred, true = min(shown, 6), class_names.index(pred_name), class_names.index(true_name)
    colours = ["0.7"] * n
    colours[true] = "tab:blue"
    colours[pred] = "tab:green" if pred == true else "tab:red"
    # one axes for everything (a figure of many small axes draws several times slower);
    # in data units an image is 1 x 1, its bars (0 to 100%) 1 wide below it
    step, bar, height = 1.25, 0.11, 1.45 + 0.11 * n
    rows = int(np.ceil(shown / columns))
    fig = Figure(figsize=(max(5.5, 1.2 + 1.25 * step * columns), 0.6 + 1.25 * height * rows),
                 layout="constrained")
    ax = fig.add_subplot()
    ticks = []
    for k in range(shown):
        x, y = step * (k % columns), height * (k // columns)
        img = images[k][..., 0] if images[k].shape[-1] == 1 else images[k]
        ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest",
                  extent=(x, x + 1, y + 1, y))
        ax.text(x + 0.5, y - 0.05, f"{probabilities[k].max():.0%}", ha="center", va="bottom",
                fontsize=9, in_layout=False)
        ax.barh(y + 1.1 + bar * (np.arange(n) + 0.5), probabilities[k], 0.8 * bar, x, color=colours)
        ax.add_patch(Rectangle((x, y + 1.1), 1, bar * n, fill=False, lw=0.5, ec="0.6"))
        ticks += list(y + 1.1 + bar * (np.arange(n) + 0.5)) if k % columns == 0 else []
    ax.set_yticks(ticks, list(class_names) * rows, fontsize=7)
    ax.set(xticks=[], xlim=(-0.05, step * columns - 0.2), ylim=(height * rows - 0.2, -0.3))
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    key = f"{pred_name} green" if pred == true else f"{pred_name} red, {true_name} blue"
    fig.suptitle(f"True {true_name}, predicted {pred_name}: {shown} of {len(images)} test images, "
                 f"most confident first\nBars: each class's probability, 0 to 100% ({key})",
                 fontsize=9)
    return fig
