"""Accuracy of candidate `cnn_bn` designs on Fashion-MNIST after a few epochs.

Used to look for a cheaper `cnn_bn`; accuracy does not depend on the machine, so it can run on
any Keras backend (it was run with KERAS_BACKEND=torch on a lent GPU). Prints one JSON line a run.

    python benchmarks/cnn_bn_sweep.py [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from classifier.data.datasets import FASHION_FILES, read_idx  # noqa: E402


def candidate(kind: str):
    """A: the shipped cnn_bn (three 3x3 blocks at 28, 14, 7). S2/S2w: a 2x2 stride-2 stem then
    two blocks at 14 and 7. S3: a 3x3 stride-2 stem of 32 filters then two blocks."""
    import keras
    from keras import layers
    x = inputs = keras.Input((28, 28, 1))
    x = layers.Rescaling(1 / 255)(x)

    def block(x, filters, k=3, strides=1, pool=True):
        x = layers.Conv2D(filters, k, strides=strides, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        return layers.MaxPooling2D()(x) if pool else x
    stems = {"A": [], "S2": [(16, 2)], "S2w": [(24, 2)], "S3": [(32, 3)]}
    widths = {"A": (32, 64, 96), "S2": (48, 96), "S2w": (64, 96), "S3": (64, 96)}
    for filters, k in stems[kind]:
        x = block(x, filters, k=k, strides=2, pool=False)
    for filters in widths[kind]:
        x = block(x, filters)
    x = layers.Dropout(0.3)(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def main() -> None:
    import keras
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--runs", default="A:4,A:8,S2:8,S2w:8,S3:8",
                   help="candidate:epochs pairs, comma-separated")
    args = p.parse_args()
    x_tr, y_tr, x_te, y_te = (read_idx(Path(args.data) / f) for f in FASHION_FILES)
    x_tr, x_te = x_tr[..., None], x_te[..., None]
    idx = np.random.default_rng(0).permutation(len(x_tr))
    val, tr = idx[:6000], idx[6000:]
    for kind, epochs in (pair.split(":") for pair in args.runs.split(",")):
        epochs = int(epochs)
        keras.utils.set_random_seed(0)
        model = candidate(kind)
        steps = epochs * int(np.ceil(len(tr) / 128))
        model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        t = time.time()
        h = model.fit(x_tr[tr], y_tr[tr], batch_size=128, epochs=epochs, verbose=0,
                      validation_data=(x_tr[val], y_tr[val]))
        acc = float((model.predict(x_te, batch_size=2048, verbose=0).argmax(1) == y_te).mean())
        print(json.dumps({"candidate": kind, "parameters": model.count_params(), "epochs": epochs,
                          "test_accuracy": round(acc, 4), "seconds": round(time.time() - t, 1),
                          "val_accuracy": [round(v, 4) for v in h.history["val_accuracy"]]}),
              flush=True)


if __name__ == "__main__":
    main()
