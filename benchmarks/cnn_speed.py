"""Where a small CNN's time goes on this CPU (issue 10): single layers, whole epochs, variants.

    python benchmarks/cnn_speed.py layers            # one conv's forward+backward, float32 and bf16
    python benchmarks/cnn_speed.py epochs qh16_64:256 quick24:256 [--threads 2,1]
    python benchmarks/cnn_speed.py quick '[{"batch_size": 128}, {"learning_rate": 5e-3}]'

`layers` times `tf.nn.conv2d` with its gradients at batch 256 (GFLOP/s from the arithmetic);
`epochs` times three steady epochs of a `cnn_designs.py` design on 54,000 images after a warm-up
fit; `quick` trains `cnn_quick` through the Train tab's path (`bench.registry_fit`) with each
dict of settings overrides and prints test accuracy and training seconds per epoch.
Run alone: this machine's speed swings 2x from minute to minute under other load.
"""
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

LAYERS = [(14, 16, 32), (14, 24, 48), (14, 32, 64), (14, 48, 48), (7, 64, 96), (7, 48, 96),
          (7, 64, 64), (28, 1, 16), (28, 1, 32), (28, 16, 16), (28, 32, 32)]


def bench_layer(hw: int, cin: int, cout: int, dtype, k: int = 3, n: int = 256, reps: int = 20):
    import tensorflow as tf
    x = tf.cast(tf.random.normal((n, hw, hw, cin)), dtype)
    w = tf.Variable(tf.cast(tf.random.normal((k, k, cin, cout)) * 0.1, dtype))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, 1, "SAME")
            loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
        return tape.gradient(loss, [x, w])

    step(x)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            step(x)
        times.append((time.perf_counter() - t) / reps)
    seconds = sorted(times)[1]
    flops = 2 * 3 * hw * hw * cin * cout * k * k * n  # forward, and two backward products
    print(f"{hw}x{hw} {cin}->{cout} {dtype.name}: {seconds * 1000:.1f} ms a step, "
          f"{flops / seconds / 1e9:.0f} GFLOP/s", flush=True)


def layers() -> None:
    import tensorflow as tf
    for shape in LAYERS:
        bench_layer(*shape, tf.float32)
    for shape in ((14, 32, 64), (28, 1, 32), (14, 16, 32)):
        bench_layer(*shape, tf.bfloat16)


def epochs(specs: list[str], threads: str | None) -> None:
    import keras
    import tensorflow as tf
    from cnn_designs import design

    from classifier.data.datasets import load_fashion_mnist
    if threads:
        intra, inter = (int(v) for v in threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    d = load_fashion_mnist()
    x, y = d.x_train[:54_000], d.y_train[:54_000]
    for spec in specs:
        kind, batch = spec.split(":")
        model = design(kind)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"], steps_per_execution=32)
        model.fit(x[:8192], y[:8192], batch_size=int(batch), epochs=1, verbose=0)  # warm up
        times = []
        for _ in range(3):
            t = time.perf_counter()
            model.fit(x, y, batch_size=int(batch), epochs=1, verbose=0)
            times.append(round(time.perf_counter() - t, 2))
        print(spec, f"threads {threads or 'default'}:", times, "s an epoch", flush=True)


def quick(variants: list[dict]) -> None:
    from bench import data, registry_fit
    d = data(False)
    for overrides in variants:
        log = []
        registry_fit(d, "cnn_quick", overrides, log, False)
        print(json.dumps({"overrides": overrides,
                          "epoch_seconds_accuracy": [(e, round(s, 1), a) for e, s, a in log]}),
              flush=True)


def main() -> None:
    mode, *rest = sys.argv[1:] or ["layers"]
    if mode == "layers":
        layers()
    elif mode == "epochs":
        threads = rest[rest.index("--threads") + 1] if "--threads" in rest else None
        epochs([r for r in rest if ":" in r], threads)
    elif mode == "quick":
        quick(json.loads(rest[0]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
