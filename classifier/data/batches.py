"""Arrays fed to Keras in batches: one `tf.data` pipeline for training, validation and scoring.

Keras' own array feeding (`model.fit(x, y, shuffle=True)`) has two faults, measured here with
Keras 3.15 and TensorFlow 2.21 (`python benchmarks/feeding.py`):
- under a global seed (`keras.utils.set_random_seed`, which every run sets) it deals the batches
  of every epoch in the same order: its permutation is a seeded op that each epoch's new input
  iterator runs from its start again;
- about half of its epoch starts stall 1-2 s on 2 cores while training runs, in tf.data's
  autotuning; the same pipeline with autotuning off has none.
`batches` reshuffles at each epoch (`Dataset.shuffle(reshuffle_each_iteration=True)`, still
seeded: the same run twice sees the same orders; the take-home script feeds the same way) and
runs with autotuning off.
"""
from __future__ import annotations

import numpy as np

PARALLEL_BATCHES = 2  # batches gathered side by side, and kept ready ahead of the model


def batches(x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 256,
            shuffle: bool = False, seed: int | None = None, change=None):
    """A `tf.data.Dataset` of (x, y) batches (x alone without `y`), in order or, with `shuffle`,
    in a new order each time Keras starts an epoch over it (the orders fixed by `seed`, else
    by TensorFlow's global seed), each x batch passed through `change(x, key)` when given
    (random augmentation, `augment.random_change`; `key` a random int64 drawn afresh for each
    batch of each epoch, the same for a seed). The last batch may be short."""
    import tensorflow as tf
    arrays = tuple(tf.convert_to_tensor(a) for a in ((x,) if y is None else (x, y)))
    order = tf.data.Dataset.range(len(x))
    if shuffle:
        order = order.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def gather(indices, key=None):
        picked = tuple(tf.gather(a, indices) for a in arrays)
        if change is not None:
            picked = (change(picked[0], key), *picked[1:])
        return picked[0] if y is None else picked

    data = order.batch(int(batch_size))
    if change is not None:  # a new random key a batch, new ones each epoch (each iteration)
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        data = tf.data.Dataset.zip((data, keys))
    data = data.map(gather, num_parallel_calls=PARALLEL_BATCHES)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return data.prefetch(PARALLEL_BATCHES).with_options(options)
