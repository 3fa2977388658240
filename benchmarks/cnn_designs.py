"""Small CNN designs and training levers on Fashion-MNIST: seconds and test accuracy per epoch.

How `cnn_quick` and the fast `cnn_bn` were chosen (issue 10). Each run trains one design on the
app's split (54,000 train / 6,000 validation, validated every epoch as the app does) with a linear
warm-up then cosine decay to 0 sized to the run, and prints one JSON line: the training seconds
after each epoch (the test evaluation is not counted) and the test accuracy there.

    python benchmarks/cnn_designs.py --runs quick24:3:256:4e-3 [--smooth 0.1] [--threads 2,1]

A run is design:epochs:batch:peak_lr. Run it alone: a busy machine reads 3-4x slower.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

DROPOUT = None  # --dropout: replaces a design's own dropout rate


def design(kind: str, num_classes: int = 10, bn_momentum: float = 0.9):
    """Candidates. "pf" = pool first: Conv -> MaxPool -> BN -> ReLU (BN and ReLU on a quarter of
    the pixels). "stem" = a strided 5x5 convolution that halves the image before anything else."""
    import keras
    from keras import layers
    x = inputs = keras.Input((28, 28, 1))
    x = layers.Rescaling(1 / 255)(x)

    def bn_relu(x):
        return layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))

    def stem(x, filters, k=5):
        return bn_relu(layers.Conv2D(filters, k, strides=2, padding="same", use_bias=False)(x))

    def pf(x, filters, k=3):
        x = layers.Conv2D(filters, k, padding="same", use_bias=False)(x)
        return bn_relu(layers.MaxPooling2D()(x))

    def plain(x, filters, k=3):
        return bn_relu(layers.Conv2D(filters, k, padding="same", use_bias=False)(x))

    dropout = 0.0
    if kind.startswith("quick"):          # quick24: stem 24, pf 48 (PERF_NOTES' 35K design)
        w = int(kind[5:] or 24)
        x = pf(stem(x, w), 2 * w)
    elif kind.startswith("qh"):           # qhW_H: quickW with a hidden Dense(H) head
        w, hidden = (int(v) for v in kind[2:].split("_"))
        x = layers.Flatten()(pf(stem(x, w), 2 * w))
        x = layers.Dense(hidden, activation="relu")(x)
    elif kind.startswith("qv"):           # qvW_H: qhW_H with a 'valid' second convolution
        w, hidden = (int(v) for v in kind[2:].split("_"))
        x = stem(x, w)
        x = bn_relu(layers.MaxPooling2D()(layers.Conv2D(2 * w, 3, use_bias=False)(x)))
        x = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    elif kind.startswith("nb"):           # nbW_H: qhW_H without batch norm (biases instead)
        w, hidden = (int(v) for v in kind[2:].split("_"))
        x = layers.Conv2D(w, 5, strides=2, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(layers.Conv2D(2 * w, 3, padding="same", activation="relu")(x))
        x = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    elif kind == "c1":                    # stem 32, pf 32 (-> 7x7), conv 64 at 7x7
        x = plain(pf(stem(x, 32), 32), 64)
        dropout = 0.3
    elif kind == "c5":                    # stem 32, pf 64 (-> 7x7x64)
        x = pf(stem(x, 32), 64)
        dropout = 0.3
    elif kind.startswith("aq"):           # aqW1_W2_H: pool-first at 28 and 14, Dense(H) head
        w1, w2, hidden = (int(v) for v in kind[2:].split("_"))
        x = pf(pf(x, w1), w2)
        x = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    elif kind.startswith("a"):            # aW1_W2_W3: pool-first blocks at 28, 14, 7
        for f in (int(v) for v in kind[1:].split("_")):
            x = pf(x, f)
        dropout = 0.3
    elif kind == "A_pf":                  # shipped cnn_bn blocks, pooling first
        for f in (32, 64, 96):
            x = pf(x, f)
        dropout = 0.3
    elif kind.startswith("s"):            # sW1_W2_W3[_H]: stem W1, pf W2, pf W3[, Dense(H)]
        w1, w2, w3, *hidden = (int(v) for v in kind[1:].split("_"))
        x = pf(pf(stem(x, w1), w2), w3)
        if hidden:
            x = layers.Dense(hidden[0], activation="relu")(layers.Flatten()(x))
        dropout = 0.3
    elif kind.startswith("p"):            # pW1_W2_W3: stem W1, plain W2 at 14x14, pf W2, pf W3
        w1, w2, w3 = (int(v) for v in kind[1:].split("_"))
        x = pf(pf(plain(stem(x, w1), w2), w2), w3)
        dropout = 0.3
    else:
        raise ValueError(kind)
    x = layers.Flatten()(x)
    dropout = DROPOUT if DROPOUT is not None and dropout else dropout
    if dropout:
        x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x), name=kind)


def _apply(layers_, x):
    for layer in layers_:
        x = layer(x, training=True)
    return x


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", required=True, help="design:epochs:batch:peak_lr, comma-separated")
    p.add_argument("--smooth", type=float, default=0.0, help="label smoothing")
    p.add_argument("--warmup", type=float, default=0.2, help="share of steps warming up")
    p.add_argument("--spe", type=int, default=32, help="steps_per_execution")
    p.add_argument("--bn-momentum", type=float, default=0.9)
    p.add_argument("--jit", action="store_true", help="jit_compile=True (XLA)")
    p.add_argument("--dropout", type=float, help="replace the design's dropout rate")
    p.add_argument("--wd", type=float, default=0.0, help="AdamW weight decay (0: Adam)")
    p.add_argument("--threads", help="intra,inter op threads")
    p.add_argument("--flip-tta", action="store_true", help="also score flip-averaged test")
    p.add_argument("--val", type=float, default=0.1,
                   help="validation share (0: train on all 60,000, no validation)")
    p.add_argument("--augment", default="", help="random augmentation while training: any of "
                   "flip, shift (up to 2 px), comma-separated")
    args = p.parse_args()
    global DROPOUT
    DROPOUT = args.dropout
    import keras
    import tensorflow as tf
    if args.threads:
        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    from classifier.data.datasets import load_fashion_mnist
    d = load_fashion_mnist()
    x_tr, y_tr, x_val, y_val = d.split_validation(args.val, 0)
    x_te, y_te = d.x_test, d.y_test
    for run in args.runs.split(","):
        kind, epochs, batch, peak = run.split(":")
        epochs, batch, peak = int(epochs), int(batch), float(peak)
        keras.utils.set_random_seed(0)
        model = design(kind, bn_momentum=args.bn_momentum)
        steps = epochs * int(np.ceil(len(x_tr) / batch))
        warm = int(steps * args.warmup)
        lr = keras.optimizers.schedules.CosineDecay(0.0, max(steps - warm, 1), warmup_target=peak,
                                                    warmup_steps=warm)
        smooth = args.smooth > 0
        loss = (keras.losses.CategoricalCrossentropy(label_smoothing=args.smooth) if smooth
                else "sparse_categorical_crossentropy")
        opt = (keras.optimizers.AdamW(lr, weight_decay=args.wd) if args.wd
               else keras.optimizers.Adam(lr))
        model.compile(opt, loss, metrics=["accuracy"],
                      steps_per_execution=args.spe, jit_compile=args.jit)
        onehot = (lambda y: np.eye(10, dtype=np.float32)[y]) if smooth else (lambda y: y)
        log = []

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0, self.excluded = time.perf_counter(), 0.0

            def on_epoch_end(self, epoch, logs=None):
                start = time.perf_counter()
                prob = np.asarray(self.model.predict(x_te, batch_size=2000, verbose=0))
                acc = float((prob.argmax(1) == y_te).mean())
                entry = [round(start - self.t0 - self.excluded, 2), round(acc, 4)]
                if args.flip_tta:
                    flipped = np.asarray(self.model.predict(x_te[:, :, ::-1], batch_size=2000,
                                                            verbose=0))
                    entry.append(round(float(((prob + flipped).argmax(1) == y_te).mean()), 4))
                log.append(entry)
                self.excluded += time.perf_counter() - start

        train = (x_tr, onehot(y_tr))
        if args.augment:
            kinds = args.augment.split(",")
            steps_aug = [keras.layers.RandomFlip("horizontal", seed=1)] if "flip" in kinds else []
            if "shift" in kinds:
                steps_aug.append(keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant",
                                                                seed=2))
            train = tf.data.Dataset.from_tensor_slices(train).shuffle(len(x_tr), seed=0).batch(
                batch).map(lambda x, y: (_apply(steps_aug, tf.cast(x, tf.float32)), y),
                            num_parallel_calls=2).prefetch(2)
            model.fit(train, epochs=epochs, verbose=0, callbacks=[Clock()],
                      validation_data=(x_val, onehot(y_val)) if len(x_val) else None)
        else:
            model.fit(*train, batch_size=batch, epochs=epochs, verbose=0,
                      validation_data=(x_val, onehot(y_val)), callbacks=[Clock()])
        print(json.dumps({"run": run, "params": model.count_params(), "smooth": args.smooth,
                          "dropout": args.dropout, "wd": args.wd, "augment": args.augment, "val": args.val,
                          "warmup": args.warmup, "spe": args.spe, "threads": args.threads,
                          "seconds_accuracy": log}), flush=True)


if __name__ == "__main__":
    main()
