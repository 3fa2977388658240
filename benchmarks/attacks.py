"""Replay what a hostile stranger can do to the public app, against the real app on 127.0.0.1.

    python benchmarks/attacks.py                    # every attack, figures as tables
    python benchmarks/attacks.py paths bomb --json out.json
    python benchmarks/attacks.py --app /tmp/before  # the same against another checkout
    python benchmarks/attacks.py idle_streams --n 100  # --n: the size of attacks that have one

Each attack starts `python app.py` on a free local port (its own Gradio cache and temp folder),
talks to it over plain HTTP as a script would (by event name through /gradio_api/call/<name>, by
number through /gradio_api/queue/join) and stops it. Memory is the server's RSS from /proc,
sampled every 10 ms. Traffic goes to 127.0.0.1 only; every loop is bounded.

The later attacks (idle streams, one network's trainings, own images filling memory, t-SNE maps,
small holes) tell the attacker and a visitor apart as a Space's proxy does (X-Forwarded-For from
a loopback peer: two networks); each gives a visitor's calls a time limit and counts what fails.
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import functools
import json
import os
import re
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


def upload(server: Server, path: Path, http: httpx.Client | None = None) -> dict:
    with open(path, "rb") as f:
        remote = (http or server.http).post("upload", files={"files": (path.name, f)}).json()[0]
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


def call(server: Server, name: str, data: list, read: bool = True,
         http: httpx.Client | None = None) -> dict:
    """POST /call/<name>; read its event stream unless `read` is False (an abandoned call)."""
    http = http or server.http
    r = http.post(f"call/{name}", json={"data": data})
    if r.status_code != 200:
        return {"event": "http", "status": r.status_code, "error": r.text[:300]}
    if not read:
        return {"event": "queued", "status": 200}
    with http.stream("GET", f"call/{name}/{r.json()['event_id']}") as stream:
        return _outcome(list(stream.iter_lines()))


def join(server: Server, fn_index: int, data: list, session: str | None = None,
         http: httpx.Client | None = None) -> dict:
    """The page's own way: POST /queue/join by number, then read /queue/data for the session.
    "warnings": what the event said as gr.Warning (a refusal that leaves the page as it was)."""
    session, http = session or uuid.uuid4().hex[:11], http or server.http
    r = http.post("queue/join", json={"data": data, "fn_index": fn_index,
                                      "session_hash": session, "event_data": None,
                                      "trigger_id": None})
    if r.status_code != 200:
        return {"event": "http", "status": r.status_code, "error": r.text[:300]}
    last, said = None, []
    with http.stream("GET", "queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg.get("msg") == "log" and msg.get("level") == "warning":
                    said.append(msg.get("log"))
                if msg.get("msg") == "process_completed":
                    last = msg
                    break
    out = (last or {}).get("output") or {}
    return {"event": "complete" if (last or {}).get("success") else "error",
            "data": out.get("data"), "error": out.get("error"), "warnings": said}


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
        trivial = server.fns["dataset_parts"]  # the dataset picker's "show the zip box?" event
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


# ---------------------------------------------------------------- helpers for the attacks below
ATTACKER, VISITOR = "198.51.100.7", "203.0.113.9"  # documentation networks (RFC 5737)
WAITING_WORDS = ("waiting for", "in line", "should start", "ahead")


def _client(server: Server, who: str = ATTACKER, timeout: float = 120) -> httpx.Client:
    """A client of its own, with no pool limit (hundreds of open streams), from network `who`
    as a Space's proxy says it: X-Forwarded-For from a loopback peer. The attacker and a visitor
    are two networks, as on a Space; an app that does not tell networks apart ignores it."""
    return httpx.Client(base_url=f"http://127.0.0.1:{server.port}/gradio_api/", timeout=timeout,
                        headers={"X-Forwarded-For": who},
                        limits=httpx.Limits(max_connections=None, max_keepalive_connections=50))


def _within(seconds: float, fn, *args, **kwargs) -> tuple[dict, float]:
    """(fn's result, seconds taken), or a "timeout" result once `seconds` pass (fn goes on in a
    daemon thread, which ends when the server stops). An exception is a result too."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a figure, never a crash
            box["result"] = {"event": "exception", "error": f"{type(exc).__name__}: {exc}"}
    t = time.perf_counter()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    fallback = {"event": "timeout", "error": f"no answer in {seconds:.0f} s"}
    return box.get("result", fallback), time.perf_counter() - t


