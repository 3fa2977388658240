"""A map of the test set: what a trained model "sees", as seen by its last layer.

The input of the model's last Dense layer (its "scores" layer) holds the features the answer is
read from; projected to 2-D, one colour per class, images of a class that cluster apart show
features the last layer can separate. The app draws the map as a picture and turns a clicked pixel
back into a test image (`MapPicture.nearest`), since gr.Plot reports no clicks.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..core.dataset import Dataset

NEIGHBOURS = 10     # t-SNE cannot place a new point: it goes to the mean of this many neighbours
TSNE_DIMS = 50      # t-SNE runs on the top principal components: the usual speed-up
# Petroff's 10 colours (matplotlib's "petroff10"), chosen to stay apart under colour blindness;
# Okabe-Ito has only 8. Past 10 classes the colours repeat with another marker shape.
PALETTE = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300",
           "#b9ac70", "#717581", "#92dadd")
MARKERS = ("o", "s", "^", "D", "v", "P")

_SUBMODELS = weakref.WeakKeyDictionary()  # model -> (Model(inputs, [features, out]), logits)


def _submodel(model):
    """A model giving the last Dense layer's input and the model's output in one pass, and
    whether that output is logits; cached, sharing weights, so it follows further training."""
    if model not in _SUBMODELS:
        import keras

        from ..inference.saliency import (
            unwrap,  # a probability_model wrapper -> the trained model
        )
        from ..models.registry import outputs_logits
        inner = unwrap(model)
        dense = [layer for layer in inner.layers if isinstance(layer, keras.layers.Dense)]
        if not dense:
            raise ValueError(f"model {inner.name!r} has no Dense layer whose input to map")
        sub = keras.Model(inner.inputs, [dense[-1].input, inner.outputs[0]])
        _SUBMODELS[model] = sub, outputs_logits(inner)
    return _SUBMODELS[model]


def _features_and_probabilities(model, x: np.ndarray, batch_size: int = 500):
    """(features (N, D), probabilities (N, C)) from one forward pass, in chunks."""
    sub, logits = _submodel(model)
    pairs = [sub.predict_on_batch(x[i:i + batch_size].astype(np.float32))
             for i in range(0, len(x), batch_size)]
    features = np.concatenate([np.asarray(f) for f, _ in pairs]).astype(np.float32)
    scores = np.concatenate([np.asarray(s) for _, s in pairs]).astype(np.float32)
    if logits:  # softmax, as probability_model adds it
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
    return features, scores


def penultimate_features(model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The input of the model's last Dense layer for images `x`: (N, D) float32."""
    return _features_and_probabilities(model, x, batch_size)[0]


def _neighbours(queries: np.ndarray, points: np.ndarray, k: int) -> np.ndarray:
    """Indices (M, k) of each query's k nearest points (Euclidean), in chunks to bound memory."""
    points = points.astype(np.float64)
    norms = (points ** 2).sum(axis=1)
    out = []
    for start in range(0, len(queries), 512):
        d = norms[None, :] - 2 * queries[start:start + 512].astype(np.float64) @ points.T
        near = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, near, axis=1), axis=1, kind="stable")
        out.append(np.take_along_axis(near, order, axis=1))
    return np.concatenate(out)


@dataclass
class TestMap:
    """Test images placed in 2-D by their features, with the model's answers."""
    __test__ = False  # not a pytest class, whatever its name
    points: np.ndarray        # (N, 2) map coordinates
    indices: np.ndarray       # (N,) into the dataset's test set
    labels: np.ndarray        # (N,) true classes
    predicted: np.ndarray     # (N,) the model's answers
    confidence: np.ndarray    # (N,) its probability for that answer
    method: str               # "PCA" or "t-SNE"
    explained: np.ndarray | None  # PCA: share of the variance along each axis
    features: np.ndarray      # (N, D) what was projected (t-SNE places new points by them)
    mean: np.ndarray          # (D,) the features' mean
    components: np.ndarray    # (2, D) PCA's axes (t-SNE: the PCA axes it started from)
    note: str = ""            # for the UI: how a new image is placed

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean()) if len(self.labels) else float("nan")

    def project(self, features: np.ndarray) -> np.ndarray:
        """Map coordinates (M, 2) of new images' features: PCA's projection, or for t-SNE (which
        has no mapping for new points) the mean of their nearest test images' points."""
        features = np.atleast_2d(np.asarray(features, np.float32))
        if self.method == "PCA":
            return (features - self.mean) @ self.components.T
        near = _neighbours(features, self.features, min(NEIGHBOURS, len(self.features)))
        return self.points[near].mean(axis=1)


