"""Random changes to training batches, drawn afresh each epoch: more images than the dataset holds.

- "flip": each training image and its mirror image (the set doubled once; garments and photos
  are flip-safe, digits are not);
- "shift": each image moved by up to SHIFT pixels each way, a new move every time it is seen;
- "flip_shift": a random half mirrored, then shifted as above (what the shipped Fashion-MNIST
  CNN trains with: +0.2 points over "flip" alone at 40 epochs, BENCHMARKS.md section 10);
- "digits": random rotation, scale, shear and move, thicker or thinner strokes, and blurred or
  low-resolution digits (a scan a dozen pixels tall, scaled up) (DIGITS);
- "garments": "flip_shift", and some items flattened as a photo's clean-up returns them: their
  shading and pattern evened out, edges softened (GARMENTS).

The random ones run inside the `tf.data` pipeline (`batches`), on uint8 batches, vectorised:
pad with black, then crop each image at its own random offset, so whole-pixel shifts and no
interpolation blur. Seeded: the same run twice sees the same changes.
"""
from __future__ import annotations

import numpy as np

SHIFT = 2  # pixels each way
KINDS = ("flip", "shift", "flip_shift", "digits", "garments")
# "digits": what makes up for MNIST's 4,000 offline training images (issue 13): each image
# rotated, scaled, sheared and moved at random (one bilinear resampling), its strokes made
# thicker or thinner one time in six each; never mirrored (a mirrored 2 is no digit). Issue 27:
# one time in ten shrunk until the digit is low_res_px tall (area average) and scaled back up
# (bilinear), as a low-resolution scan reaches the clean-up; one in ten Gaussian-blurred by
# blur_sigma px (an out-of-focus or zoomed-in one). One in ten each read made scans (the own
# check set's low_res kind and 400 more) and the other kinds better than one in six
DIGITS = dict(degrees=15.0, scale=(0.85, 1.15), shear=0.25, move=3.0, thicker=1 / 6, thinner=1 / 6,
              low_res=0.1, low_res_px=(8, 14), blur=0.1, blur_sigma=(0.5, 1.2))
DIGIT_BOX = 20  # px: an MNIST digit's box in its 28x28 image
# "garments" (issue 27): a one-coloured garment photographed on a table comes out of the
# clean-up as a nearly flat silhouette, while Fashion-MNIST's items carry their shading, prints
# and seams; the shipped CNN read 2,000 test items flattened so at 0.68 (0.94 as they are). A
# share `flat` of the items (after "flip_shift") keeps only `keep` of its shading (the rest lifted
# to its brightest) and is blurred by `blur_sigma` px; its brightest pixel stays, as the clean-up
# sets every item's to 254-255. Not what the shipped CNN trains with (BENCHMARKS.md section 18)
GARMENTS = dict(flat=0.25, keep=(0.0, 0.5), blur_sigma=(0.2, 0.7))


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
        if kind == "digits":
            return digit_change(x, key)
        if kind in ("flip_shift", "garments"):
            flip = tf.random.stateless_uniform([n, 1, 1, 1], seed=key + [0, 1]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        moves = tf.random.stateless_uniform([n, 2], seed=key + [0, 2], minval=0,
                                            maxval=2 * SHIFT + 1, dtype=tf.int32)
        x = shifted(x, moves)
        return flattened_some(x, key) if kind == "garments" else x
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


def digit_change(x, key):
    """Batch `x` (N, H, W, C) uint8 with DIGITS' random changes, drawn from the stateless `key`."""
    import tensorflow as tf
    d, n = DIGITS, tf.shape(x)[0]

    def uniform(k, low, high):
        return tf.random.stateless_uniform([n], seed=key + [0, k], minval=low, maxval=high)
    angle = uniform(3, -d["degrees"], d["degrees"]) * (np.pi / 180)
    scale, shear = uniform(4, *d["scale"]), uniform(5, -d["shear"], d["shear"])
    dx, dy = uniform(6, -d["move"], d["move"]), uniform(7, -d["move"], d["move"])
    out = _affine(tf.cast(x, tf.float32), angle, scale, shear, dx, dy)
    pick = uniform(8, 0.0, 1.0)[:, None, None, None]
    thick = tf.nn.max_pool2d(out, 3, 1, "SAME")
    thin = -tf.nn.max_pool2d(-out, 3, 1, "SAME")
    out = tf.where(pick < d["thicker"], thick, tf.where(pick > 1 - d["thinner"], thin, out))
    px = tf.random.stateless_uniform([], seed=key + [0, 9], minval=d["low_res_px"][0],
                                     maxval=d["low_res_px"][1] + 1, dtype=tf.int32)
    out = tf.where(uniform(10, 0.0, 1.0)[:, None, None, None] < d["low_res"], low_res(out, px), out)
    sigma = uniform(11, *d["blur_sigma"])
    out = tf.where(uniform(12, 0.0, 1.0)[:, None, None, None] < d["blur"], blurred(out, sigma), out)
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), x.dtype)


