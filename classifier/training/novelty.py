"""Teach a small network what a dataset's images look like after the clean-up, so that the app
says "I am not sure" for a photo of a face, a street or a bowl of fruit (issue 27).

A classifier's softmax answers one of its classes for anything; on real photos of what it never
learned, the shipped models were sure of an answer for 30-70% of them. Outlier exposure
(Hendrycks, Mazeika and Dietterich, ICLR 2019) trains with images of other things; here a small
separate network (the gate) learns "one of this dataset's images, as the clean-up makes them"
against "anything else through the same clean-up", so one gate serves every model of the
dataset, the shipped ones and those trained in the app.

The other things (`outlier_images`): crops of the images that Debian packages ship
(`OUTLIER_SOURCES`: OpenCV's documentation pictures, desktop wallpapers), the other small
dataset (digits for garments, garments for digits) and noise. None of the photos that
benchmarks/own_images.py checks against (scripts/own_photos.csv) is among them. The gate's
threshold lets KEEP of held-out training images through (`classifier/inference/novelty.py`).
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

# pictures that Debian packages ship (`apt-get install opencv-doc mate-backgrounds
# plasma-workspace-wallpapers dde-account-faces`); what is not installed is left out
OUTLIER_SOURCES = ("/usr/share/doc/opencv-doc/**/*.jpg", "/usr/share/doc/opencv-doc/**/*.png",
                   "/usr/share/backgrounds/**/*.jpg", "/usr/share/backgrounds/**/*.png",
                   "/usr/share/wallpapers/*/contents/images/*",
                   "/var/lib/AccountsService/icons/*.png")
CROPS = 6  # random crops of each picture, besides the whole of it
DIAGRAMS = "/usr/share/doc/opencv-doc/opencv4/html/"  # OpenCV's manual: diagrams, plots, text
# what each dataset's gate learns from: the digits' leaves out the manual's pictures, whose
# printed text and numbers taught it that printed digits are no digits (9 of our 40 font digits
# "not sure"), with twice the crops of the photos instead, and a quarter of the garments
RECIPES = {"fashion_mnist": dict(diagrams=True, crops=CROPS, others_every=1, epochs=10),
           "mnist": dict(diagrams=False, crops=2 * CROPS, others_every=4, epochs=8)}
KEEP = 0.995  # held-out training images the gate must let through
WORKING = 384  # px: crops are shrunk to at most this before the clean-up (it shrinks anyway)


def source_files(excluded=(), patterns=None, diagrams: bool = True) -> list[Path]:
    """The pictures found, less `excluded` paths (the check set's photos), tiny files (icons),
    OpenCV's manual without `diagrams`, and one size of each wallpaper (they ship several sizes
    of one picture)."""
    out, wallpapers = [], set()
    skip = {os.path.realpath(p) for p in excluded}
    skip_walls = {p.split("/")[4] for p in skip if p.startswith("/usr/share/wallpapers/")}
    patterns = OUTLIER_SOURCES if patterns is None else patterns
    for f in sorted({os.path.realpath(f) for p in patterns for f in glob.glob(p, recursive=True)}):
        if f in skip or os.path.getsize(f) < 3000 or (not diagrams and f.startswith(DIAGRAMS)):
            continue
        if f.startswith("/usr/share/wallpapers/"):
            name = f.split("/")[4]
            if name in skip_walls or name in wallpapers:
                continue
            wallpapers.add(name)
        out.append(Path(f))
    return out


def crops(img, n: int, rng) -> list:
    """The whole picture and `n` random crops (a tenth to all of it, any aspect from 1:2 to 2:1),
    each shrunk to at most WORKING px a side, a random half of them mirrored."""
    from PIL import Image
    img.thumbnail((WORKING * 3, WORKING * 3))
    out = [img.copy()]
    w, h = img.size
    for _ in range(n):
        area = rng.uniform(0.1, 1.0) * w * h
        aspect = np.exp(rng.uniform(np.log(0.5), np.log(2)))
        cw, ch = min(w, int(np.sqrt(area * aspect))), min(h, int(np.sqrt(area / aspect)))
        x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        out.append(img.crop((x, y, x + cw, y + ch)))
    for i, c in enumerate(out):
        c.thumbnail((WORKING, WORKING))
        if rng.random() < 0.5:
            out[i] = c.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return out


def _cleaned(job) -> list[np.ndarray]:
    """The clean-up's 28x28 of each crop of one picture (blank ones left out)."""
    path, style, n, seed = job
    from ..images.errors import BlankImage
    from ..images.preprocess import open_image, prepare
    rng = np.random.default_rng(seed)
    try:
        img = open_image(str(path)).convert("RGB")
    except ValueError:
        return []
    out = []
    for c in crops(img, n, rng):
        try:
            out.append(prepare(c, (28, 28, 1), style).seen)
        except (BlankImage, ValueError):
            pass
    return out


