"""The speed benchmarks: `python benchmarks/bench.py all` prints every table (BENCHMARKS.md).

Sections: time-to-accuracy (the tutorials' recipe vs the app's training path), the live-curve
callback's overhead, per-model seconds per epoch, prediction latency in the server and through
gradio_client, cold start, and memory over 20 trainings. `--quick` runs each on a tiny setting
(the CI test uses it). Figures are medians of `--repeats` runs; comparisons are ratios measured
side by side in one run, because this machine is shared and noisy.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from classifier.data.datasets import load_fashion_mnist  # noqa: E402


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(_fmt(v) for v in row) + " |")
    sys.stdout.flush()


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if v < 1 else f"{v:.2f}"
    return str(v)


def data(quick: bool):
    d = load_fashion_mnist()
    return d.subset(2000, 1000) if quick else d


# ------------------------------------------------------------------ 1. time to accuracy
def _test_accuracy_callback(x_test, y_test, log: list):
    """Logs (epoch, training seconds so far, test accuracy) at each epoch end; the time spent
    evaluating is excluded from the training seconds."""
    import keras

    class TestAccuracy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0, self.excluded = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            p = np.asarray(self.model.predict_on_batch(x_test))
            log.append((epoch + 1, start - self.t0 - self.excluded,
                        float((p.argmax(1) == y_test).mean())))
            self.excluded += time.perf_counter() - start
    return TestAccuracy()


def recipe_fit(d, epochs: int, log: list) -> None:
    """The tutorials' recipe: x / 255.0 (float64), Flatten-Dense(128)-Dense(10), adam, batch 32."""
    import keras
    x_train, x_test = d.x_train[..., 0] / 255.0, d.x_test[..., 0] / 255.0
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, d.y_train, epochs=epochs, verbose=0,
              callbacks=[_test_accuracy_callback(x_test, d.y_test, log)])


def app_fit(d, epochs: int, log: list) -> None:
    """The Train tab's path: registry MLP, default settings, live metrics callback on."""
    import keras

    from classifier.core.settings import TrainSettings
    from classifier.models.registry import build_model
    from classifier.training import loop as training
    settings = TrainSettings(epochs=epochs, batch_size=64)
    keras.utils.set_random_seed(0)
    model = build_model("mlp", d.image_shape, 10, settings)
    cb = _test_accuracy_callback(d.x_test.astype(np.float32), d.y_test, log)
    training.train(model, d, settings, on_metrics=[].append, callbacks=[cb])


def time_to(log: list, target: float):
    for epoch, seconds, acc in log:
        if acc >= target:
            return seconds, epoch
    return None, None


def bench_time_to_accuracy(args) -> None:
    d = data(args.quick)
    target = 0.75 if args.quick else 0.88
    epochs = 2 if args.quick else args.epochs
    rows, ratios = [], []
    for r in range(args.repeats):
        logs = {}
        for name, fit in (("tutorials' recipe", recipe_fit), ("app default (MLP)", app_fit)):
            logs[name] = []
            fit(d, epochs, logs[name])
            sec, ep = time_to(logs[name], target)
            best = max(a for _, _, a in logs[name])
            total = logs[name][-1][1]
            rows.append([r + 1, name, f"{sec:.2f} s (epoch {ep})" if sec else f"not reached in {epochs}",
                         round(best, 4), round(total, 2)])
        a, b = (time_to(logs[n], target)[0] for n in logs)
        ratios.append((a or logs["tutorials' recipe"][-1][1]) / (b or float("inf")))
    table(f"Time to {target} test accuracy, Fashion-MNIST ({len(d.x_train):,} train images)",
          ["run", "path", f"time to {target}", "best test acc", f"{epochs} epochs, s"], rows)
    print(f"\nmedian speed-up (recipe time, or its full {epochs} epochs if it never gets there, "
          f"over the app's): {statistics.median(ratios):.1f}x")


