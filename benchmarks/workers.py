"""Trainings in worker processes against trainings in the server's own process (issue 11).

    python benchmarks/workers.py first-point [--repeats 5]   # Train -> first curve point
    python benchmarks/workers.py throughput                  # 8 trainings queued, 1 vs 2 slots
    python benchmarks/workers.py predict-latency             # /predict idle vs during a CNN run

`first-point` alternates an in-process run (`InlineTrainer`, what the app did before) and a run
in a warm worker (`ProcessTrainer`), for the MLP and the Quick CNN on Fashion-MNIST, and prints
the medians of the seconds from submitting to the first metric point and to the finished run
(the model back in this process). `throughput` submits 8 one-epoch MLP trainings at once to a
`ProcessTrainer` with 1 slot (2 threads) and with 2 slots (1 thread each), and prints the wall
time until all 8 are back. `predict-latency` starts `python app.py` and times /predict over plain
HTTP (p50, p95 of 100 calls) idle, then while a client trains the tutorial CNN, same server.
Server memory over many trainings: `benchmarks/stress.py uptime`.
Run alone: this machine's speed swings under other load.
"""
import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed_run(data, key: str, settings, back_end) -> tuple[float, float]:
    """(seconds to the first point, seconds to the finished run)."""
    from classifier.backends.choice import train_stream
    t0, first = time.perf_counter(), None
    for item in train_stream(data, key, settings, threading.Event(), back_end=back_end):
        if isinstance(item, list) and first is None:
            first = time.perf_counter() - t0
    return first, time.perf_counter() - t0


def first_point(repeats: int) -> None:
    from classifier.backends.inline import InlineTrainer
    from classifier.backends.processes import ProcessTrainer
    from classifier.core.settings import TrainSettings
    from classifier.data.datasets import load_fashion_mnist
    data = load_fashion_mnist()
    workers = ProcessTrainer(slots=1).start()
    back_ends = {"in-process": InlineTrainer(), "worker": workers}
    for name, back_end in back_ends.items():  # warm both: the server is warm, so is a worker
        timed_run(data, "mlp", TrainSettings(epochs=1), back_end)
    times = {(key, name): [] for key in ("mlp", "cnn_quick") for name in back_ends}
    for r in range(repeats):
        for key in ("mlp", "cnn_quick"):
            for name in (list(back_ends) if r % 2 == 0 else list(back_ends)[::-1]):
                out = timed_run(data, key, TrainSettings(epochs=1), back_ends[name])
                times[key, name].append(out)
                print(f"repeat {r + 1} {key} {name}: first point {out[0]:.2f} s, "
                      f"run back {out[1]:.1f} s", flush=True)
    workers.close()
    print(f"\nmedians of {repeats} (1 epoch each, Fashion-MNIST)")
    print("| model | where | first point s | run back s |")
    print("|---|---|---|---|")
    for (key, name), outs in times.items():
        print(f"| {key} | {name} | {statistics.median(o[0] for o in outs):.2f} | "
              f"{statistics.median(o[1] for o in outs):.1f} |")


def throughput(jobs: int = 8) -> None:
    from classifier.backends.choice import train_stream
    from classifier.backends.processes import ProcessTrainer
    from classifier.core.settings import TrainSettings
    from classifier.data.datasets import load_fashion_mnist
    data = load_fashion_mnist()
    rows = []
    for slots in (1, 2):
        workers = ProcessTrainer(slots=slots).start()
        timed_run(data, "mlp", TrainSettings(epochs=1), workers)  # wait until warm
        time.sleep(15)  # and the other slots' workers too
        ends = []

        def one() -> None:
            for _ in train_stream(data, "mlp", TrainSettings(epochs=1), threading.Event(),
                                  back_end=workers):
                pass
            ends.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(jobs)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        workers.close()
        rows.append((slots, workers.threads, max(ends), statistics.median(ends)))
        print(f"{slots} slot(s): all {jobs} back in {max(ends):.1f} s", flush=True)
    print(f"\n{jobs} one-epoch MLP trainings submitted at once")
    print("| slots | threads each | all back s | median back s | trainings a minute |")
    print("|---|---|---|---|---|")
    for slots, threads, last, median in rows:
        print(f"| {slots} | {threads} | {last:.1f} | {median:.1f} | {jobs / last * 60:.1f} |")


def predict_latency(calls: int = 100) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench import _raw_http_latency
    from gradio_client import Client
    from stress import EXAMPLES, _server, _stop
    proc, port = _server()
    try:
        idle = _raw_http_latency(port, EXAMPLES[0], calls)
        trainer = Client(f"http://127.0.0.1:{port}/", verbose=False)
        job = trainer.submit("cnn", 50, 256, "recipe's own", 0, "cosine", 0.1, 0, api_name="/train")
        deadline = time.time() + 120
        while not any("poch" in str(u[2]) for u in job.outputs()) and time.time() < deadline:
            time.sleep(0.5)
        busy = _raw_http_latency(port, EXAMPLES[0], calls)
        status = str(job.outputs()[-1][2])[:80]
        job.cancel()
    finally:
        _stop(proc)
    print(f"\n/predict over plain HTTP, {calls} calls each, one server (training: {status!r})")
    print("| while | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| idle | {idle[0] * 1000:.1f} | {idle[1] * 1000:.1f} |")
    print(f"| a CNN trains (in a worker process) | {busy[0] * 1000:.1f} | {busy[1] * 1000:.1f} |")
    print(f"p50 ratio {busy[0] / idle[0]:.2f}x")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("section", choices=["first-point", "throughput", "predict-latency"])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.section == "first-point":
        first_point(args.repeats)
    elif args.section == "throughput":
        throughput()
    else:
        predict_latency()


if __name__ == "__main__":
    main()