def _ok(result: dict) -> bool:
    return result.get("event") == "complete"


def _changed(result: dict) -> bool:
    """The event changed something on the page: a refusal said as a warning leaves every
    output as it was (bare updates)."""
    return any(d is not None and d != {"__type__": "update"} for d in result.get("data") or [])


def _body(fn_index: int, data: list, session: str) -> dict:
    return {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
            "trigger_id": None}


def _texts(value) -> list[str]:
    """Every string inside a JSON value (a message's output, an update, a diff)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _said(texts: list[str]) -> str:
    """The first sentence-like string of an output (not a URL, a path or a one-word value)."""
    for text in texts:
        if " " in text.strip() and not text.startswith(("data:", "http", "/")):
            return text[:120].replace("|", "/").replace("\n", " ")
    return ""


class Stream:
    """An event stream read in a thread, as a page reads /queue/data or a script reads
    /call/<name>/<id>: when its event was first answered, first said it waits (and what), first
    reported an epoch (a training running), was refused (an error, a warning, "busy"), completed,
    and when the server ended the stream. Reads until the event completes, `close()`, or the
    server stops."""

    def __init__(self, http: httpx.Client, path: str, params: dict | None = None):
        self.t0 = time.monotonic()
        self.answered = self.started = self.completed = self.ended = None
        self.waiting = self.refusal = None
        self.success, self.output, self._stop = None, [], False
        self.thread = threading.Thread(target=self._read, args=(http, path, params), daemon=True)
        self.thread.start()

    def _read(self, http, path, params) -> None:
        kind = None
        try:
            with http.stream("GET", path, params=params, timeout=httpx.Timeout(30, read=None)) as sse:
                if sse.status_code != 200:
                    self.refusal = f"HTTP {sse.status_code}: {sse.read()[:150].decode(errors='replace')}"
                    return
                for line in sse.iter_lines():
                    if self._stop:
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        try:
                            payload = json.loads(line[6:])
                        except ValueError:
                            continue
                        if isinstance(payload, dict) and "msg" in payload:
                            kind = payload["msg"]
                        if self._note(kind, payload):
                            return
        except (httpx.HTTPError, OSError):
            pass
        finally:
            self.ended = time.monotonic()

    def _note(self, kind: str | None, payload) -> bool:
        """Note what `payload` says; True once its event is over."""
        now = time.monotonic()
        if isinstance(payload, dict) and "msg" in payload:  # /queue/data: the page's messages
            texts = _texts({k: v for k, v in payload.items() if k not in ("msg", "event_id", "title")})
        else:  # /call: the output's data
            texts = _texts(payload)
        lower = [t.lower() for t in texts]
        if kind in ("process_streaming", "process_generating", "generating") and self.answered is None:
            self.answered = now
            self.output = _texts(payload.get("output") if isinstance(payload, dict) else payload)
        if self.started is None and (kind == "progress" or any("epoch" in t for t in lower)):
            self.started = now
        if self.waiting is None:
            self.waiting = next((t for t, low in zip(texts, lower)
                                 if any(w in low for w in WAITING_WORDS)), None)
        if self.refusal is None:
            if kind == "log" and payload.get("level") in ("warning", "error"):
                self.refusal = str(payload.get("log"))
            elif any("busy" in t for t in lower):
                self.refusal = next(t for t, low in zip(texts, lower) if "busy" in low)
        if kind in ("process_completed", "complete", "error", "unexpected_error", "close_stream"):
            self.completed = now
            output = payload.get("output", payload) if isinstance(payload, dict) else payload
            self.success = kind == "complete" or (kind == "process_completed"
                                                  and bool(payload.get("success")))
            self.output = _texts(output)
            if not self.success and self.refusal is None:
                error = output.get("error") if isinstance(output, dict) else output
                self.refusal = str(error if error is not None else kind)
            return True
        return False

    def close(self) -> None:
        """Stop reading at its next line (its HTTP stream closes): the app sees nobody listening."""
        self._stop = True

    def since(self, when: float | None) -> float | None:
        return None if when is None else round(when - self.t0, 1)


def _open(http: httpx.Client, fn_index: int, data: list, session: str | None = None,
          params: dict | None = None) -> tuple[int, str, Stream | None, str | None]:
    """The page's way into an event without waiting for it: POST /queue/join, then read
    /queue/data in a thread. (status, refusal text, the stream, the event id)."""
    session = session or uuid.uuid4().hex[:11]
    try:
        r = http.post("queue/join", json=_body(fn_index, data, session), params=params)
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__, None, None
    if r.status_code != 200:
        return r.status_code, r.text[:200].replace("|", "/").replace("\n", " "), None, None
    return 200, "", Stream(http, "queue/data", {"session_hash": session}), r.json().get("event_id")


def _visits(server: Server, http: httpx.Client, sneaker: dict, calls: int,
            timeout: float = 20.0) -> dict:
    """`calls` /predict calls by a visitor, one after another, each given `timeout` s."""
    times, failed, why = [], 0, ""
    for _ in range(calls):
        result, seconds = _within(timeout, call, server, "predict", [MLP, sneaker], http=http)
        times.append(seconds * 1000)
        if not _ok(result):
            failed, why = failed + 1, why or _short(result)
    return {"p50_ms": round(float(np.median(times)), 1), "max_ms": round(max(times), 1),
            "failed": failed, "why": why}


def _page_load(server: Server, http: httpx.Client, timeout: float = 20.0) -> tuple[bool, float, str]:
    """A visitor opening the page: GET / and the page's first event (new_session), within
    `timeout` s. (completed, seconds, what went wrong)."""
    def load():
        page = http.get(f"http://127.0.0.1:{server.port}/")
        if page.status_code != 200:
            return {"event": "http", "status": page.status_code, "error": page.text[:200]}
        return join(server, server.fns["new_session"], [], http=http)
    result, seconds = _within(timeout, load)
    return _ok(result), round(seconds, 2), "" if _ok(result) else _short(result)


def _missing(title: str, name: str) -> dict:
    table(title, ["event", "outcome"], [[name, "no such event in this app"]])
    return {"missing": name}


# ---------------------------------------------------------------- 9. idle streams
def attack_idle_streams(root: Path, n: int = 40, event: str = "show_webcam") -> dict:
    """`n` webcam streams opened as the page opens them (join with one frame, /queue/data held
    open) that never send a second frame: how many joins the server took, a visitor's /predict
    and page load 3 s later, and how soon the server closed the idle streams (watched 30 s)."""
    server = Server(root)
    attacker, visitor = _client(server), _client(server, VISITOR)
    try:
        title = f"{n} idle {event} streams (one frame, then silence; /queue/data held open)"
        if event not in server.fns:
            return _missing(title, event)
        frame = {"url": _frame_url(SNEAKER)}
        data = [None, MLP, frame, 0] if event == "show_webcam" else [None, "a", frame]
        sneaker = upload(server, SNEAKER, http=visitor)
        t = time.monotonic()
        with futures.ThreadPoolExecutor(16) as pool:  # as fast as the server takes them
            joins = list(pool.map(lambda _: _open(attacker, server.fns[event], data), range(n)))
        joins_s = time.monotonic() - t
        held = [s for _, _, s, _ in joins if s is not None]
        refusals = [(status, text) for status, text, s, _ in joins if s is None]
        time.sleep(3)
        visits = _visits(server, visitor, sneaker, 5)
        page_ok, page_s, page_why = _page_load(server, visitor)
        watch = time.monotonic() + 30
        while time.monotonic() < watch and any(s.completed is None and s.ended is None for s in held):
            time.sleep(0.5)
        watched = min((time.monotonic() - s.t0 for s in held), default=0)
        closed = sorted((s.completed or s.ended) - s.t0 for s in held  # each from its own join
                        if (s.completed or s.ended) is not None)
        half = (len(held) + 1) // 2

        def by(k: int) -> str:
            return f"{closed[k - 1]:.1f}" if held and len(closed) >= k else f"never in {watched:.0f} s"
        figures = {"streams": n, "joins_s": round(joins_s, 1), "joined_200": len(held),
                   "refused": len(refusals),
                   "refusal": f"{refusals[0][0]} {refusals[0][1]}"[:120] if refusals else "",
                   "first_frame_answered": sum(s.answered is not None for s in held),
                   "predict_p50_ms": visits["p50_ms"], "predict_max_ms": visits["max_ms"],
                   "predict_failed_of_5": visits["failed"], "predict_why": visits["why"],
                   "page_load_s": page_s, "page_loaded": page_ok, "page_why": page_why,
                   "closed_by_server": len(closed), "half_closed_s_after_opening": by(half),
                   "all_closed_s_after_opening": by(len(held))}
        table(title, list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()
        visitor.close()
        attacker.close()


# ---------------------------------------------------------------- 10. one person, many trainings
def attack_one_person_trainings(root: Path, n: int = 10, cap: float = 240.0) -> dict:
    """One network with free session ids posts `n` /call/train of a 600 s budget and keeps
    reading every result stream; 5 s later a visitor from another network presses Train on the
    page (1 epoch): refused or not, the first waiting line it is shown, when its run starts and
    ends (up to `cap` s), and how many of the n trained meanwhile."""
    server = Server(root)
    attacker, visitor = _client(server), _client(server, VISITOR)
    streams: list[Stream] = []
    try:
        long = ["mlp", 50, 64, "recipe's own", 0, "cosine", 0.1, 600, *LAB]
        statuses = []
        for _ in range(n):
            r = attacker.post("call/train", json={"data": long})
            statuses.append(r.status_code)
            if r.status_code == 200:
                streams.append(Stream(attacker, f"call/train/{r.json()['event_id']}"))
        time.sleep(5)
        session = uuid.uuid4().hex[:11]
        _within(30, join, server, server.fns["new_session"], [], session, http=visitor)
        status, text, mine, _ = _open(visitor, server.fns["train"], [None, *TRAIN_ARGS], session)
        end = time.monotonic() + cap
        while mine is not None and time.monotonic() < end and mine.completed is None and mine.ended is None:
            time.sleep(0.25)
        over = (mine.completed if mine is not None else None) or time.monotonic()
        trained = bool(mine and mine.success and not mine.refusal)  # a page's refusal is a warning
        started = mine and (mine.started or (mine.completed if trained else None))
        missed = "refused" if mine is None or mine.refusal else f"not in {cap:.0f} s"
        refused = [s for s in streams if s.refusal and s.started is None]
        figures = {"person_trainings": n, "person_http_200": statuses.count(200),
                   "person_refused": len(refused),
                   "person_refusal": (refused[0].refusal[:100] if refused else ""),
                   "person_ran_meanwhile": sum(s.started is not None and s.started < over for s in streams),
                   "person_ran_by_end": sum(s.started is not None for s in streams),
                   "visitor_join": status,
                   "visitor_refused": bool(mine is None or mine.refusal),
                   "visitor_told": (text or (mine.refusal or "")).replace("\n", " ")[:140],
                   "visitor_first_wait": (mine.waiting or "").replace("\n", " ")[:140] if mine else "",
                   "visitor_started_s": mine.since(started) if mine and started else missed,
                   "visitor_finished_s": mine.since(mine.completed) if trained else missed,
                   "visitor_trained": trained}
        table(f"One network: {n} trainings of 600 s by /call/train, all read; then a visitor "
              "presses Train", list(figures), [list(figures.values())])
        return figures
    finally:
        for s in streams:
            s.close()
        end = time.monotonic() + 10
        for s in streams:
            s.thread.join(timeout=max(0.0, end - time.monotonic()))
        server.stop()
        visitor.close()
        attacker.close()


# ---------------------------------------------------------------- 11. memory filled with own images
def _tiny_png_zip(path: Path, classes: int = 5, per_class: int = 200) -> Path:
    """A zip of `classes` folders of `per_class` 1x1 PNGs: a few hundred KB that the app reads
    as images of its full stored size (what fills memory fastest)."""
    import io
    import zipfile
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, "PNG")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for c in range(classes):
            for i in range(per_class):
                zf.writestr(f"class{c}/{i}.png", buffer.getvalue())
    return path


def attack_memory_fill(root: Path, sessions: int = 100, budget_mb: int = 2000,
                       seconds: float = 240.0) -> dict:
    """`sessions` page-like sessions (8 at a time) each load a zip of 5 x 200 tiny PNGs into
    their own classes (1,000 images of 96x96 colour: the most a session may hold), for at most
    `seconds`; the server runs with a memory budget of `budget_mb` (CLASSIFIER_MEMORY_MB, as a
    small Space would; an app without a budget ignores it). The server's RSS, the loads taken
    and refused, and a visitor's /predict during the fill and after."""
    server = Server(root, CLASSIFIER_MEMORY_MB=str(budget_mb))
    attacker, visitor = _client(server), _client(server, VISITOR)
    try:
        title = (f"{sessions} sessions each loading 1,000 images into their own classes "
                 f"(memory budget {budget_mb} MB)")
        if "own_load_zip" not in server.fns:
            return _missing(title, "own_load_zip")
        package = upload(server, _tiny_png_zip(server.dir / "tiny.zip"), http=attacker)
        sneaker = upload(server, SNEAKER, http=visitor)
        counts, refusals, lock = {"sessions": 0, "loaded": 0, "refused": 0}, [], threading.Lock()
        deadline = time.monotonic() + seconds

        def fill(_: int) -> None:
            if time.monotonic() > deadline:
                return
            session = uuid.uuid4().hex[:11]
            join(server, server.fns["new_session"], [], session, http=attacker)
            result = join(server, server.fns["own_load_zip"], [None, package], session, http=attacker)
            with lock:
                counts["sessions"] += 1
                if _ok(result) and _changed(result):  # refused: a warning, nothing changed
                    counts["loaded"] += 1
                else:
                    counts["refused"] += 1
                    refusals.append(result["warnings"][0][:90] if result.get("warnings")
                                    else _short(result))

        with PeakRss(server) as peak:
            t = time.perf_counter()
            pool = futures.ThreadPoolExecutor(8)
            jobs = [pool.submit(fill, i) for i in range(sessions)]
            while time.monotonic() < deadline and sum(j.done() for j in jobs) < sessions * 0.8:
                time.sleep(0.5)
            during = _visits(server, visitor, sneaker, 5)
            futures.wait(jobs, timeout=max(0.0, deadline - time.monotonic()) + 30)
            pool.shutdown(wait=False, cancel_futures=True)
            wall = time.perf_counter() - t
        time.sleep(3)
        after = _visits(server, visitor, sneaker, 1)
        figures = {**counts, "first_refusal": refusals[0] if refusals else "", "wall_s": round(wall, 1),
                   "rss_before_mb": round(peak.before), "rss_peak_mb": round(peak.peak),
                   "rss_growth_mb": round(peak.peak - peak.before),
                   "rss_after_mb": round(server.rss()),
                   "predict_p50_ms_during": during["p50_ms"], "predict_max_ms_during": during["max_ms"],
                   "predict_failed_during": during["failed"], "predict_ms_after": after["max_ms"],
                   "predict_after": "ok" if not after["failed"] else after["why"]}
        table(title, list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()
        visitor.close()
        attacker.close()


# ---------------------------------------------------------------- 12. a queue of t-SNE maps
def attack_tsne_flood(root: Path, n: int = 66, visitors: int = 15, over: float = 20.0,
                      cpu_window: float = 60.0) -> dict:
    """`n` page-like sessions each ask the Inside tab for a t-SNE map of the shipped model and
    never read the answer (by /call a session has no model: that route's answer is shown too);
    then `visitors` new sessions over `over` s each make a cheap page event and a /predict:
    refusals (503), errors, time-outs; and the server's CPU seconds in the next `cpu_window` s."""
    server = Server(root)
    attacker, visitor = _client(server), _client(server, VISITOR)
    try:
        title = f"{n} t-SNE maps asked for and never read; {visitors} visitors over {over:.0f} s"
        if "show_map" not in server.fns:
            return _missing(title, "show_map")
        by_call, _ = _within(30, call, server, "show_map", [None, "tsne", 0], http=attacker)
        sneaker = upload(server, SNEAKER, http=visitor)
        statuses, refusals = [], []
        for _ in range(n):
            session = uuid.uuid4().hex[:11]
            _within(20, join, server, server.fns["new_session"], [], session, http=attacker)
            r = attacker.post("queue/join", json=_body(server.fns["show_map"], [None, None, "tsne", 0],
                                                       session))
            statuses.append(r.status_code)
            if r.status_code != 200:
                refusals.append(f"{r.status_code} {r.text[:100]}")
        cheap, cheap_data = (("dataset_parts", ["mnist"]) if "dataset_parts" in server.fns
                             else ("lambda", [0]))

        def visit(i: int) -> tuple[dict, dict, float]:
            time.sleep(i * over / visitors)
            event, _ = _within(20, join, server, server.fns[cheap], cheap_data, http=visitor)
            predicted, seconds = _within(20, call, server, "predict", [MLP, sneaker], http=visitor)
            return event, predicted, seconds
        with futures.ThreadPoolExecutor(visitors) as pool:
            seen = list(pool.map(visit, range(visitors)))
        results = [r for event, predicted, _ in seen for r in (event, predicted)]
        cpu0 = _cpu_seconds(server.proc.pid)
        time.sleep(cpu_window)
        figures = {"maps_asked": n, "maps_queued_200": statuses.count(200),
                   "maps_refused": n - statuses.count(200), "map_refusal": refusals[0] if refusals else "",
                   "by_call": "ok" if _ok(by_call) else _short(by_call),
                   "visitor_calls": len(results),
                   "visitor_503": sum(r.get("status") == 503 for r in results),
                   "visitor_timeouts": sum(r.get("event") == "timeout" for r in results),
                   "visitor_errors": sum(not _ok(r) and r.get("status") != 503
                                         and r.get("event") != "timeout" for r in results),
                   "visitor_error": next((_short(r) for r in results if not _ok(r)), ""),
                   "predict_p50_ms": round(float(np.median([s for *_, s in seen])) * 1000),
                   "predict_max_ms": round(max(s for *_, s in seen) * 1000),
                   f"server_cpu_s_next_{cpu_window:.0f}s": round(_cpu_seconds(server.proc.pid) - cpu0, 1)}
        table(title, list(figures), [list(figures.values())])
        return figures
    finally:
        server.stop()
        visitor.close()
        attacker.close()


# ---------------------------------------------------------------- 13. small holes
def _big_frame_url(path: Path, size: tuple[int, int] = (5760, 4320)) -> str:
    """A 24.9-megapixel PNG, black but for a small grey square (about 100 KB), as a data URL."""
    import base64
    img = Image.new("RGB", size)
    img.paste((200, 200, 200), (size[0] // 3, size[1] // 3, size[0] // 3 + 200, size[1] // 3 + 200))
    img.save(path, optimize=True)
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _hole_frame(server: Server, http: httpx.Client) -> list:
    """(a) One 24.9-megapixel frame to Predict's webcam stream: what it answers, how fast."""
    url = _big_frame_url(server.dir / "big-frame.png")
    with PeakRss(server) as peak:
        sent = time.monotonic()
        status, text, stream, event_id = _open(http, server.fns["show_webcam"], [None, MLP, {"url": url}, 0])
        end = time.monotonic() + 60
        while stream and time.monotonic() < end and stream.answered is None and stream.completed is None \
                and stream.ended is None:
            time.sleep(0.05)
    if stream is None:
        return ["a. 24.9 MP webcam frame", f"join {status}: {text[:100]}", f"{len(url) // 1024} KB"]
    answered = stream.answered or stream.completed
    time.sleep(0.5)  # the message's output is noted as it arrives
    said = stream.refusal or (f"answered: {_said(stream.output) or '(no text)'}" if answered
                              else "no answer in 60 s")
    if event_id:
        http.post(f"stream/{event_id}/close")
    return ["a. 24.9 MP webcam frame", said[:120],
            f"{len(url) // 1024} KB sent; answer in "
            f"{f'{answered - sent:.2f} s' if answered else 'none'}; peak +{peak.peak - peak.before:.0f} MB"]


def _hole_uploads(server: Server, http: httpx.Client, seconds: float = 10, most: int = 100) -> list:
    """(b) 20 MB uploads from one network, one after another, for `seconds`: MB taken, then why not."""
    blob, taken, refused, paths = os.urandom(20_000_000 - 4096), 0, "none", []
    end = time.monotonic() + seconds
    while time.monotonic() < end and taken < most:
        try:
            r = http.post("upload", files={"files": ("big.bin", blob)})
        except httpx.HTTPError as exc:
            refused = type(exc).__name__
            break
        if r.status_code != 200:
            refused = f"{r.status_code} {r.text[:100]}"
            break
        taken += 1
        paths += r.json()
    for path in paths:  # the app's own cache, in this attack's folder: free the disk
        if str(path).startswith(str(server.dir)):
            Path(path).unlink(missing_ok=True)
    return ["b. 20 MB uploads for 10 s", f"refused: {refused}", f"{taken * 20} MB taken"]


def _hole_exports(server: Server, attacker: httpx.Client, visitor: httpx.Client, n: int = 20,
                  cap: float = 180) -> list:
    """(c) `n` page sessions each export their shipped model as int8 TFLite (one conversion at a
    time), then a visitor's export: its wait (up to `cap` s)."""
    if "export_active" not in server.fns:
        return [f"c. {n} exports, then a visitor's", "no export_active event", ""]
    fn, streams = server.fns["export_active"], []
    for _ in range(n):
        session = uuid.uuid4().hex[:11]
        _within(20, join, server, server.fns["new_session"], [], session, http=attacker)
        streams.append(_open(attacker, fn, [None, "tflite-int8"], session)[2])
    session = uuid.uuid4().hex[:11]
    _within(20, join, server, server.fns["new_session"], [], session, http=visitor)
    status, text, mine, _ = _open(visitor, fn, [None, "tflite-int8"], session)
    end = time.monotonic() + cap
    while mine is not None and time.monotonic() < end and mine.completed is None and mine.ended is None:
        time.sleep(0.25)
    done = sum(bool(s and s.success) for s in streams)
    if mine is None:
        return [f"c. {n} exports, then a visitor's", f"visitor's join {status}: {text[:100]}",
                f"{done}/{n} done"]
    said = "exported" if mine.success else (mine.refusal or f"not done in {cap:.0f} s")
    for s in streams:
        if s:
            s.close()
    waited = mine.since(mine.completed) or f"over {cap:.0f}"
    return [f"c. {n} exports, then a visitor's", said[:120],
            f"visitor waited {waited} s; {done}/{n} of the others done"]


def _hole_run_route(server: Server, http: httpx.Client, sneaker: dict) -> list:
    """(d) /run/predict, the route that skips the queue."""
    r = http.post("run/predict", json={"data": [MLP, sneaker]})
    return ["d. POST /run/predict", r.text[:100].replace("|", "/"), f"HTTP {r.status_code}"]


MARKDOWN_LINK = "[Log in](https://evil.example/x)"


def _hole_link(server: Server, http: httpx.Client) -> list:
    """(e) A shared link whose query name is a Markdown link: in the page, in the link's note."""
    query = {MARKDOWN_LINK: "1"}
    page = http.get(f"http://127.0.0.1:{server.port}/", params=query)
    in_page = "evil.example" in page.text
    if "link_dataset" not in server.fns:
        return ["e. Markdown link in the query", "no link_dataset event", f"in page HTML: {in_page}"]
    # the page's client sends its own query with queue/join: gr.Request.query_params are those
    status, text, stream, _ = _open(http, server.fns["link_dataset"], [], params=query)
    end = time.monotonic() + 20
    while stream and time.monotonic() < end and stream.completed is None and stream.ended is None:
        time.sleep(0.1)
    if stream is None or stream.completed is None:
        return ["e. Markdown link in the query", f"not probed: join {status} {text[:80]}",
                f"in page HTML: {in_page}"]
    note = next((t for t in stream.output if "evil.example" in t), "")
    kind = _link_note_kind(server)
    if not note:
        verdict = "not in the note"
    elif kind == "markdown" and MARKDOWN_LINK in note:
        verdict = "a LINK: the note is Markdown and has it as written"
    elif re.search(r"<a\s[^>]*evil\.example", note):
        verdict = f"a LINK: an <a> tag in the {kind} note"
    else:
        verdict = f"text, not a link, in the {kind} note"
    at = note.find("evil.example")
    shown = note[max(0, at - 30):at + 30].replace("|", "/").replace("\n", " ")
    return ["e. Markdown link in the query", f"{verdict}: ...{shown}...", f"in page HTML: {in_page}"]


def _link_note_kind(server: Server) -> str:
    """The type of link_dataset's last output (the note): "markdown", "html"..."""
    config = httpx.get(f"http://127.0.0.1:{server.port}/config").json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "link_dataset")
    kinds = {c["id"]: c.get("type", "?") for c in config["components"]}
    return kinds.get(dep["outputs"][-1], "?")


def _hole_framing(server: Server, http: httpx.Client) -> list:
    """(f) Who may frame the page: CSP frame-ancestors or X-Frame-Options on GET /."""
    r = http.get(f"http://127.0.0.1:{server.port}/")
    csp, xfo = r.headers.get("content-security-policy", ""), r.headers.get("x-frame-options", "")
    ancestors = next((p.strip() for p in csp.split(";") if "frame-ancestors" in p), "")
    return ["f. framing headers on GET /", ancestors[:100] or "no frame-ancestors",
            f"X-Frame-Options: {xfo or 'none'}"]


def _hole_long_url(server: Server) -> list:
    """(g) GET /?x=<70,000 characters>: the answer, and whether the log gained a traceback."""
    import http.client  # httpx refuses a query this long before sending it
    log = server.dir / "server.log"
    before = log.read_text(errors="replace").count("Traceback")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/?x=" + "a" * 70_000, headers={"X-Forwarded-For": ATTACKER})
        status = f"HTTP {connection.getresponse().status}"
    except (OSError, http.client.HTTPException) as exc:
        status = type(exc).__name__
    finally:
        connection.close()
    time.sleep(1)
    added = log.read_text(errors="replace").count("Traceback") - before
    return ["g. GET /?x=<70,000 chars>", status, f"tracebacks added to the log: {added}"]


def attack_small_holes(root: Path) -> dict:
    """Small probes, one row each: (a) a 24.9 MP webcam frame, (b) upload volume, (c) a queue of
    exports before a visitor's, (d) /run/predict, (e) a Markdown link in a shared link's query,
    (f) framing headers, (g) a 70,000-character URL."""
    server = Server(root)
    attacker, visitor = _client(server), _client(server, VISITOR)
    try:
        sneaker = upload(server, SNEAKER, http=visitor)
        rows = []
        for label, probe in (("a", lambda: _hole_frame(server, attacker)),
                             ("b", lambda: _hole_uploads(server, attacker)),
                             ("d", lambda: _hole_run_route(server, attacker, sneaker)),
                             ("e", lambda: _hole_link(server, visitor)),
                             ("f", lambda: _hole_framing(server, visitor)),
                             ("g", lambda: _hole_long_url(server)),
                             ("c", lambda: _hole_exports(server, attacker, visitor))):  # the slow one
            try:
                rows.append(probe())
            except Exception as exc:  # noqa: BLE001 - one probe's failure is a figure
                rows.append([f"{label}.", f"probe failed: {type(exc).__name__}: {exc}"[:120], ""])
        rows.sort(key=lambda row: row[0])
        table("Small holes", ["probe", "outcome", "figures"], rows)
        return {"rows": rows}
    finally:
        server.stop()
        visitor.close()
        attacker.close()


ATTACKS = {"paths": attack_paths, "bomb": attack_bomb, "flood": attack_flood,
           "sessions": attack_sessions, "echo": attack_echo, "files": attack_files,
           "malformed": attack_malformed, "webcam": attack_webcam,
           "idle_streams": attack_idle_streams,
           "idle_streams_200": functools.partial(attack_idle_streams, n=200),
           "idle_record": functools.partial(attack_idle_streams, event="own_record"),
           "one_person_trainings": attack_one_person_trainings, "memory_fill": attack_memory_fill,
           "tsne_flood": attack_tsne_flood, "small_holes": attack_small_holes}
SIZES = {"flood": "n", "webcam": "streams", "idle_streams": "n", "idle_streams_200": "n",
         "idle_record": "n", "one_person_trainings": "n", "memory_fill": "sessions",
         "tsne_flood": "n"}  # what --n sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("attacks", nargs="*", default=[], metavar="ATTACK",
                        help=f"any of {', '.join(ATTACKS)} (default: all)")
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout whose app.py to attack")
    parser.add_argument("--wait", type=float, default=0,
                        help="sessions: seconds to wait for idle sessions to be forgotten")
    parser.add_argument("--n", type=int, help="the attack's size: " + ", ".join(
        f"{name}'s {arg}" for name, arg in SIZES.items()))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    unknown = set(args.attacks) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks {sorted(unknown)}: use {', '.join(ATTACKS)}")
    for name in args.attacks or list(ATTACKS):
        kwargs = {"wait": args.wait} if name == "sessions" else {}
        if args.n is not None and name in SIZES:
            kwargs[SIZES[name]] = args.n
        results[name] = ATTACKS[name](args.app.resolve(), **kwargs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
