"""Seconds per training as a one-CPU Ray task: the README's classroom arithmetic (issue 11).

    ray start --head --num-cpus=1 --disable-usage-stats   # a one-node cluster, one CPU
    python benchmarks/ray_seconds.py 127.0.0.1:6379

Trains the 5-epoch MLP and the Quick CNN (each model's defaults, Fashion-MNIST) twice each
through `RayTrainer.stream` and prints one JSON line per run: seconds from submit to the model
home, seconds of training, first point, test accuracy, the worker's peak resident memory and
the machine's load. Run alone.
"""
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(next(line for line in f if line.startswith("VmRSS")).split()[1]) // 1024
    except (OSError, StopIteration):
        return None


def main(address: str) -> None:
    from classifier.backends.jobs import Job
    from classifier.backends.ray_cluster import RayTrainer
    from classifier.core.settings import TrainSettings
    from classifier.data.datasets import load_fashion_mnist
    trainer = RayTrainer(address).start(wait=300)
    data = load_fashion_mnist()
    for model, epochs in [("mlp", 5), ("cnn_quick", None)] * 2:
        t0, first, peak, record = time.monotonic(), None, 0, None
        for item in trainer.stream(Job.of(data, model, TrainSettings(epochs=epochs)),
                                   threading.Event()):
            if isinstance(item, list):
                first = first or time.monotonic() - t0
                for pid in trainer.busy_pids():
                    peak = max(peak, rss_mb(pid) or 0)
            else:
                record = item
        print(json.dumps({"model": model, "epochs": record.result.epochs_done,
                          "wall_s": round(time.monotonic() - t0, 1),
                          "train_s": round(record.result.seconds, 1),
                          "first_point_s": round(first, 2),
                          "test_accuracy": round(record.evaluation.accuracy, 4),
                          "worker_rss_mb": peak, "load1": os.getloadavg()[0]}), flush=True)
    trainer.close()


if __name__ == "__main__":
    main(sys.argv[1])