# ------------------------------------------------------------------ 2. callback overhead
def bench_overhead(args) -> None:
    import keras

    from classifier.core.settings import TrainSettings
    from classifier.models.registry import build_model
    from classifier.training.loop import _live_callback_class
    d = data(args.quick)
    epochs = 1 if args.quick else 3
    settings = TrainSettings(batch_size=64)
    times = {"without": [], "with": []}
    for _ in range(args.repeats):
        for mode in ("without", "with"):  # interleaved, so drift hits both alike
            keras.utils.set_random_seed(0)
            model = build_model("mlp", d.image_shape, 10, settings)
            model.fit(d.x_train[:256], d.y_train[:256], epochs=1, verbose=0)  # compile outside
            cbs = [_live_callback_class()([].append, epochs)] if mode == "with" else []
            t = time.perf_counter()
            model.fit(d.x_train, d.y_train, batch_size=64, epochs=epochs, verbose=0, callbacks=cbs)
            times[mode].append(time.perf_counter() - t)
    a, b = statistics.median(times["without"]), statistics.median(times["with"])
    table("Live-curve callback overhead (MLP, batch 64, steps_per_execution 16)",
          ["fit", f"median s ({epochs} epochs)", "runs"],
          [["without callback", a, len(times["without"])], ["with the app's callback", b,
                                                             len(times["with"])]])
    print(f"\noverhead: {100 * (b / a - 1):+.1f}%")


# ------------------------------------------------------------------ 3. per-model epochs
def bench_models(args) -> None:
    from classifier.core.settings import TrainSettings
    from classifier.models.registry import MODELS
    from classifier.training.run import run_training
    d = data(args.quick)
    keys = args.models.split(",") if args.models else [k for k in MODELS if k != "mobilenetv2"]
    rows = []
    for key in keys:
        epochs = 1 if args.quick else (args.model_epochs or MODELS[key].default_epochs)
        run = run_training(d, key, TrainSettings(epochs=epochs, pretrained=False))
        steady = run.result.epoch_seconds[1:] or run.result.epoch_seconds
        rows.append([key, f"{run.model.count_params():,}", epochs,
                     round(run.result.epoch_seconds[0], 2), round(statistics.median(steady), 2),
                     round(run.result.seconds, 1), round(run.evaluation.accuracy, 4)])
    table(f"Every model on Fashion-MNIST ({len(d.x_train):,} train images, default settings)",
          ["model", "parameters", "epochs", "first epoch s", "median later epoch s",
           "training s", "test accuracy"], rows)


# ------------------------------------------------------------------ 4. prediction latency
def _drawing() -> np.ndarray:
    a = np.zeros((280, 280), np.uint8)
    a[40:240, 120:160] = 255
    return a


def bench_latency(args) -> None:
    from classifier.inference.predict import Predictor
    from classifier.models.registry import build_model
    from classifier.serving.session import shipped_names, shipped_predictor
    n = 20 if args.quick else 200
    sketch = {"background": None, "layers": [], "composite": _drawing()}
    rows = []
    predictors = {name: shipped_predictor(name) for name in shipped_names()}
    for key in ("mlp", "cnn", "cnn_bn"):
        predictors[f"{key} (fresh)"] = Predictor(build_model(key, (28, 28, 1), 10),
                                                 [str(i) for i in range(10)], "mnist")
    for name, predictor in predictors.items():
        predictor.predict(sketch)  # warm up
        runs = []
        for _ in range(args.repeats):
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                predictor.predict(sketch)
                samples.append(time.perf_counter() - t)
            runs.append((np.percentile(samples, 50), np.percentile(samples, 95)))
        p50, p95 = (statistics.median(r[i] for r in runs) * 1000 for i in (0, 1))
        rows.append([name, round(p50, 2), round(p95, 2)])
    base = predictors["mlp (fresh)"]
    t = time.perf_counter()
    for _ in range(10 if args.quick else 30):
        base.model.predict(base.prepare(sketch).batch, verbose=0)
    rows.append(["mlp via model.predict (for comparison)",
                 round((time.perf_counter() - t) / (10 if args.quick else 30) * 1000, 2), "-"])
    table(f"Server-side prediction: 280x280 drawing to probabilities, {n} calls x "
          f"{args.repeats} runs", ["model", "p50 ms", "p95 ms"], rows)


