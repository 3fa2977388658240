"""Issue 13, item 4: do test images keep their accuracy through the app's clean-up?

    python benchmarks/cleanup_accuracy.py [--images 2000]

Each shipped model answers the first N test images of its dataset twice: as arrays (what
`evaluate` does) and through `Predictor.predict`, the path a drawing or upload takes (inversion
check, crop, scale, centring). Accuracy is what is compared, so the machine's load does not matter.
Then, for Fashion-MNIST, how many of the N test images the garments' clean-up returns pixel for
pixel, and the range of its training images' brightest pixels (which the clean-up gives a
garment: `FASHION_PEAK`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from classifier.data.datasets import load_dataset  # noqa: E402
from classifier.inference.predict import Predictor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    n = parser.parse_args().images
    print(f"{'model':<16} {'as arrays':>9} {'clean-up':>9} {'points lost':>11}")
    for folder in sorted(p for p in (ROOT / "assets" / "models").iterdir() if p.is_dir()):
        predictor = Predictor.from_folder(folder)
        data = load_dataset(predictor.meta["dataset"])
        x, y = data.x_test[:n], data.y_test[:n]
        arrays = float((predictor.probabilities(x).argmax(1) == y).mean())
        names = predictor.class_names
        path = float(np.mean([names.index(predictor.predict(i[..., 0]).label) == t
                              for i, t in zip(x, y)]))
        print(f"{folder.name:<16} {arrays:>9.4f} {path:>9.4f} {100 * (arrays - path):>11.2f}")
    from classifier.images.cleanup import garment
    data = load_dataset("fashion_mnist")
    x = data.x_test[:n].reshape(-1, 28, 28)
    same = sum(np.array_equal(garment(i.astype(np.float32))[0], i) for i in x)
    peaks = data.x_train.reshape(len(data.x_train), -1).max(axis=1)
    print(f"Fashion-MNIST: {same:,} of {len(x):,} test images through the garments' clean-up pixel "
          f"for pixel; its {len(peaks):,} training images' brightest pixel {peaks.min()}-{peaks.max()} "
          f"({(peaks == 255).mean():.1%} at 255)")


if __name__ == "__main__":
    main()