def sample_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n indices, sorted, with each class in proportion to its count (a stratified draw)."""
    if n >= len(labels):
        return np.arange(len(labels))
    order = np.random.default_rng(seed).permutation(len(labels))
    rank = np.empty(len(labels))  # each image's place in its class's shuffled order, 0 to 1
    for c in np.unique(labels):
        members = order[labels[order] == c]
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.sort(np.argsort(rank, kind="stable")[:n])


def _one_thread():
    """BLAS and OpenMP on one thread: on 2 busy cores (training, a benchmark) their thread pools
    spin against each other: the SVD of 2,000 x 864 features took 4-15 s instead of 0.45 s, and
    t-SNE of 2,000 points 49 s instead of 8 s."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)


def pca(features: np.ndarray, k: int = 2):
    """(mean, components (k, D), explained shares (k,)) of the features; each component's
    largest loading is made positive, so the map does not flip between runs. Eigenvectors of
    the D x D covariance: the SVD's axes, 4x faster than the SVD of N x D features."""
    mean = features.mean(axis=0)
    centred = (features - mean).astype(np.float64)
    with _one_thread():
        variances, vectors = np.linalg.eigh(centred.T @ centred)
    top = np.argsort(variances)[::-1][:min(k, len(features) - 1)]
    vt = vectors[:, top].T
    vt *= np.where(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)] < 0, -1, 1)[:, None]
    total = float((centred ** 2).sum())
    shares = np.clip(variances[top], 0, None) / total if total else np.zeros(len(vt))
    return mean, vt.astype(np.float32), shares