def _launch_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _first_predict(port: int, image: str, deadline: float):
    from gradio_client import Client, handle_file
    while time.time() < deadline:
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            client.predict("Fashion-MNIST: MLP (shipped)", handle_file(image), api_name="/predict")
            return client
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("the app did not answer in time")


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw_http_latency(port: int, image: str, n: int) -> tuple[float, float]:
    """p50/p95 of /predict over plain HTTP (POST /gradio_api/call, then read the event
    stream), the image uploaded once: the server's whole path without gradio_client."""
    import httpx
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/") as http:
        path = http.post("gradio_api/upload", files={"files": open(image, "rb")}).json()[0]
        payload = {"data": ["Fashion-MNIST: MLP (shipped)",
                            {"path": path, "meta": {"_type": "gradio.FileData"}}]}
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            event = http.post("gradio_api/call/predict", json=payload).json()["event_id"]
            with http.stream("GET", f"gradio_api/call/predict/{event}") as stream:
                if not any(line.startswith("event: complete") for line in stream.iter_lines()):
                    raise RuntimeError("/predict did not complete")
            samples.append(time.perf_counter() - t)
    return np.percentile(samples, 50), np.percentile(samples, 95)


def bench_app(args) -> None:
    """Cold start (launch to first prediction through the API) and client-side latency."""
    from gradio_client import handle_file
    image = str(ROOT / "assets" / "examples" / "fashion-sneaker.png")
    starts, lat, raw = [], [], []
    for _ in range(args.repeats):
        port = _free_port()
        t = time.perf_counter()
        proc = _launch_app(port)
        try:
            client = _first_predict(port, image, time.time() + 120)
            starts.append(time.perf_counter() - t)
            samples = []
            for _ in range(20 if args.quick else 200):
                t1 = time.perf_counter()
                client.predict("Fashion-MNIST: MLP (shipped)", handle_file(image), api_name="/predict")
                samples.append(time.perf_counter() - t1)
            lat.append((np.percentile(samples, 50), np.percentile(samples, 95)))
            raw.append(_raw_http_latency(port, image, 20 if args.quick else 200))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    table("The running app (python app.py), through gradio_client",
          ["measure", "median", "runs"],
          [["cold start: launch to first /predict answer, s", statistics.median(starts), len(starts)],
           ["/predict p50, ms", statistics.median(l[0] for l in lat) * 1000, len(lat)],
           ["/predict p95, ms", statistics.median(l[1] for l in lat) * 1000, len(lat)],
           ["/predict over plain HTTP p50, ms", statistics.median(r[0] for r in raw) * 1000, len(raw)],
           ["/predict over plain HTTP p95, ms", statistics.median(r[1] for r in raw) * 1000, len(raw)]])


# ------------------------------------------------------------------ 7. memory
def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(args) -> None:
    from classifier.core.settings import TrainSettings
    from classifier.training.run import run_training
    d = data(True)  # memory growth does not need full-size data
    n = 4 if args.quick else 20
    rss = []
    for _ in range(n):
        run_training(d, "mlp", TrainSettings(epochs=1))
        rss.append(_rss_mb())
    table(f"Resident memory after each of {n} trainings in one process (MLP, 1 epoch)",
          ["after training", "RSS MB"], [[i + 1, round(m, 1)] for i, m in enumerate(rss)])
    print(f"\ngrowth from the first to the last: {rss[-1] - rss[0]:+.1f} MB")


# ------------------------------------------------------------------ 8. the CNNs' time to accuracy
CNN_TARGETS = (0.88, 0.90, 0.92, 0.925, 0.93)
# (row name, model key, settings beyond the model's defaults)
CNN_RUNS = (("cnn_quick (default)", "cnn_quick", {}),
            ("cnn_bn (default)", "cnn_bn", {}),
            ("cnn, tutorial CNN (new default)", "cnn", {}),
            ("cnn, tutorial CNN (old default)", "cnn",
             dict(batch_size=64, learning_rate=1e-3, warmup=0.0, epochs=5)))


