"""Random changes to training batches, drawn afresh each epoch: more images than the dataset holds.

- "flip": each training image and its mirror image (the set doubled once; garments and photos
  are flip-safe, digits are not);
- "shift": each image moved by up to SHIFT pixels each way, a new move every time it is seen;
- "flip_shift": a random half mirrored, then shifted as above (what the shipped Fashion-MNIST
  CNN trains with: +0.2 points over "flip" alone at 40 epochs, BENCHMARKS.md section 10).

The random ones run inside the `tf.data` pipeline (`batches`), on uint8 batches, vectorised:
pad with black, then crop each image at its own random offset, so whole-pixel shifts and no
interpolation blur. Seeded: the same run twice sees the same changes.
"""
from __future__ import annotations

import numpy as np

SHIFT = 2  # pixels each way
KINDS = ("flip", "shift", "flip_shift")


def mirrored(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images and their mirror images, left to right ("flip")."""
    return np.concatenate([x, x[:, :, ::-1]]), np.concatenate([y, y])


def random_change(kind: str | None, seed: int = 0):
    """A function of a (N, H, W, C) batch tensor and an int64 key (`batches` draws one a batch,
    new each epoch) giving the batch randomly changed, for the random kinds; None for None and
    "flip" (done once on the arrays: `mirrored`). Stateless: the key alone decides the change
    (a stateful random op inside tf.data starts over at each epoch: the same changes again)."""
    if kind not in (None, *KINDS):
        raise ValueError(f"augment must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind in (None, "flip"):
        return None
    import tensorflow as tf

    def change(x, key):
        n, key = tf.shape(x)[0], tf.stack([tf.cast(key, tf.int64), tf.constant(seed, tf.int64)])
        if kind == "flip_shift":
            flip = tf.random.stateless_uniform([n, 1, 1, 1], seed=key + [0, 1]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        moves = tf.random.stateless_uniform([n, 2], seed=key + [0, 2], minval=0,
                                            maxval=2 * SHIFT + 1, dtype=tf.int32)
        return shifted(x, moves)
    return change


def shifted(x, offsets):
    """Each image of batch `x` (N, H, W, C) moved by its own (down, right) in `offsets` (N, 2),
    given as 0..2*SHIFT (SHIFT: unmoved); what comes in at the edges is black."""
    import tensorflow as tf
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    padded = tf.pad(x, [[0, 0], [SHIFT, SHIFT], [SHIFT, SHIFT], [0, 0]])
    rows = 2 * SHIFT - offsets[:, :1] + tf.range(h)[None]  # moved down by (offset - SHIFT)
    cols = 2 * SHIFT - offsets[:, 1:] + tf.range(w)[None]
    return tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