def _tsne(reduced: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE
    perplexity = min(30.0, (len(reduced) - 1) / 3)
    with _one_thread():
        return TSNE(2, perplexity=perplexity, init="pca",
                    random_state=seed).fit_transform(reduced.astype(np.float32))


def test_map(model, dataset: Dataset, n: int = 2000, method: str = "pca", seed: int = 0) -> TestMap:
    """Map a stratified sample of min(n, test size) test images by the model's features.
    PCA takes a blink; t-SNE (method="tsne") separates clusters better but takes seconds, so
    the caller caches it. The same seed gives the same map."""
    tsne = method.lower().replace("-", "") == "tsne"
    if not tsne and method.lower() != "pca":
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if len(dataset.y_test) < 3:
        raise ValueError(f"a map needs at least 3 test images, {dataset.title} has "
                         f"{len(dataset.y_test)}")
    idx = sample_indices(dataset.y_test, n, seed)
    features, probs = _features_and_probabilities(model, dataset.x_test[idx])
    mean, components, shares = pca(features, TSNE_DIMS if tsne else 2)  # t-SNE's input too
    if len(components) < 2:
        raise ValueError(f"the model's last layer reads {features.shape[1]} feature: nothing "
                         "to map in 2-D")
    common = dict(indices=idx, labels=dataset.y_test[idx].astype(np.int64),
                  predicted=probs.argmax(axis=1), confidence=probs.max(axis=1),
                  features=features, mean=mean, components=components[:2])
    if not tsne:
        return TestMap((features - mean) @ components.T, method="PCA", explained=shares,
                       note="Your drawing is placed by the same projection.", **common)
    points = _tsne((features - mean) @ components.T, seed).astype(np.float32)
    return TestMap(points, method="t-SNE", explained=None, **common,
                   note=f"t-SNE cannot place new images: your drawing sits at the mean of its "
                        f"{NEIGHBOURS} nearest test images (by the model's features).")


test_map.__test__ = False  # pytest: a function, not a test, despite its name


def place_image(model, tmap: TestMap, image: np.ndarray) -> np.ndarray:
    """Map coordinates (2,) of one image (H, W, C) as the model sees it: where the star goes."""
    return tmap.project(penultimate_features(model, image[None]))[0]


def separation(tmap: TestMap) -> float:
    """Share of points whose nearest neighbour on the 2-D map has the same true class
    (about 1 / classes when the map mixes them, 1 when they are apart)."""
    from scipy.spatial import cKDTree
    if len(tmap.points) < 2:
        return float("nan")
    near = cKDTree(tmap.points).query(tmap.points, k=2)[1]
    other = np.where(near[:, 0] == np.arange(len(near)), near[:, 1], near[:, 0])  # not itself
    return float((tmap.labels[other] == tmap.labels).mean())


def describe_point(tmap: TestMap, i: int, class_names: list[str]) -> str:
    """One line on map point i, e.g. 'Test image 1234: a Sneaker, answered Sandal (71%) ✗'."""
    true, pred = class_names[tmap.labels[i]], class_names[tmap.predicted[i]]
    article = "an" if true[:1].lower() in "aeiou" else "a"
    mark = "✓" if tmap.labels[i] == tmap.predicted[i] else "✗"
    return (f"Test image {int(tmap.indices[i])}: {article} {true}, answered {pred} "
            f"({tmap.confidence[i]:.0%}) {mark}")


@dataclass
class Panel:
    """Where one map was drawn in the picture, in image pixels (x right, y down)."""
    box: tuple[float, float, float, float]  # the axes: x0, y0 (top), x1, y1 (bottom)
    transform: np.ndarray                   # (3, 3): (map x, map y, 1) -> (pixel x, pixel y, 1)
    points: np.ndarray                      # (N, 2) the map's points

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        return (np.c_[points, np.ones(len(points))] @ self.transform.T)[:, :2]


@dataclass
class MapPicture:
    """A rendered map and how to turn a click on it back into a point."""
    image: np.ndarray          # (H, W, 3) uint8
    panels: list[Panel]

    def nearest(self, x: float, y: float, max_pixels: float = 12) -> tuple[int, int] | None:
        """(panel, point index) of the point drawn nearest pixel [x, y] (gr.Image's select
        event: x right, y down), or None outside the panels or farther than max_pixels."""
        at = np.array([x + 0.5, y + 0.5])  # the pixel's centre
        for k, panel in enumerate(self.panels):
            x0, y0, x1, y1 = panel.box
            if x0 <= at[0] <= x1 and y0 <= at[1] <= y1 and len(panel.points):
                d = np.hypot(*(panel.to_pixels(panel.points) - at).T)
                return (k, int(d.argmin())) if d.min() <= max_pixels else None
        return None


def _style(c: int) -> dict:
    return dict(color=PALETTE[c % len(PALETTE)], marker=MARKERS[c // len(PALETTE) % len(MARKERS)])


def _draw_map(ax, title: str, tmap: TestMap, star) -> None:
    """Right answers as dots, wrong ones ringed in black, in sample order (no class on top)."""
    wrong = tmap.predicted != tmap.labels
    for group in np.unique(tmap.labels // len(PALETTE)):
        for mask, size, edge in ((~wrong, 9, "none"), (wrong, 18, "black")):
            sel = mask & (tmap.labels // len(PALETTE) == group)
            colours = [PALETTE[c % len(PALETTE)] for c in tmap.labels[sel]]
            ax.scatter(*tmap.points[sel].T, s=size, c=colours,
                       marker=MARKERS[group % len(MARKERS)], edgecolors=edge,
                       linewidths=0.7, alpha=0.75 if edge == "none" else 0.95)
    if star is not None:
        ax.scatter(*np.asarray(star, float).reshape(1, 2).T, s=420, marker="*", c="black",
                   edgecolors="white", linewidths=1.5, zorder=5)
        ax.annotate("your drawing", np.asarray(star, float).ravel(), xytext=(10, 8),
                    textcoords="offset points", fontsize=9, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    if tmap.method == "PCA":
        ax.set_xlabel(f"PC 1 ({tmap.explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 ({tmap.explained[1]:.0%} of variance)")
    else:
        ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2")
    ax.set(xticks=[], yticks=[])
    ax.set_title(f"{title}\n{tmap.method}: test accuracy {tmap.accuracy:.1%} on "
                 f"{len(tmap.labels):,} images, {separation(tmap):.0%} next to their class",
                 fontsize=10)


def _legend(fig, class_names: list[str], with_star: bool) -> None:
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls="", ms=6, label=name, **_style(c))
               for c, name in enumerate(class_names)]
    handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="0.8", mec="black",
                          label="wrong answer"))
    if with_star:
        handles.append(Line2D([], [], ls="", marker="*", ms=14, mfc="black", mec="white",
                              label="your drawing"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)


def map_picture(maps: list[tuple[str, TestMap]], class_names: list[str],
                star: list[np.ndarray | None] | None = None) -> MapPicture:
    """Draw 1 or 2 (title, map) panels side by side as an RGB image, keeping each panel's pixel
    geometry for `MapPicture.nearest`. `star`: per panel, the drawing's map coordinates
    (`place_image`) or None."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    if not 1 <= len(maps) <= 2:
        raise ValueError(f"map_picture draws 1 or 2 maps side by side, got {len(maps)}")
    stars = list(star or []) + [None] * (len(maps) - len(star or []))
    fig = Figure(figsize=(5.2 * len(maps) + 1.6, 5.2), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, (title, tmap), s in zip(axes, maps, stars):
        _draw_map(ax, title, tmap, s)
    _legend(fig, class_names, any(s is not None for s in stars))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    height = image.shape[0]
    flip = np.array([[1, 0, 0], [0, -1, height], [0, 0, 1]], float)  # display y is up
    panels = []
    for ax, (_, tmap) in zip(axes, maps):
        (x0, y0), (x1, y1) = ax.get_window_extent().get_points()
        panels.append(Panel((x0, height - y1, x1, height - y0),
                            flip @ ax.transData.get_affine().get_matrix(), tmap.points))
    return MapPicture(image, panels)
