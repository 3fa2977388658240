"""Keras' own array feeding against `classifier.batches`, side by side (issue 10).

    python benchmarks/feeding.py                       # cnn_quick:2 cnn_quick:8 mlp:5, 3 repeats
    python benchmarks/feeding.py cnn_bn:8 --repeats 1

Each run trains a registry model at its defaults (its schedule sized as `training.train` sizes
it) on Fashion-MNIST with validation, once fed as arrays (`model.fit(x, y, shuffle=True)`) and
once as `batches(...)`, in the same repeat, and prints: seconds of training, the epoch starts
that stalled (> 0.3 s from an epoch's start to its first step, epochs 2 on) and what they cost,
and test accuracy. It first checks each feeding's order: do two epochs deal the same batches?
Run alone: this machine's speed swings under other load.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STALL_SECONDS = 0.3


def same_order_each_epoch() -> dict[str, bool]:
    """Whether two passes over each feeding, under a global seed, deal the same first batch."""
    import keras
    import numpy as np
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    from classifier.data.batches import batches
    keras.utils.set_random_seed(0)
    x = np.arange(1000).reshape(1000, 1)
    firsts = {"keras arrays": ArrayDataAdapter(x, batch_size=8, shuffle=True).get_tf_dataset(),
              "batches": batches(x, batch_size=8, shuffle=True)}
    out = {}
    for name, data in firsts.items():
        a, b = (np.asarray(next(iter(data))).ravel().tolist() for _ in range(2))
        out[name] = a == b
    return out


def fit(d, key: str, epochs: int, feed: str) -> dict:
    import keras

    from classifier.core.settings import TrainSettings
    from classifier.data.batches import batches
    from classifier.inference.evaluation import evaluate
    from classifier.models.registry import build_model
    from classifier.training import loop as training
    from classifier.training.run import model_settings
    s = model_settings(key, TrainSettings(epochs=epochs))
    keras.utils.set_random_seed(s.seed)
    x_tr, y_tr, x_val, y_val = d.split_validation(s.validation_split, s.seed)
    model = build_model(key, d.image_shape, d.num_classes, s, d.x_train)
    steps = -(-len(x_tr) // s.batch_size)
    if s.lr_schedule == "cosine":
        training._size_schedule(model, epochs * steps, s.warmup or 0.0)
    y_tr = training.targets_for(model, y_tr, d.num_classes)
    y_val = training.targets_for(model, y_val, d.num_classes)
    starts = []

    class Starts(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t, self.first = time.perf_counter(), epoch > 0

        def on_train_batch_begin(self, batch, logs=None):
            if self.first:
                starts.append(time.perf_counter() - self.t)
                self.first = False

    t0 = time.perf_counter()
    if feed == "keras arrays":
        model.fit(x_tr, y_tr, batch_size=s.batch_size, epochs=epochs, shuffle=True,
                  validation_data=(x_val, y_val), callbacks=[Starts()], verbose=0)
    else:
        model.fit(batches(x_tr, y_tr, s.batch_size, shuffle=True), epochs=epochs,
                  validation_data=batches(x_val, y_val, s.batch_size), callbacks=[Starts()],
                  verbose=0, shuffle=False)
    seconds = time.perf_counter() - t0
    stalls = [t for t in starts if t > STALL_SECONDS]
    return {"seconds": seconds, "stalls": len(stalls), "stalled": sum(stalls),
            "starts": len(starts), "accuracy": evaluate(model, d).accuracy}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="*", default=["cnn_quick:2", "cnn_quick:8", "mlp:5"],
                   help="model_key:epochs")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    from classifier.data.datasets import load_fashion_mnist
    print("same batches every epoch under a global seed:", same_order_each_epoch(), flush=True)
    d = load_fashion_mnist()
    feeds = ["keras arrays", "batches"]
    results = {(run, feed): [] for run in args.runs for feed in feeds}
    for r in range(args.repeats):
        for run in args.runs:
            key, epochs = run.split(":")
            for feed in feeds if r % 2 == 0 else feeds[::-1]:
                out = fit(d, key, int(epochs), feed)
                results[run, feed].append(out)
                print(f"repeat {r + 1} {run} {feed}: {out['seconds']:.1f} s, "
                      f"{out['stalls']}/{out['starts']} starts stalled ({out['stalled']:.1f} s), "
                      f"test {out['accuracy']:.4f}", flush=True)
    print(f"\nmedians of {args.repeats} (stalls: summed over repeats)")
    print("| run | feeding | training s | stalled epoch starts | stall s | test accuracy |")
    print("|---|---|---|---|---|---|")
    for (run, feed), outs in results.items():
        med = {k: statistics.median(o[k] for o in outs) for k in ("seconds", "accuracy")}
        print(f"| {run} | {feed} | {med['seconds']:.1f} | "
              f"{sum(o['stalls'] for o in outs)}/{sum(o['starts'] for o in outs)} | "
              f"{sum(o['stalled'] for o in outs):.1f} | {med['accuracy']:.4f} |")


if __name__ == "__main__":
    main()