def flattened_some(x, key):
    """Batch `x` (N, H, W, C) uint8 with GARMENTS' share of its items flattened (`flattened`)."""
    import tensorflow as tf
    g, n = GARMENTS, tf.shape(x)[0]

    def uniform(k, low, high):
        return tf.random.stateless_uniform([n], seed=key + [0, k], minval=low, maxval=high)
    out = flattened(tf.cast(x, tf.float32), uniform(21, *g["keep"]))
    out = blurred(out, uniform(23, *g["blur_sigma"]))
    pick = uniform(24, 0.0, 1.0)[:, None, None, None] < g["flat"]
    return tf.where(pick, tf.cast(tf.clip_by_value(tf.round(out), 0, 255), x.dtype), x)


def flattened(x, keep):
    """Float batch `x` (N, H, W, C), each item (pixels above a tenth of its brightest, small gaps
    closed) keeping `keep` (N,) of its shading, the rest raised to its brightest; black stays
    black. keep 0: a flat silhouette."""
    import tensorflow as tf
    peak = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    item = tf.cast(x > 0.1 * peak, tf.float32)
    item = -tf.nn.max_pool2d(-tf.nn.max_pool2d(item, 3, 1, "SAME"), 3, 1, "SAME")  # closed
    keep = keep[:, None, None, None]
    return item * (peak * (1 - keep) + keep * x)


def low_res(x, px):
    """Float batch `x` (N, H, W, C) as if scanned with the digit's box `px` pixels tall (a scalar
    tensor, one size for the batch): shrunk by area averaging, then scaled back up bilinearly."""
    import tensorflow as tf
    size = tf.shape(x)[1:3]
    small = tf.maximum(1, tf.cast(tf.round(tf.cast(size * px, tf.float32) / DIGIT_BOX), tf.int32))
    return tf.image.resize(tf.image.resize(x, small, method="area"), size, method="bilinear")


def blurred(x, sigma):
    """Float batch `x` (N, H, W, C), each image Gaussian-blurred by its own `sigma` (N,) px: one
    separable depthwise convolution with the images as channels; black comes in at the edges."""
    import tensorflow as tf
    n, h, w, c = (tf.shape(x)[i] for i in range(4))
    r = 4  # the kernel's radius: 3.3 sigma at the largest blur_sigma
    t = tf.range(-r, r + 1, dtype=tf.float32)
    k = tf.exp(-t[None] ** 2 / (2 * sigma[:, None] ** 2))
    k = tf.repeat(k / tf.reduce_sum(k, axis=1, keepdims=True), c, axis=0)  # (N*C, 2r+1)
    flat = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])  # images as channels
    flat = tf.nn.depthwise_conv2d(flat, tf.transpose(k)[:, None, :, None], [1, 1, 1, 1], "SAME")
    flat = tf.nn.depthwise_conv2d(flat, tf.transpose(k)[None, :, :, None], [1, 1, 1, 1], "SAME")
    return tf.transpose(tf.reshape(flat, [h, w, n, c]), [2, 0, 1, 3])


def _affine(x, angle, scale, shear, dx, dy):
    """Each image of float batch `x` rotated by `angle` (radians), scaled, sheared (x by y) and
    moved by (dx, dy) pixels about its centre, in one bilinear resampling; black comes in."""
    import tensorflow as tf
    h, w = tf.cast(tf.shape(x)[1], tf.float32), tf.cast(tf.shape(x)[2], tf.float32)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = tf.cos(angle), tf.sin(angle)
    # forward map A = R(angle) . Shear . S(scale); the transform op wants output -> input: A^-1
    a, b = scale * cos, scale * (cos * shear - sin)
    c, e = scale * sin, scale * (sin * shear + cos)
    det = a * e - b * c
    ia, ib, ic, ie = e / det, -b / det, -c / det, a / det
    ox, oy = cx + dx, cy + dy  # where the centre goes
    transforms = tf.stack([ia, ib, cx - ia * ox - ib * oy, ic, ie, cy - ic * ox - ie * oy,
                           tf.zeros_like(ia), tf.zeros_like(ia)], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")
