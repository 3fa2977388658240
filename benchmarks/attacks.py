"""Replay what a hostile stranger can do to the public app, against the real app on 127.0.0.1.

    python benchmarks/attacks.py                    # every attack, figures as tables
    python benchmarks/attacks.py paths bomb --json out.json
    python benchmarks/attacks.py --app /tmp/before  # the same against another checkout

Each attack starts `python app.py` on a free local port (its own Gradio cache and temp folder),
talks to it over plain HTTP as a script would (by event name through /gradio_api/call/<name>, by
number through /gradio_api/queue/join) and stops it. Memory is the server's RSS from /proc,
sampled every 10 ms. Traffic goes to 127.0.0.1 only; every loop is bounded.
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, _free_port, table  # noqa: E402
from stress import _cpu_seconds, _rss_mb  # noqa: E402

MLP = "Fashion-MNIST: MLP (shipped)"
SNEAKER = ROOT / "assets" / "examples" / "fashion-sneaker.png"
SERVER_FILES = ("/etc/shadow", "/etc/nope", "/usr/share/pixmaps/debian-logo.png")
LAB = [100, 0, "the recipe's own", "off"]  # the lab's settings, as the page sends them
TRAIN_ARGS = ["mlp", 1, 64, "recipe's own", 0, "cosine", 0.1, 0, *LAB]


class Server:
    """`python app.py` from `root` on a free port, with its own cache and temp folders."""

    def __init__(self, root: Path, **env: str):
        self.port, self.dir = _free_port(), Path(tempfile.mkdtemp(prefix="attacks-"))
        (self.dir / "cache").mkdir()
        (self.dir / "tmp").mkdir()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False",
               "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1",
               "GRADIO_TEMP_DIR": str(self.dir / "cache"), "TMPDIR": str(self.dir / "tmp"), **env}
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/gradio_api/", timeout=120)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if call(self, "predict", [MLP, upload(self, SNEAKER)]).get("event") == "complete":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"the app did not start: see {self.dir / 'server.log'}")
        self.fns = {dep["api_name"]: dep["id"] for dep in
                    httpx.get(f"http://127.0.0.1:{self.port}/config").json()["dependencies"]}

    def rss(self) -> float:
        return _rss_mb(self.proc.pid)

    def files(self, sub: str) -> tuple[int, int]:
        """(count, bytes) of the files under the server's cache or tmp folder."""
        found = [p for p in (self.dir / sub).rglob("*") if p.is_file()]
        return len(found), sum(p.stat().st_size for p in found)

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class PeakRss:
    """The server's peak RSS while the `with` block runs (sampled every 10 ms)."""

    def __init__(self, server: Server):
        self.server, self.peak, self._on = server, server.rss(), True
        self.before = self.peak

    def __enter__(self):
        def watch():
            while self._on:
                self.peak = max(self.peak, self.server.rss())
                time.sleep(0.01)
        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._on = False
        self._thread.join()