def outlier_images(files, style: str, n: int = CROPS, seed: int = 0, processes: int = 2) -> np.ndarray:
    """(N, 28, 28) uint8: each file's crops through the clean-up of `style`."""
    from multiprocessing import get_context
    jobs = [(f, style, n, seed * 100_003 + i) for i, f in enumerate(files)]
    with get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_cleaned, jobs, chunksize=8)
    images = [x for part in parts for x in part]
    return np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)


HELD_OUT = 0.1  # of the training images, kept out of the gate's training to set its threshold
EPOCHS = 10  # garments: 4 left the threshold at 0.07 and 30% of the check set's photos through; 10: 6%


def build_gate():
    """Three small convolution blocks and one output: about 60,000 weights, ~1 ms an image."""
    import keras
    from keras import layers
    inputs = keras.Input((28, 28, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(layers.Conv2D(32, 1, activation="relu")(x))
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x), name="gate")


def varied(x: np.ndarray, style: str, rng) -> np.ndarray:
    """The dataset's own images as users' images come out of the clean-up: moved by up to 2 px,
    mirrored for garments; digits also turned, scaled and sheared as the shipped digits model
    trains (augment.py "digits"), and half of them dimmer (0.7-1), as the shipped digits' gate
    learnt. Garments never: the clean-up sets an item's brightest pixel to 254-255, as every
    Fashion-MNIST image has it."""
    n = len(x)
    if style == "mnist":
        import tensorflow as tf

        from .augment import digit_change
        key = int(rng.integers(2 ** 31))  # new changes each epoch
        x = np.concatenate([digit_change(tf.constant(x[i:i + 2048]), tf.constant([key, i], tf.int64)).numpy()
                            for i in range(0, n, 2048)])
    else:
        flip = rng.random(n) < 0.5
        x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    pad = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    dy, dx = rng.integers(0, 5, n), rng.integers(0, 5, n)
    rows = dy[:, None] + np.arange(28)
    cols = dx[:, None] + np.arange(28)
    x = pad[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if style != "mnist":
        return x
    level = np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.7, 1.0, n)).astype(np.float32)
    return np.clip(x * level[:, None, None, None], 0, 255).astype(np.uint8)


def train_gate(data, outliers: np.ndarray, others: np.ndarray, epochs: int = EPOCHS, seed: int = 0,
               log=print):
    """A Gate for `data` (a Dataset of 28x28 grey images): its training images (less HELD_OUT,
    varied) against `outliers` and `others` (N, 28, 28); the threshold from the held-out ones."""
    import keras

    from ..inference.novelty import Gate, GateInfo
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = np.asarray(data.x_train, np.uint8).reshape(-1, 28, 28, 1)
    order = rng.permutation(len(x))
    held = x[order[:int(HELD_OUT * len(x))]]
    train = x[order[int(HELD_OUT * len(x)):]]
    negatives = np.concatenate([outliers.reshape(-1, 28, 28, 1), others.reshape(-1, 28, 28, 1)])
    model = build_gate()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    weight = len(train) / max(1, len(negatives))  # each side counts as much as the other
    for epoch in range(epochs):
        pos = varied(train, data.style, rng)
        neg = negatives[:, :, ::-1] if epoch % 2 else negatives  # digits' outliers may be mirrored
        xs = np.concatenate([pos, neg])
        ys = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(np.float32)
        ws = np.concatenate([np.ones(len(pos)), np.full(len(neg), weight)]).astype(np.float32)
        p = rng.permutation(len(xs))
        h = model.fit(xs[p], ys[p], sample_weight=ws[p], batch_size=256, epochs=1, verbose=0)
        log(f"gate epoch {epoch + 1}/{epochs}: loss {h.history['loss'][-1]:.4f}")
    gate = Gate(model, GateInfo(data.key, 0.0, 1.0, ""))
    scores = gate.scores(held)
    threshold = float(np.quantile(scores, 1 - KEEP, method="lower"))
    gate.info = GateInfo(data.key, threshold, float((scores >= threshold).mean()),
                         f"{len(held):,} training images of {data.title} kept out of the gate's "
                         f"training; against {len(outliers):,} crops of pictures and "
                         f"{len(others):,} images of another dataset")
    return gate
