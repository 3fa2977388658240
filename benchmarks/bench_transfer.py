"""Transfer learning: seconds per epoch of the frozen-MobileNetV2 model trained as the tutorial
does (the base's forward pass every epoch) vs with the base's features cached (`train_cached`).

Timing does not depend on the weights, so the model has random weights (pretrained=False) and
the images are random 160x160x3 pixels in 2 classes: it runs offline. Each repeat trains both
ways from the same seed, side by side, alternating which goes first; ratios come from one run
because this machine is shared and noisy. `--quick` runs a tiny setting.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes between the rows
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from classifier.core.dataset import Dataset  # noqa: E402
from classifier.core.settings import TrainSettings  # noqa: E402
from classifier.models.registry import MODELS, build_model  # noqa: E402
from classifier.training.loop import train  # noqa: E402
from classifier.training.transfer import train_cached  # noqa: E402

SIZE = (160, 160, 3)  # cats vs dogs, as the tutorial trains it


def random_images(n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """Random uint8 pixels, labels alternating between 2 classes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n_train + n_test, *SIZE), dtype=np.uint8)
    y = np.arange(n_train + n_test, dtype=np.int64) % 2
    return Dataset("random", "Random images", ["a", "b"], x[:n_train], y[:n_train],
                   x[n_train:], y[n_train:], source="the benchmark")


def train_one(way: str, data: Dataset, settings: TrainSettings):
    """Build the model from the settings' seed and train it `way`; (model, epoch seconds)."""
    import keras
    keras.utils.set_random_seed(settings.seed)
    model = build_model("mobilenetv2", data.image_shape, data.num_classes, settings)
    fit = train if way == "tutorial" else train_cached
    return model, fit(model, data, settings).epoch_seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=320, help="training images (default 320)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per training (default 3)")
    p.add_argument("--repeats", type=int, default=3, help="trainings of each way (default 3)")
    p.add_argument("--quick", action="store_true", help="a tiny run: 40 images, 2 epochs, once")
    args = p.parse_args()
    if args.quick:
        args.images, args.epochs, args.repeats = 40, 2, 1
    if args.epochs < 2:
        p.error("--epochs must be at least 2: the comparison is of the epochs after the first")
    data = random_images(args.images, max(args.images // 5, 1))
    settings = TrainSettings(epochs=args.epochs, batch_size=MODELS["mobilenetv2"].batch_size,
                             pretrained=False, seed=0)
    print(f"MobileNetV2 (random weights, frozen) on {args.images} random {SIZE[0]}x{SIZE[1]}x3 "
          f"images (10% held out for validation), batch {settings.batch_size}, "
          f"{args.epochs} epochs, {args.repeats} repeats\n")
    print("| repeat | way | " + " | ".join(f"epoch {e + 1} s" for e in range(args.epochs))
          + " | later epochs, mean s |")
    print("|---|---|" + "---|" * (args.epochs + 1))
    first, later = {"tutorial": [], "cached": []}, {"tutorial": [], "cached": []}
    models = {}
    for r in range(args.repeats):
        order = ("tutorial", "cached") if r % 2 == 0 else ("cached", "tutorial")
        for way in order:
            models[way], seconds = train_one(way, data, settings)
            first[way].append(seconds[0])
            later[way].append(statistics.mean(seconds[1:]))
            print(f"| {r + 1} | {way} | " + " | ".join(f"{s:.3f}" for s in seconds)
                  + f" | {later[way][-1]:.3f} |", flush=True)
    a, b = statistics.median(later["tutorial"]), statistics.median(later["cached"])
    ratios = [t / c for t, c in zip(later["tutorial"], later["cached"])]
    print(f"\nmedian seconds per epoch after the first: tutorial {a:.3f}, cached {b:.4f}; "
          f"ratio {a / b:.1f}x (per repeat: {', '.join(f'{q:.1f}x' for q in ratios)})")
    print(f"median first epoch (cached: with computing the features): tutorial "
          f"{statistics.median(first['tutorial']):.2f} s, "
          f"cached {statistics.median(first['cached']):.2f} s")
    diff = np.abs(models["tutorial"].predict(data.x_test, verbose=0)
                  - models["cached"].predict(data.x_test, verbose=0)).max()
    print(f"max |difference| between the two ways' test predictions, same seed: {diff:.3g}")


if __name__ == "__main__":
    main()
