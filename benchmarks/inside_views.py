"""How long the "Inside the network" tab takes per view, for every registry model.

    python benchmarks/inside_views.py [--repeats 5]
    python benchmarks/inside_views.py --app     # the app's handlers on the shipped models

Builds each model with random weights (timing does not depend on them; MobileNetV2 without its
ImageNet weights, so it runs offline) and prints, in milliseconds, the first call (which builds
and traces the cached sub-model) and the median of `--repeats` later calls of
`layer_views` + `network_picture` and of `first_layer_filters` + `filters_picture`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from classifier.core.settings import TrainSettings  # noqa: E402
from classifier.models.registry import MODELS, build_model  # noqa: E402
from classifier.views.inside import first_layer_filters, layer_views  # noqa: E402
from classifier.views.network_pictures import filters_picture, network_picture  # noqa: E402

PHOTO = {"mobilenetv2": (160, 160, 3)}          # the tutorial's cats vs dogs size
EXTRA = [("cnn_bn", (64, 64, 3))]               # an image folder's photos
CLASSES = [f"class {k}" for k in range(10)]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(first call, median of `repeats` later calls) in milliseconds."""
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times[0], statistics.median(times[1:])


def app_views(repeats: int) -> None:
    """Each view of issue 12 as the page asks for it (the app's handlers, a session holding a
    drawing), on the shipped MLP and CNN: first call and median of later ones, in ms."""
    os.environ.setdefault("CLASSIFIER_TRAINER", "inline")
    from classifier.serving.session import ASSETS, Session
    from classifier.ui import inside_tab, predict_tab
    mlp, cnn = "Fashion-MNIST: MLP (shipped)", "Fashion-MNIST: our CNN (shipped)"
    print(f"{'view':<50} {'model':<5} {'first ms':>8} {'median ms':>9}")
    for short, name, other in (("MLP", mlp, cnn), ("CNN", cnn, mlp)):
        session = Session()
        session.active_model, session.last_image = name, str(Path(ASSETS) / "examples"
                                                             / "fashion-sneaker.png")
        views = {
            "Inside: every layer + filters (the drawing)": lambda: inside_tab.show_inside(session, "drawing", 0),
            "Inside: every layer + filters (a test image)": lambda: inside_tab.show_inside(session, "test", 0),
            "Inside: a click enlarges a map": lambda: inside_tab.enlarge_map(
                session, type("E", (), {"index": [36, 188]})()),
            "Map: PCA of 2,000 test images (first, then kept)": lambda: inside_tab.show_map(
                session, None, "pca", 0),
            "Map: both models side by side (kept)": lambda: inside_tab.show_map(session, other, "pca", 0),
            "Map: t-SNE of the same 2,000 (made, then kept)": lambda: inside_tab.show_map(
                session, None, "tsne", 0),
            "What breaks it: the sliders' answer": lambda: predict_tab.show_changed(
                session, name, 0, 3, 0, 10, 1, 0, 0, 0),
            "What breaks it: a 17-step shift sweep, two models": lambda: predict_tab.show_sweep(
                session, name, other, "shift_right", 0),
        }
        for label, fn in views.items():
            first, median = timed(fn, repeats)
            print(f"{label:<50} {short:<5} {first:>8.0f} {median:>9.0f}", flush=True)
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--app", action="store_true", help="time the app's handlers instead")
    args = parser.parse_args()
    if args.app:
        return app_views(args.repeats)
    rows = [(k, PHOTO.get(k, (28, 28, 1))) for k in MODELS] + EXTRA
    print(f"{'model':<12} {'input':<10} {'views':>5} {'height':>6} "
          f"{'views first':>11} {'views ms':>8} {'filters first':>13} {'filters ms':>10}")
    for key, shape in rows:
        model = build_model(key, shape, len(CLASSES), TrainSettings(pretrained=False))
        batch = np.random.default_rng(0).integers(0, 256, size=(1, *shape)).astype(np.uint8)
        picture = []
        v_first, v_med = timed(lambda: picture.append(
            network_picture(layer_views(model, batch), CLASSES)), args.repeats)
        f_first, f_med = timed(lambda: filters_picture(first_layer_filters(model)), args.repeats)
        size = "x".join(map(str, shape))
        print(f"{key:<12} {size:<10} {len(picture[0].headers):>5} {picture[0].image.shape[0]:>6} "
              f"{v_first:>11.0f} {v_med:>8.0f} {f_first:>13.0f} {f_med:>10.0f}")


if __name__ == "__main__":
    main()
