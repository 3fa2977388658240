"""A class of N students pressing Train together, and a visitor predicting meanwhile (issue 24).

    python benchmarks/classroom.py                    # N = 10, 20, 30, the Quick CNN
    python benchmarks/classroom.py --n 30 --json out.json
    python benchmarks/classroom.py --n 30 --env RAY_ADDRESS=127.0.0.1:6379  # on a Ray cluster
    python benchmarks/classroom.py --app /tmp/before  # the same against another checkout
    python benchmarks/classroom.py --n 30 --slots 4 --env RAY_ADDRESS=...  # a cluster's slots
    python benchmarks/classroom.py --n 30 --ray-nodes 2   # on a two-node Ray cluster it starts here

For each N: `python app.py` on a free local port (fresh); a visitor's /predict timed for 10 s
while nothing trains (idle); one student's run alone (the floor: N runs take at least
ceil(N / slots) such rounds); then N students, each a gradio_client session of its own from the
same address (one school, one network), press Train on the Quick CNN (its own settings) within
3 s, while the visitor calls /predict every 0.25 s until the last run ends. Printed per N:
refused, errors, median and last finish (seconds from the first press), the waiting estimates'
honesty (a student's first "should start in about X" against when it started), and the
visitor's /predict median and worst (and its idle median). Run alone: the machine's two cores
are the thing measured.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, _free_port, table  # noqa: E402
from stress import _cheaper_clients  # noqa: E402

SNEAKER = ROOT / "assets" / "examples" / "fashion-sneaker.png"
PREDICT_MODEL = "Fashion-MNIST: MLP (shipped)"
LAB = [100, 0, "the recipe's own", "off"]
ESTIMATE = re.compile(r"should start in about (\d+) (s|min)")


def _app(root: Path, port: int, env: dict) -> subprocess.Popen:
    folder = Path(tempfile.mkdtemp(prefix="classroom-"))
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "CLASSIFIER_DB": str(folder / "classes.sqlite"), "GRADIO_TEMP_DIR": str(folder), **env}
    log = open(folder / "server.log", "w")
    print(f"server log: {folder / 'server.log'}", flush=True)
    return subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _ready(url: str, deadline: float):
    from gradio_client import Client, handle_file
    while time.time() < deadline:
        try:
            client = Client(url, verbose=False)
            client.predict(PREDICT_MODEL, handle_file(str(SNEAKER)), api_name="/predict")
            return client
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("the app did not start")


class Visitor(threading.Thread):
    """/predict every `every` s until stopped; each call's seconds."""

    def __init__(self, client, every: float = 0.25):
        super().__init__(daemon=True)
        self.client, self.every, self.seconds, self.errors = client, every, [], []
        self.on = threading.Event()
        self.on.set()

    def run(self):
        from gradio_client import handle_file
        while self.on.is_set():
            t = time.perf_counter()
            try:
                self.client.predict(PREDICT_MODEL, handle_file(str(SNEAKER)), api_name="/predict")
                self.seconds.append(time.perf_counter() - t)
            except Exception as exc:
                self.errors.append(repr(exc)[:200])
            time.sleep(max(0.0, self.every - (time.perf_counter() - t)))

    def stop(self):
        self.on.clear()
        self.join(timeout=60)


class Student:
    """One student's gradio_client session: presses Train, notes what it is told and when."""

    def __init__(self, url: str, model: str):
        from gradio_client import Client
        self.client, self.model = Client(url, verbose=False), model
        self.job = None
        self.pressed = self.started = self.finished = None
        self.first_estimate = None  # (when shown, seconds it said)
        self.error = self.refused = None
        self.status = ""

    def press(self, t0: float):
        self.pressed = time.monotonic() - t0
        self.job = self.client.submit(self.model, 2, 128, "recipe's own", 0, "cosine", 0.1, 0,
                                      *LAB, api_name="/train")

    def look(self, t0: float):
        """Read the status so far (called every 0.25 s)."""
        if self.job is None or self.finished is not None:
            return
        outputs = self.job.outputs()
        status = str(outputs[-1][2]) if outputs else ""
        now = time.monotonic() - t0
        if status != self.status:
            self.status = status
            found = ESTIMATE.search(status)
            if found and self.first_estimate is None:
                self.first_estimate = (now, int(found[1]) * (60 if found[2] == "min" else 1))
            if self.started is None and ("Epoch" in status or "Starting" in status
                                         or "building" in status):
                self.started = now
        if self.job.done():
            self.finished = now
            try:
                result = self.job.result()
                self.status = str(result[2])
                if "Test accuracy" not in self.status:
                    self.error = self.status[:200]
            except Exception as exc:
                text = str(exc)
                if "busy" in text or "network" in text or "already" in text:
                    self.refused = text[:200]
                else:
                    self.error = text[:200]


