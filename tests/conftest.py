"""Shared fixtures: offline, quiet, tiny datasets made in memory."""
import contextlib
import os
import time
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CLASSIFIER_OFFLINE"] = "1"
os.environ.setdefault("CLASSIFIER_DB", os.path.join(  # classes the tests start: a file of their own
    __import__("tempfile").mkdtemp(prefix="classifier-tests-db-"), "classes.sqlite"))

import numpy as np
import pytest

from classifier.core.dataset import Dataset


def make_dataset(n_train=48, n_test=16, shape=(28, 28, 1), classes=3, style="fashion", seed=0):
    """Tiny learnable data: class k is a bright square in corner-ish position k."""
    rng = np.random.default_rng(seed)
    h, w, c = shape

    def images(n):
        y = np.arange(n) % classes
        x = rng.integers(0, 40, size=(n, h, w, c)).astype(np.uint8)
        for i, k in enumerate(y):
            top = (k * h) // (classes + 1)
            x[i, top:top + h // 4, top:top + w // 4, :] = 255
        return x, y.astype(np.int64)

    x_tr, y_tr = images(n_train)
    x_te, y_te = images(n_test)
    names = [f"class {k}" for k in range(classes)]
    return Dataset("tiny", "Tiny", names, x_tr, y_tr, x_te, y_te, source="the tests", style=style)


@pytest.fixture
def tiny():
    return make_dataset()


@pytest.fixture(autouse=True)
def _isolated_keras_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's Keras cache."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.getbasetemp() / "keras_home"))


def uploaded(source, name: str | None = None) -> str:
    """A copy of `source` (a path or bytes) where Gradio keeps uploads, as an upload through the
    page would leave it: the Predict handlers read no file from anywhere else."""
    import shutil
    import uuid
    from pathlib import Path

    from gradio.utils import get_upload_folder
    folder = Path(get_upload_folder()) / f"test-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    if isinstance(source, (bytes, bytearray)):
        target = folder / (name or "upload.bin")
        target.write_bytes(source)
    else:
        target = folder / (name or Path(source).name)
        shutil.copyfile(source, target)
    return str(target)


@contextlib.contextmanager
def running_app():
    """The app on a free 127.0.0.1 port with its production launch settings; yields its URL."""
    import socket

    import app
    from classifier.ui import page
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(prevent_thread_lock=True, server_port=port, quiet=True, **page.LAUNCH)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@contextlib.contextmanager
def served_app():
    """The app (running_app) with a plain HTTP client and its events' ids by name (the first of
    each name): what a stranger's script has."""
    import httpx
    with running_app() as url:
        fns = {}
        for d in httpx.get(f"{url}config").json()["dependencies"]:
            fns.setdefault(d["api_name"], d["id"])
        with httpx.Client(base_url=f"{url}gradio_api/", timeout=60) as http:
            yield SimpleNamespace(url=url, fns=fns, http=http)


def call_event(server, fn: str, data: list, session=None, headers=None) -> list[dict]:
    """Event `fn` of `served_app` called over raw HTTP as anyone can (any values, a fresh
    session unless given): every message of its stream, the last one "process_completed"."""
    import json
    import uuid
    session = session or uuid.uuid4().hex[:11]
    r = server.http.post("queue/join", headers=headers, json={
        "data": data, "fn_index": server.fns[fn], "session_hash": session, "event_data": None,
        "trigger_id": None})
    assert r.status_code == 200, r.text
    seen = []
    with server.http.stream("GET", "queue/data", params={"session_hash": session},
                            headers=headers) as sse:
        for line in sse.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1].get("msg") == "process_completed":
                    break
    return seen


HOSTILE = [None, 7, -1, 1e308, "", "A" * 100_000, ["x"] * 1000, {"code": "x"}, "\x00\u202e",
           "<script>alert(1)</script>", "../../etc/passwd", True]  # values a stranger sends


def items_of(stream):
    """All the points a training stream yields, and its last item (the run or record)."""
    points, last = [], None
    for item in stream:
        if isinstance(item, list):
            points += item
        else:
            last = item
    return points, last


def wait_for(condition, seconds=60.0):
    """Poll `condition` for up to `seconds`; its last value."""
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.1)
    return condition()


class Synced:
    """An async generator (an async Gradio handler) driven step by step from plain test code."""

    def __init__(self, agen):
        import asyncio
        self.agen, self.loop = agen, asyncio.new_event_loop()

    def __iter__(self):
        return self

    def __next__(self):
        if self.loop.is_closed():
            raise StopIteration
        try:
            return self.loop.run_until_complete(self.agen.__anext__())
        except StopAsyncIteration:
            self.loop.close()
            raise StopIteration from None
        except BaseException:
            self.loop.close()
            raise

    def close(self):
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.agen.aclose())
            self.loop.close()


def training(*args, **kwargs) -> Synced:
    """The Train tab's handler (train_tab.train_model, async) as a plain iterator of its updates."""
    from classifier.ui import train_tab
    return Synced(train_tab.train_model(*args, **kwargs))
