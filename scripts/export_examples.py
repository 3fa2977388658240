"""Write a few test-set images to assets/examples/ for the Predict tab's example row."""
from pathlib import Path

import numpy as np
from PIL import Image

from classifier.data.datasets import load_fashion_mnist, load_mnist

OUT = Path(__file__).resolve().parent.parent / "assets" / "examples"


def export(dataset, prefix: str, classes=None) -> None:
    """The first test image of each class (or of the given class indices)."""
    for c in classes if classes is not None else range(dataset.num_classes):
        i = np.flatnonzero(dataset.y_test == c)[0]
        slug = dataset.class_names[c].lower().replace("/", "-").replace(" ", "-")
        Image.fromarray(dataset.x_test[i][..., 0]).save(OUT / f"{prefix}-{slug}.png")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    export(load_fashion_mnist(), "fashion")
    export(load_mnist(), "digit", classes=[0, 3, 6, 9])
    print(f"wrote {len(list(OUT.glob('*.png')))} images to {OUT}")