def one_class(root: Path, n: int, model: str, env: dict, slots: int = 2) -> dict:
    _cheaper_clients()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = _app(root, port, env)
    try:
        visitor_client = _ready(url, time.time() + 300)
        idle = []
        from gradio_client import handle_file
        end = time.monotonic() + 10
        while time.monotonic() < end:
            t = time.perf_counter()
            visitor_client.predict(PREDICT_MODEL, handle_file(str(SNEAKER)), api_name="/predict")
            idle.append(time.perf_counter() - t)
            time.sleep(0.25)
        alone = Student(url, model)  # the floor: one run with the server to itself
        t_alone = time.monotonic()
        alone.press(t_alone)
        while alone.finished is None:
            alone.look(t_alone)
            time.sleep(0.25)
        students = [Student(url, model) for _ in range(n)]
        visitor = Visitor(visitor_client)
        rng = random.Random(n)
        presses = sorted((rng.uniform(0, 3), s) for s in students)
        t0 = time.monotonic()
        visitor.start()
        for at, student in presses:  # within 3 s
            time.sleep(max(0.0, at - (time.monotonic() - t0)))
            student.press(t0)
        deadline = t0 + 1800
        while time.monotonic() < deadline and any(s.finished is None for s in students):
            for s in students:
                s.look(t0)
            time.sleep(0.25)
        visitor.stop()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    done = [s for s in students if s.finished is not None and not s.refused and not s.error]
    finish = sorted(s.finished for s in done)
    honest = [abs((s.started or s.finished) - (s.first_estimate[0] + s.first_estimate[1]))
              for s in done if s.first_estimate]
    ms = sorted(x * 1000 for x in visitor.seconds)
    figures = {
        "students": n, "model": model, "refused": sum(bool(s.refused) for s in students),
        "errors": sum(bool(s.error) for s in students), "finished": len(done),
        "one_alone_s": round(alone.finished, 1),
        "floor_s": round(alone.finished * math.ceil(n / slots), 1),  # rounds of `slots` runs
        "median_finish_s": round(statistics.median(finish), 1) if finish else None,
        "last_finish_s": round(finish[-1], 1) if finish else None,
        "estimates_shown": len(honest),
        "estimate_error_median_s": round(statistics.median(honest), 1) if honest else None,
        "estimate_error_worst_s": round(max(honest), 1) if honest else None,
        "predict_idle_median_ms": round(statistics.median(idle) * 1000, 1),
        "predict_median_ms": round(statistics.median(ms), 1) if ms else None,
        "predict_worst_ms": round(ms[-1], 1) if ms else None,
        "predict_calls": len(ms), "predict_errors": len(visitor.errors),
        "first_refusal": next((s.refused for s in students if s.refused), ""),
        "first_error": next((s.error for s in students if s.error), ""),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="*", default=[10, 20, 30])
    parser.add_argument("--model", default="cnn_quick")
    parser.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="for the app, e.g. RAY_ADDRESS=127.0.0.1:6379 (a running cluster)")
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--slots", type=int, help="trainings at once, for the floor (default: 2, "
                        "or the Ray cluster's CPUs)")
    parser.add_argument("--ray-nodes", type=int, default=0,
                        help="start a local Ray cluster of this many nodes on 127.0.0.1 and train on it")
    parser.add_argument("--ray-cpus", type=int, default=1, help="CPUs of each of those nodes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still stop the app, the cluster
    env = dict(pair.split("=", 1) for pair in args.env)
    with contextlib.ExitStack() as stack:
        if args.ray_nodes:
            from classifier.backends.ray_local import local_cluster
            cluster = stack.enter_context(local_cluster(args.ray_nodes, args.ray_cpus))
            env.update(cluster.env, RAY_ADDRESS=cluster.address)
            print(f"Ray: {args.ray_nodes} nodes of {args.ray_cpus} CPU at {cluster.address}", flush=True)
        slots = args.slots or (args.ray_nodes * args.ray_cpus if args.ray_nodes else 2)
        results = [one_class(args.app, n, args.model, env, slots) for n in args.n]
    keys = [k for k in results[0] if k not in ("first_refusal", "first_error")]
    table(f"A class pressing Train within 3 s ({env.get('RAY_ADDRESS') and 'Ray' or 'worker processes'})",
          keys, [[r[k] for k in keys] for r in results])
    for r in results:
        if r["first_refusal"] or r["first_error"]:
            print(f"N={r['students']}: refused {r['first_refusal']!r}; error {r['first_error']!r}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
