"""Reliability under load and over a long uptime, against the real app on 127.0.0.1.

    python benchmarks/stress.py load      # 16 clients predicting for 60 s while one trains
    python benchmarks/stress.py uptime    # 20 trainings one after another in one server
    python benchmarks/stress.py all --json results.json

Each section starts `python app.py` on a free local port, drives it with gradio_client and
stops it. Figures are printed as tables; `--json` also writes them for tests to check.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, _first_predict, _free_port, _launch_app, table  # noqa: E402

EXAMPLES = sorted(str(p) for p in (ROOT / "assets" / "examples").glob("*.png"))
PREDICT_MODEL = "Fashion-MNIST: MLP (shipped)"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children_rss_mb(pid: int) -> float:
    """Resident memory of a process's children (the app's training workers)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += _rss_mb(int(child))
            except OSError:  # it ended meanwhile
                pass
    return total


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server():
    """Start the app; return (process, port) once it answers /predict."""
    port = _free_port()
    proc = _launch_app(port)
    try:
        _first_predict(port, EXAMPLES[0], time.time() + 180)
    except Exception:
        proc.kill()
        raise
    return proc, port


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()


def _cheaper_clients() -> None:
    """gradio_client opens a new httpx client for every upload, call and stream, and each builds
    an SSL context from certifi's bundle (~35 ms of CPU, for a plain-http 127.0.0.1 server that
    never uses it). Sixteen such clients on the server's own 2 cores would measure the load
    generator; build the context once instead. The server's path is unchanged."""
    import functools

    import httpx._transports.default as transport
    transport.create_ssl_context = functools.lru_cache(maxsize=None)(transport.create_ssl_context)


def load(clients: int = 16, seconds: float = 60.0, train_model: str = "cnn") -> dict:
    """`clients` threads, each with its own gradio_client, call /predict in a loop for `seconds`
    while one more client trains `train_model` on Fashion-MNIST."""
    from gradio_client import Client, handle_file
    _cheaper_clients()
    proc, port = _server()
    url = f"http://127.0.0.1:{port}/"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    job = None
    if train_model != "none":
        trainer = Client(url, verbose=False)
        job = trainer.submit(train_model, 50, 128, "recipe's own", 0, "cosine", 0.1, 0, api_name="/train")
    start = threading.Barrier(clients + 1)

    def predict_loop(k: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # counted, not raised: the figure is what matters
            with lock:
                errors.append(f"connect: {exc}")
            start.wait()
            return
        start.wait()
        end = time.monotonic() + seconds
        i = k
        while time.monotonic() < end:
            image = EXAMPLES[i % len(EXAMPLES)]
            i += 1
            t = time.perf_counter()
            try:
                probs = client.predict(PREDICT_MODEL, handle_file(image), api_name="/predict")
                if abs(sum(probs.values()) - 1) > 1e-3:
                    raise RuntimeError(f"probabilities sum to {sum(probs.values())}")
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t)

    try:
        threads = [threading.Thread(target=predict_loop, args=(k,)) for k in range(clients)]
        [t.start() for t in threads]
        start.wait()
        t0, cpu0 = time.perf_counter(), _cpu_seconds(proc.pid)
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        [t.join() for t in threads]
        wall = time.perf_counter() - t0
        server_cpu = _cpu_seconds(proc.pid) - cpu0
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime
        updates = job.outputs() if job else []  # every update the trainer received so far
        training_status = str(updates[-1][2]) if updates else "no training"
        rss = _rss_mb(proc.pid)
        if job:
            try:
                job.cancel()  # the server is stopped next anyway; a busy one may not answer in time
            except Exception as exc:
                print(f"cancelling the training timed out ({type(exc).__name__}); stopping the server")
    finally:
        _stop(proc)
    ms = np.array(latencies) * 1000
    result = {"clients": clients, "seconds": round(wall, 1), "requests": len(latencies),
              "errors": len(errors), "first_errors": errors[:5],
              "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
              "p95_ms": float(np.percentile(ms, 95)) if len(ms) else None,
              "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
              "per_second": round(len(latencies) / wall, 1), "server_rss_mb": round(rss, 1),
              "server_cpu_s": round(server_cpu, 1), "clients_cpu_s": round(client_cpu, 1),
              "training": training_status}
    table(f"Load: {clients} gradio_client clients calling /predict for {seconds:.0f} s while one "
          f"client trains {train_model}", ["measure", "value"],
          [[k, v] for k, v in result.items() if k != "first_errors"])
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    return result


def uptime(trainings: int = 20, model: str = "mlp") -> dict:
    """`trainings` runs of `model` (1 epoch, full Fashion-MNIST) in one server, each from a new
    client (a new session) as strangers on a Space do; server memory after each."""
    from gradio_client import Client
    proc, port = _server()
    url = f"http://127.0.0.1:{port}/"
    rss, seconds, workers = [], [], []
    try:
        for _ in range(trainings):
            client = Client(url, verbose=False)
            t = time.perf_counter()
            out = client.predict(model, 1, 256, "recipe's own", 0, "cosine", 0.1, 0, api_name="/train")
            seconds.append(time.perf_counter() - t)
            if "after 1 complete epoch" not in str(out[2]):
                raise RuntimeError(f"training did not finish: {out[2]}")
            client.close() if hasattr(client, "close") else None
            rss.append(_rss_mb(proc.pid))
            workers.append(_children_rss_mb(proc.pid))
    finally:
        _stop(proc)
    table(f"Server memory over {trainings} trainings ({model}, 1 epoch, each from a new client)",
          ["after training", "server RSS MB", "training workers' RSS MB", "seconds"],
          [[i + 1, round(m, 1), round(w, 1), round(s, 1)]
           for i, (m, w, s) in enumerate(zip(rss, workers, seconds))])
    result = {"trainings": trainings, "rss_first_mb": round(rss[0], 1), "rss_last_mb": round(rss[-1], 1),
              "rss_max_mb": round(max(rss), 1), "growth_mb": round(rss[-1] - rss[0], 1),
              "median_seconds": round(statistics.median(seconds), 1)}
    print(f"\ngrowth from after the first to after the last: {result['growth_mb']:+.1f} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("section", choices=["load", "uptime", "all"])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trainings", type=int, default=20)
    parser.add_argument("--train-model", default="cnn", help="trained during the load test, or none")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = {}
    if args.section in ("load", "all"):
        results["load"] = load(args.clients, args.seconds, args.train_model)
    if args.section in ("uptime", "all"):
        results["uptime"] = uptime(args.trainings)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