def upload(server: Server, path: Path) -> dict:
    with open(path, "rb") as f:
        remote = server.http.post("upload", files={"files": (path.name, f)}).json()[0]
    return {"path": remote, "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def _outcome(lines: list[str]) -> dict:
    """The last event of an event stream as {"event": ..., "data": ...}."""
    event, data = None, None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
    try:
        data = json.loads(data) if data is not None else None
    except ValueError:
        pass
    error = (data.get("error") if isinstance(data, dict) else data) if event == "error" else None
    return {"event": event, "data": data, "error": error}


def call(server: Server, name: str, data: list, read: bool = True) -> dict:
    """POST /call/<name>; read its event stream unless `read` is False (an abandoned call)."""
    r = server.http.post(f"call/{name}", json={"data": data})
    if r.status_code != 200:
        return {"event": "http", "status": r.status_code, "error": r.text[:300]}
    if not read:
        return {"event": "queued", "status": 200}
    with server.http.stream("GET", f"call/{name}/{r.json()['event_id']}") as stream:
        return _outcome(list(stream.iter_lines()))


def join(server: Server, fn_index: int, data: list, session: str | None = None) -> dict:
    """The page's own way: POST /queue/join by number, then read /queue/data for the session."""
    session = session or uuid.uuid4().hex[:11]
    r = server.http.post("queue/join", json={"data": data, "fn_index": fn_index,
                                             "session_hash": session, "event_data": None,
                                             "trigger_id": None})
    if r.status_code != 200:
        return {"event": "http", "status": r.status_code, "error": r.text[:300]}
    last = None
    with server.http.stream("GET", "queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg.get("msg") == "process_completed":
                    last = msg
                    break
    out = (last or {}).get("output") or {}
    return {"event": "complete" if (last or {}).get("success") else "error",
            "data": out.get("data"), "error": out.get("error")}


def _short(result: dict) -> str:
    text = str(result.get("error") or result.get("data"))
    return text[:90].replace("|", "/").replace("\n", " ")


# ---------------------------------------------------------------- 1. reading server files
def attack_paths(root: Path) -> dict:
    """Every event with a file input, called by name and by number with server paths."""
    server = Server(root)
    try:
        rows, read = [], 0
        upload_event = "show_upload" if "show_upload" in server.fns else "show_prediction_1"  # before
        targets = [(upload_event, [None, MLP, "{f}", 1]),  # None: the session's state
                   ("show_prediction", [None, MLP, {"background": None, "layers": [], "composite": "{f}"}, 1]),
                   ("upload_zip", [None, "{f}"]), ("predict", [MLP, "{f}"]),
                   ("own_add_files", [None, "a", ["{f}"]]), ("own_load_zip", [None, "{f}"]),
                   ("own_add_frame", [None, "a", "{f}"]), ("show_webcam", [None, MLP, "{f}", 1])]
        targets = [t for t in targets if t[0] in server.fns]  # an older checkout lacks some
        for name, template in targets:
            for path in SERVER_FILES:
                f = {"path": path}  # plain: with Gradio's FileData marker, Gradio checks it
                data = json.loads(json.dumps(template).replace('"{f}"', json.dumps(f)))
                for how in ("name", "number"):
                    if how == "name":  # the API leaves the state out
                        result = call(server, name, data[1:] if data[0] is None else data)
                    else:
                        result = join(server, server.fns[name], data)
                    answered = result.get("event") == "complete" and result.get("data") and any(
                        isinstance(d, dict) and d.get("value") for d in result["data"] or [])
                    read += bool(answered)
                    rows.append([name, how, path, "READ" if answered else _short(result)])
        table("Server paths sent to each file input (READ: the server file was opened and answered)",
              ["event", "called by", "path", "outcome"], rows)
        return {"read": read, "rows": rows}
    finally:
        server.stop()


# ---------------------------------------------------------------- 2. decompression bomb
def _bomb_png(path: Path, side: int = 9400) -> Path:
    """A side x side RGBA PNG, transparent but for a small square: tiny file, huge decode."""
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    img.paste((200, 200, 200, 255), (side // 3, side // 3, side // 2, side // 2))
    img.save(path, optimize=True)
    return path


def attack_bomb(root: Path, side: int = 9400, parallel: int = 6) -> dict:
    server = Server(root)
    try:
        png = _bomb_png(server.dir / "bomb.png", side)
        files = [upload(server, png) for _ in range(parallel)]
        time.sleep(1)
        with PeakRss(server) as one:
            t = time.perf_counter()
            result = call(server, "predict", [MLP, files[0]])
            seconds = time.perf_counter() - t
        with PeakRss(server) as six:
            with futures.ThreadPoolExecutor(parallel) as pool:
                list(pool.map(lambda f: call(server, "predict", [MLP, f]), files))
        time.sleep(3)
        held = server.rss() - six.before
        after = call(server, "predict", [MLP, upload(server, SNEAKER)])
        figures = {"file_kb": png.stat().st_size / 1024, "one_peak_mb": one.peak - one.before,
                   "one_seconds": seconds, "message": _short(result),
                   f"{parallel}_peak_mb": six.peak - six.before, "held_mb": held,
                   "next_answer": max(after["data"][0], key=after["data"][0].get) if after.get("data") else _short(after)}
        table(f"A {side}x{side} RGBA PNG to /predict", list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()


# ---------------------------------------------------------------- 3. a queue full of abandoned trainings
def attack_flood(root: Path, n: int = 66) -> dict:
    server = Server(root)
    try:
        statuses = [call(server, "train", TRAIN_ARGS, read=False).get("status") for _ in range(n)]
        time.sleep(2)
        t = time.perf_counter()
        predict = call(server, "predict", [MLP, upload(server, SNEAKER)])
        predict_s = time.perf_counter() - t
        samples = call(server, "samples", ["fashion_mnist", 1, 0])
        cpu0 = _cpu_seconds(server.proc.pid)
        time.sleep(20)
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        figures = {"train_calls": n, "accepted_200": statuses.count(200),
                   "refused": n - statuses.count(200),
                   "predict": "ok" if predict.get("event") == "complete" else _short(predict),
                   "predict_s": predict_s,
                   "samples": "ok" if samples.get("event") == "complete" else _short(samples),
                   "server_cpu_s_in_next_20s": cpu}
        table(f"{n} /call/train whose results are never read", list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()


# ---------------------------------------------------------------- 4. throwaway sessions
def attack_sessions(root: Path, events: int = 2000, pages: int = 200, wait: float = 0) -> dict:
    server = Server(root)
    try:
        trivial = server.fns["lambda"]  # the dataset picker's "show the zip box?" event
        load = server.fns["new_session"]
        for _ in range(5):  # "before" is a server that has served a page and a few events
            server.http.get(f"http://127.0.0.1:{server.port}/")
            join(server, load, [])
            join(server, trivial, ["mnist"])
        time.sleep(2)
        base = server.rss()
        with futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: join(server, trivial, ["mnist"]), range(events)))
        after_events = server.rss() - base
        with futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: (server.http.get(f"http://127.0.0.1:{server.port}/"),
                                     join(server, load, [])), range(pages)))
        after_pages = server.rss() - base
        time.sleep(wait)
        figures = {"events": events, "pages": pages, "mb_after_events": after_events,
                   "mb_after_pages": after_pages, "waited_s": wait,
                   "mb_after_wait": server.rss() - base}
        table("Throwaway sessions (each event a new session id; page loads with no heartbeat)",
              list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()


# ---------------------------------------------------------------- 5. echoes
def attack_echo(root: Path, mb: int = 20) -> dict:
    """A `mb` MB string as the model name, to /predict and to /train (whose model picker is a
    dropdown: Gradio's own check quotes the value it refuses)."""
    server = Server(root)
    try:
        sneaker = upload(server, SNEAKER)
        time.sleep(1)
        rows, log0 = [], (server.dir / "server.log").stat().st_size
        for name, data in (("predict", ["x" * (mb << 20), sneaker]),
                           ("train", ["x" * (mb << 20), *TRAIN_ARGS[1:]])):
            with PeakRss(server) as peak:
                result = call(server, name, data)
            time.sleep(2)
            rows.append([name, mb, result.get("status", 200), len(str(result.get("error"))),
                         peak.peak - peak.before, server.rss() - peak.before, _short(result)])
        log = (server.dir / "server.log").stat().st_size - log0
        table(f"A {mb} MB string as the model name", ["endpoint", "key_mb", "http", "error_chars",
              "peak_mb", "held_mb", "message"], rows)
        return {"rows": rows, "log_bytes_added": log}
    finally:
        server.stop()


# ---------------------------------------------------------------- 6. files left behind
def attack_files(root: Path, trainings: int = 3, predictions: int = 20) -> dict:
    server = Server(root)
    try:
        cache0, tmp0 = server.files("cache"), server.files("tmp")
        links = []
        for _ in range(trainings):
            result = call(server, "train", TRAIN_ARGS)
            for out in result.get("data") or []:
                value = out.get("value") if isinstance(out, dict) else None
                if isinstance(value, dict) and str(value.get("path", "")).endswith(".keras"):
                    links.append(value["url"])
        sneaker = upload(server, SNEAKER)
        for _ in range(predictions):
            call(server, "predict", [MLP, sneaker])
        cache1, tmp1 = server.files("cache"), server.files("tmp")
        fetched = sum(httpx.get(u).status_code == 200 for u in links)
        figures = {"api_trainings": trainings, "keras_links": len(links), "links_downloadable": fetched,
                   "cache_files_added": cache1[0] - cache0[0],
                   "cache_mb_added": (cache1[1] - cache0[1]) / 2**20,
                   "predictions": predictions, "tmp_files_added": tmp1[0] - tmp0[0]}
        table("Files left by API trainings and predictions", list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()


# ---------------------------------------------------------------- 7. malformed arguments
MALFORMED = [
    ("train", ["mlp", "abc", 64, "adam", 0, "cosine", 0.1, 0, *LAB]),
    ("train", ["mlp", None, 64, "adam", 0, "cosine", 0.1, 0, *LAB]),
    ("train", ["mlp", 1, "64", "recipe's own", 0, "cosine", 0.1, 0, *LAB]),
    ("train", ["nope", 1, 64, "adam", 0, "cosine", 0.1, 0, *LAB]),
    ("train", ["mlp", 1, 64, "adam", "fast", "cosine", 0.1, 0, *LAB]),
    ("train", ["mlp", 1, 64, "adam", 0, "cosine", 7, 0, *LAB]),
    ("train", ["mlp", 1, 64, "adam", 0, "cosine", 0.1, "soon", *LAB]),
    ("samples", ["fashion_mnist", 5, "NaN"]),
    ("samples", ["fashion_mnist", 5, "abc"]),
    ("samples", ["fashion_mnist", "many", 0]),
    ("samples", ["cats_vs_dogs", 5, 0]),
    ("predict", ["nope", None]),
]


def attack_malformed(root: Path) -> dict:
    server = Server(root)
    try:
        rows = []
        for name, data in MALFORMED:
            result = call(server, name, data)
            rows.append([name, json.dumps(data)[:60], result.get("event"), _short(result)])
        table("Malformed arguments", ["endpoint", "arguments", "event", "message"], rows)
        return {"rows": rows, "null_errors": sum(r[2] == "error" and r[3] == "None" for r in rows)}
    finally:
        server.stop()


# ---------------------------------------------------------------- 8. a flood of webcam frames
def _frame_url(path: Path) -> str:
    import base64
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _predict_ms(server: Server, sneaker: dict, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call(server, "predict", [MLP, sneaker])
        times.append((time.perf_counter() - t) * 1000)
    return times


def _webcam_stream(server: Server, fn: int, data: list, seconds: float, every: float,
                   counts: dict, lock: threading.Lock) -> None:
    """One stream as the page opens it: join the event once, then post a frame to
    /stream/<event id> every `every` s for `seconds`, reading the answers as they come."""
    session = uuid.uuid4().hex[:11]
    join(server, server.fns["new_session"], [], session)
    body = {"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
            "trigger_id": None}
    event_id = server.http.post("queue/join", json=body).json()["event_id"]
    done = threading.Event()

    def read():
        with server.http.stream("GET", "queue/data", params={"session_hash": session}) as sse:
            for line in sse.iter_lines():
                if done.is_set():
                    return
                msg = json.loads(line[6:]) if line.startswith("data: ") else {}
                if msg.get("msg") in ("process_streaming", "process_generating", "process_completed"):
                    text = ((msg.get("output") or {}).get("data") or [None, None])[1]
                    kind = "answered" if isinstance(text, str) and text.startswith("1.") else (
                        "error" if msg.get("success") is False else "dropped")
                    with lock:
                        counts[kind] += 1
                if msg.get("msg") == "process_completed":
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        server.http.post(f"stream/{event_id}", json=body)
        with lock:
            counts["sent"] += 1
        time.sleep(every)
    done.set()
    server.http.post(f"stream/{event_id}/close")
    reader.join(timeout=10)


def attack_webcam(root: Path, streams: int = 24, seconds: float = 20, every: float = 0.05) -> dict:
    """`streams` scripts each streaming frames to Predict's webcam event, 20 a second (a page
    sends 3), while one visitor calls /predict: its latency before and during."""
    server = Server(root)
    try:
        frame, sneaker = {"url": _frame_url(SNEAKER)}, upload(server, SNEAKER)
        fn = server.fns["show_webcam"]
        quiet = _predict_ms(server, sneaker, 20)
        counts, lock = {"sent": 0, "answered": 0, "dropped": 0, "error": 0}, threading.Lock()
        cpu0 = _cpu_seconds(server.proc.pid)
        with futures.ThreadPoolExecutor(streams) as pool:
            flood = [pool.submit(_webcam_stream, server, fn, [None, MLP, frame, 0], seconds,
                                 every, counts, lock) for _ in range(streams)]
            time.sleep(3)
            busy = _predict_ms(server, sneaker, 20)
            for f in flood:
                f.result()
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        figures = {"streams": streams, "seconds": seconds, **counts,
                   "answered_per_s": round(counts["answered"] / seconds, 1),
                   "server_cpu_s": round(cpu, 1),
                   "predict_p50_ms_quiet": round(float(np.median(quiet)), 1),
                   "predict_p50_ms_during": round(float(np.median(busy)), 1),
                   "predict_max_ms_during": round(max(busy), 1)}
        table(f"{streams} scripts streaming webcam frames for {seconds:.0f} s, one visitor "
              "calling /predict", list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()


ATTACKS = {"paths": attack_paths, "bomb": attack_bomb, "flood": attack_flood,
           "sessions": attack_sessions, "echo": attack_echo, "files": attack_files,
           "malformed": attack_malformed, "webcam": attack_webcam}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("attacks", nargs="*", default=[], metavar="ATTACK",
                        help=f"any of {', '.join(ATTACKS)} (default: all)")
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout whose app.py to attack")
    parser.add_argument("--wait", type=float, default=0,
                        help="sessions: seconds to wait for idle sessions to be forgotten")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    unknown = set(args.attacks) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks {sorted(unknown)}: use {', '.join(ATTACKS)}")
    for name in args.attacks or list(ATTACKS):
        kwargs = {"wait": args.wait} if name == "sessions" else {}
        results[name] = ATTACKS[name](args.app.resolve(), **kwargs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