def registry_fit(d, key: str, overrides: dict, log: list, quick: bool):
    """The Train tab's path (`run.model_settings`, `build_model`, `training.train` with the
    live-metrics callback) with a test-accuracy callback added."""
    import keras

    from classifier.core.settings import TrainSettings
    from classifier.models.registry import build_model
    from classifier.training import loop as training
    from classifier.training.run import model_settings
    s = model_settings(key, TrainSettings(**overrides))
    if quick:
        s = model_settings(key, TrainSettings(**{**overrides, "epochs": 1}))
    keras.utils.set_random_seed(s.seed)
    model = build_model(key, d.image_shape, d.num_classes, s, d.x_train)
    cb = _test_accuracy_callback(d.x_test, d.y_test, log)
    result = training.train(model, d, s, on_metrics=[].append, callbacks=[cb])
    return model, result


def per_class_share(d, model, result) -> float:
    """What the per-class heat-map's scoring (PER_CLASS_MAX_IMAGES validation images, each epoch)
    costs, as a share of the run's median epoch."""
    from classifier.training import loop as training
    x, y = training._spread(d.x_test, d.y_test, training.PER_CLASS_MAX_IMAGES)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        training.per_class_accuracy(model, x, y, d.num_classes)
        times.append(time.perf_counter() - t)
    return statistics.median(times) / statistics.median(result.epoch_seconds)


def bench_cnn(args) -> None:
    """Seconds to each target test accuracy, for the CNNs at their defaults, each beside the
    tutorials' MLP recipe (5 epochs) run in the same repeat; medians over repeats."""
    d = data(args.quick)
    runs = [r for r in CNN_RUNS if not args.models or r[1] in args.models.split(",")]
    rows, per_run = [], {name: [] for name, _, _ in runs}
    recipe_times, scoring = [], {name: [] for name, _, _ in runs}
    for r in range(args.repeats):
        log = []
        recipe_fit(d, 1 if args.quick else 5, log)
        recipe_times.append(log[-1][1])
        per_run.setdefault("MLP recipe (5 epochs)", []).append(log)
        for name, key, overrides in runs:
            log = []
            model, result = registry_fit(d, key, overrides, log, args.quick)
            per_run[name].append(log)
            scoring[name].append(per_class_share(d, model, result))
    recipe = statistics.median(recipe_times)
    for name, logs in per_run.items():
        cells = []
        for target in CNN_TARGETS:
            times = [time_to(log, target)[0] for log in logs]
            reached = [t for t in times if t is not None]
            if len(reached) * 2 > len(times):  # reached in most repeats: the median of those
                t = statistics.median(reached)
                cells.append(f"{t:.1f} s ({t / recipe:.2f}x)")
            else:
                cells.append(f"not reached ({len(reached)}/{len(times)})")
        final = statistics.median(log[-1][2] for log in logs)
        total = statistics.median(log[-1][1] for log in logs)
        rows.append([name, *cells, round(final, 4), f"{total:.1f} s ({len(logs[0])} ep)"])
    table(f"Seconds of training to each test accuracy, Fashion-MNIST ({len(d.x_train):,} train "
          f"images), median of {args.repeats}; (x) = over the MLP recipe's 5 epochs, "
          f"{recipe:.1f} s", ["run", *(f"to {t}" for t in CNN_TARGETS), "final test acc",
                             "training"], rows)
    print("\nper-class scoring each epoch (the heat-map), share of a median epoch: " +
          ", ".join(f"{name} {100 * statistics.median(v):.1f}%" for name, v in scoring.items()))


SECTIONS = {"time-to-accuracy": bench_time_to_accuracy, "overhead": bench_overhead,
            "models": bench_models, "latency": bench_latency, "app": bench_app,
            "memory": bench_memory, "cnn": bench_cnn}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sections", nargs="+", choices=[*SECTIONS, "all"])
    p.add_argument("--quick", action="store_true", help="tiny settings (seconds, for tests)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10, help="epochs for time-to-accuracy")
    p.add_argument("--models", help="comma-separated model keys for the models section")
    p.add_argument("--model-epochs", type=int, help="override each model's default epochs")
    args = p.parse_args()
    if args.quick:
        args.repeats = 1
    names = list(SECTIONS) if "all" in args.sections else args.sections
    print(f"benchmarks: {' '.join(names)}; repeats {args.repeats}; {os.cpu_count()} CPUs")
    for name in names:
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
