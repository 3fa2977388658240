"""What a hostile stranger can send the public app, replayed against the running app on 127.0.0.1
(the same calls as benchmarks/attacks.py, which reports the figures): events called by name and by
number with server paths, an image that decodes huge, a flood of abandoned trainings, malformed and
oversized arguments, files left behind, throwaway sessions."""
import struct
import sys
import threading
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
from conftest import running_app, uploaded

import app
from classifier.serving.admission import Admission, Refused
from classifier.serving.session import Session
from classifier.serving.traffic import OPEN_STREAMS, stream_key
from classifier.serving.train_form import train_settings
from classifier.ui import (
    common,
    dataset_tab,
    evaluate_tab,
    lifecycle,
    predict_tab,
    train_tab,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from attacks import LAB, MALFORMED, SERVER_FILES, call, join, upload  # noqa: E402

MLP = "Fashion-MNIST: MLP (shipped)"
SNEAKER = Path("assets/examples/fashion-sneaker.png")
TRAIN = ["mlp", 1, 64, "recipe's own", 0, "cosine", 0.1, 0, *LAB]  # raw HTTP sends every input


@pytest.fixture(scope="module")
def server():
    """The app as in production, and a plain HTTP client for it (as a script would use)."""
    with running_app() as url:
        http = httpx.Client(base_url=f"{url}gradio_api/", timeout=120)
        fns = {d["api_name"]: d["id"] for d in httpx.get(f"{url}config").json()["dependencies"]}
        yield SimpleNamespace(http=http, fns=fns)
        http.close()
        _wait_until(lambda: common.ADMISSION.running == 0 and common.ADMISSION.waiting == 0, 60)


def _transparent_png(side: int) -> bytes:
    """A valid side x side RGBA PNG, all transparent: a few hundred KB that decode to side^2 x 4
    bytes (made row by row, so the test itself stays small)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer, row = zlib.compressobj(9), b"\0" * (1 + 4 * side)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Peak:
    """This process's peak RSS growth while the block runs."""

    def __enter__(self):
        self.before = self.peak = _rss_mb()
        self.on = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while self.on:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.on = False
        self.thread.join()
        self.growth = self.peak - self.before


# ---------------------------------------------------------------- 1. server paths
@pytest.mark.parametrize("path", SERVER_FILES)
@pytest.mark.parametrize("how", ["name", "number"])
def test_no_event_opens_a_server_path(server, how, path):
    """Each file-taking event, by name and by number, with a plain {"path"} and with Gradio's
    FileData marker: never answered, and the message is the same whether the file exists."""
    messages = set()
    for file in ({"path": path}, {"path": path, "meta": {"_type": "gradio.FileData"}}):
        for name, data in (("show_upload", [None, MLP, file, 1]),
                           ("show_prediction", [None, MLP, {"background": None, "layers": [], "composite": file}, 1]),
                           ("upload_zip", [None, file, None]), ("predict", [MLP, file])):
            if how == "name":
                result = call(server, name, data[1:] if data[0] is None else data)
            else:
                result = join(server, server.fns[name], data)
            assert result["event"] != "complete" or not any(
                isinstance(d, dict) and d.get("value") is not None for d in result["data"] or []), (name, result)
            if name == "show_upload" and "meta" not in file:
                messages.add(str(result["error"]))
    assert all("only files uploaded" in m for m in messages), messages


def test_the_upload_handler_reads_uploads_and_refuses_everything_else(tmp_path):
    session = Session()
    text = predict_tab.show_upload(session, MLP, {"path": uploaded(SNEAKER)})[1]
    assert "Sneaker" in text
    outside = tmp_path / "x.png"
    outside.write_bytes(SNEAKER.read_bytes())
    escape = uploaded(SNEAKER) + "/../../../" + str(outside).lstrip("/")
    for bad in (str(outside), {"path": str(outside)}, {"path": escape}, {"composite": str(outside)}, 7):
        with pytest.raises(gr.Error, match="upload an image file"):
            predict_tab.show_upload(session, MLP, bad)
    with pytest.raises(gr.Error, match="a drawing arrives as pixels"):
        predict_tab.show_prediction(session, MLP, {"background": None, "layers": [], "composite": str(outside)})


# ---------------------------------------------------------------- 2. decoding budget
def test_a_png_that_decodes_huge_is_refused_cheaply(server):
    png = _transparent_png(6000)  # 36 MP: 144 MB decoded, ~100 KB on the wire
    assert len(png) < 200_000
    call(server, "predict", [MLP, upload(server, SNEAKER)])  # the model loaded: not counted below
    with _Peak() as peak:
        result = call(server, "predict", [MLP, upload(server, Path(uploaded(png, "huge.png")))])
    assert result["event"] == "error" and "too large" in result["error"], result
    assert "6000x6000" in result["error"] and "scale it down" in result["error"]
    assert peak.growth < 60, peak.growth  # nothing was decoded


def test_a_large_image_under_the_limit_is_read_at_working_size(server):
    """20 MP, transparent but for a grey top: answered, at a fraction of its decoded size."""
    from PIL import Image, ImageDraw
    img = Image.new("LA", (5000, 4000), (0, 0))
    ImageDraw.Draw(img).rectangle((1500, 800, 3500, 3200), fill=(200, 255))
    path = uploaded(b"", "big.png")
    img.save(path)
    del img
    with _Peak() as peak:
        result = call(server, "predict", [MLP, upload(server, Path(path))])
    assert result["event"] == "complete", result
    assert peak.growth < 250, peak.growth  # 20 MP x 2 bytes decoded once, then halved


# ---------------------------------------------------------------- 3. trainings cannot lock anyone out
def test_admission_one_place_per_session_and_a_short_line():
    line = Admission(slots=1, limit=2, newcomers=0)
    first, second = line.enter("a"), line.enter("b")
    assert first.wait(0) and not second.wait(0) and second.ahead() == 0
    with pytest.raises(Refused, match="already have a training"):
        line.enter("a")
    with pytest.raises(Refused, match="server is busy: 1 trainings are running and 1 are waiting"):
        line.enter("c")
    first.leave()
    assert second.wait(1) and line.running == 1 and line.waiting == 0
    second.leave()
    second.leave()  # twice is harmless
    assert line.running == 0 and line.enter("c").wait(0)


def test_a_waiting_training_is_told_its_place_and_when_it_should_start(monkeypatch):
    """Issue 11 item 5: the place in line, and an estimate from recent runs' lengths (none
    before any run has ended)."""
    from classifier.serving import admission
    from classifier.ui import words
    clock = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: clock[0])
    line = Admission(slots=2, stale=3600)
    a, b = line.enter("a"), line.enter("b")
    assert a.wait(0) and b.wait(0)
    c, d, e = line.enter("c"), line.enter("d"), line.enter("e")
    assert c.wait_estimate() is None  # nothing to go by yet
    assert "next in line" in words.waiting_line(c.ahead(), 2, c.wait_estimate())
    clock[0] += 40
    a.leave()  # a 40 s run: c takes its slot
    assert c.wait(0) and (d.ahead(), e.ahead()) == (0, 1)
    clock[0] += 10  # b has run 50 s, c 10 s: runs take 40 s
    assert d.wait_estimate() == pytest.approx(0)  # b is past the typical length: any moment
    assert e.wait_estimate() == pytest.approx(30)  # c's slot frees in 30 s
    text = words.waiting_line(e.ahead(), 2, e.wait_estimate())
    assert "1 training ahead; it should start in about 30 s" in text
    # a running training that says how long it has left is believed over the typical length
    b.report(25.0)  # b, 50 s in, is a long one: 25 s more
    c.report(5.0)   # c is quick
    assert d.wait_estimate() == pytest.approx(5)  # c's slot first
    assert e.wait_estimate() == pytest.approx(25)  # then b's: the line's own count
    clock[0] += 4
    assert d.wait_estimate() == pytest.approx(1)  # it counts down with the clock
    assert e.wait_estimate() == pytest.approx(21)
    c.report(float("nan"))  # a report that is no number changes nothing
    assert d.wait_estimate() == pytest.approx(1)


def test_a_waiting_estimate_counts_what_runs_do_after_their_last_word(monkeypatch):
    """Issue 26 item 9: "should start in about 5 s" stayed 22 s, because a run's own estimate
    (its fit's time left) leaves out the test-set evaluation and saving after it. The line
    learns that tail from runs that ended, and the words never promise less than they know."""
    from classifier.serving import admission
    from classifier.ui import words
    clock = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: clock[0])
    line = Admission(slots=1, stale=3600)
    a = line.enter("a")
    assert a.wait(0)
    b = line.enter("b")
    a.report(10.0)
    clock[0] += 28  # said 10 s, took 28: 18 s of evaluation and saving after its fit
    a.leave()
    assert b.wait(0)
    c = line.enter("c")
    b.report(4.0)
    assert c.wait_estimate() == pytest.approx(22)  # 4 s of fit, then the 18 s tail
    clock[0] += 10
    assert c.wait_estimate() == pytest.approx(12)  # its fit has ended: the tail counts down
    assert "about 10 s" in words.waiting_line(c.ahead(), 1, c.wait_estimate())
    clock[0] += 30  # later than any estimate: the words say so instead of a number
    assert c.wait_estimate() == pytest.approx(0)
    text = words.waiting_line(c.ahead(), 1, c.wait_estimate())
    assert "any moment" in text and "about" not in text


def _wait_until(condition, seconds: float) -> float:
    t = time.monotonic()
    while not condition():
        assert time.monotonic() - t < seconds, "timed out"
        time.sleep(0.05)
    return time.monotonic() - t


def test_abandoned_trainings_neither_fill_the_queue_nor_run(server):
    """66 trainings posted and never read: predictions and samples still answer at once, and
    no training runs for nobody (each is refused or gives up within START_GRACE)."""
    statuses = [call(server, "train", TRAIN, read=False)["status"] for _ in range(66)]
    assert statuses.count(200) == 66  # all taken off the queue at once
    t = time.monotonic()
    assert call(server, "predict", [MLP, upload(server, SNEAKER)])["event"] == "complete"
    assert call(server, "samples", ["fashion_mnist", 1, 0])["event"] == "complete"
    assert time.monotonic() - t < 10
    _wait_until(lambda: common.ADMISSION.running == 0 and common.ADMISSION.waiting == 0,
                train_tab.START_GRACE + 15)


def test_a_training_stops_within_a_second_once_its_caller_goes(server):
    r = server.http.post("call/train", json={"data": ["mlp", 50, 16, "recipe's own", 0, "cosine", 0.1, 0, *LAB]})
    with server.http.stream("GET", f"call/train/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and ", batch " in line:
                break  # its steps are running (the status line counts batches): hang up
    assert _wait_until(lambda: common.ADMISSION.running == 0, 5) < 1.5


def test_one_session_holds_one_training(server):
    session = "one-session-only"
    first = server.http.post("queue/join", json={"data": [None, *TRAIN[:1], 50, *TRAIN[2:]],
                                                 "fn_index": server.fns["train"], "session_hash": session})
    assert first.status_code == 200
    with server.http.stream("GET", "queue/data", params={"session_hash": session}) as stream:
        lines = stream.iter_lines()
        for line in lines:
            if "process_generating" in line:
                break
        second = join(server, server.fns["train"], [None, *TRAIN], session=session + "-x")
        again = server.http.post("queue/join", json={"data": [None, *TRAIN], "fn_index": server.fns["train"],
                                                     "session_hash": session})
        assert again.status_code == 200
        for line in lines:
            if "already have a training" in line:
                break
    assert second["event"] == "complete"  # another session trains meanwhile
    _wait_until(lambda: common.ADMISSION.running == 0, 5)


# ---------------------------------------------------------------- 5, 7. malformed and oversized arguments
def test_every_malformed_argument_gets_a_one_line_message_naming_it(server):
    names = {0: "epochs", 1: "epochs", 3: "model", 4: "learning rate", 5: "validation share",
             6: "time budget", 7: "seed", 8: "seed", 9: "count", 10: "Cats vs dogs", 11: "model"}
    for i, (endpoint, data) in enumerate(MALFORMED):
        result = call(server, endpoint, data)
        if i == 2:  # batch size "64": the API schema lists strings; it is taken
            assert result["event"] == "complete", result
            continue
        assert result["event"] == "error" and result["error"], (data, result)
        assert names[i] in result["error"] and "\n" not in result["error"], result["error"]


def test_a_huge_argument_is_refused_before_any_handler_sees_it(server):
    r = server.http.post("call/predict", json={"data": ["x" * (20 << 20), None]})
    assert r.status_code == 413 and len(r.text) < 300
    r = server.http.post("queue/join", json={"data": ["x" * (2 << 20)], "fn_index": 0, "session_hash": "big"})
    assert r.status_code == 413  # over the 1 MB cap (a webcam frame is at most about 660 KB)
    assert call(server, "predict", ["y" * 5000, None])["error"].count("y") < 60  # quoted short


# ---------------------------------------------------------------- 6. files
def _empty_files(*folders) -> set:
    return {p for folder in folders for p in Path(folder).rglob("*") if p.is_file() and p.stat().st_size == 0}


def test_predictions_and_api_trainings_leave_no_files(server):
    """No empty temporary file per /predict (gr.File's own preprocessing leaves one), no model
    handed to an API training; and Gradio's cache is swept hourly."""
    import tempfile

    from gradio.utils import get_upload_folder
    folders = (tempfile.gettempdir(), get_upload_folder())
    before = _empty_files(*folders)
    sneaker = upload(server, SNEAKER)
    for _ in range(5):
        assert call(server, "predict", [MLP, sneaker])["event"] == "complete"
    result = call(server, "train", TRAIN)
    assert result["event"] == "complete", result
    kept = [o for o in result["data"] if isinstance(o, dict) and isinstance(o.get("value"), dict)
            and str(o["value"].get("path", "")).endswith(".keras")]
    assert kept == []  # no model handed out to be cached and fetched later
    stray = [p for p in _empty_files(*folders) - before if "pytest-of" not in str(p)]
    assert stray == [], stray
    assert app.demo.delete_cache == (600, 3600)


# ---------------------------------------------------------------- 4. throwaway sessions
def test_sessions_that_send_nothing_are_forgotten(server):
    for i in range(40):
        assert join(server, server.fns["header"], [None], session=f"throwaway-{i}")["event"] == "complete"
    holder = app.demo.state_holder
    assert sum(s.startswith("throwaway-") for s in holder.session_data) == 40
    assert lifecycle.forget_idle_sessions(app.demo, idle=3600) == 0  # not idle long enough yet
    time.sleep(1.1)
    assert lifecycle.forget_idle_sessions(app.demo, idle=1) >= 40
    assert not any(s.startswith("throwaway-") for s in holder.session_data)


def test_an_open_page_is_not_forgotten(server):
    with server.http.stream("GET", "heartbeat/open-page") as beat:
        join(server, server.fns["header"], [None], session="open-page")
        time.sleep(1.1)
        lifecycle.forget_idle_sessions(app.demo, idle=1)
        assert "open-page" in app.demo.state_holder.session_data
        beat.close()


def test_stream_keys():
    assert stream_key("/gradio_api/heartbeat/abc", b"") == "abc"
    assert stream_key("/gradio_api/queue/data", b"session_hash=xyz") == "xyz"
    assert stream_key("/gradio_api/call/train/ev1", b"") == "ev1"
    assert stream_key("/gradio_api/call/v2/train/ev2", b"") == "ev2"
    assert stream_key("/gradio_api/info", b"") is None
    assert OPEN_STREAMS.listening(None)  # unknown: assume someone is there


def test_seeds_out_of_range_get_a_message_naming_them():
    session = Session()
    for handler, args, name in ((evaluate_tab.show_evaluation, (session, MLP), "sample seed"),
                                (dataset_tab.show_dataset, (session, "fashion_mnist", "all classes"), "shuffle seed")):
        for seed in (-5, float("nan"), 2**40):
            with pytest.raises(gr.Error, match=f"{name} must be a number from 0 to 4294967295"):
                handler(*args, seed)


# ---------------------------------------------------------------- issue 12's events, by number
HOSTILE_12 = [  # (event, its inputs after the state, a word the message must hold)
    ("show_changed", [MLP, 1, "nan", 0, 0, 1, 0, 0, 0], "shift right"),
    ("show_changed", [MLP, 1, 0, 0, 1e308, 1, 0, 0, 0], "rotate"),
    ("show_changed", [MLP, 1, 0, 0, 0, 1, 0, [1], 0], "noise"),
    ("show_changed", [MLP, -3, 0, 0, 0, 1, 0, 0, 0], "epoch"),
    ("show_sweep", [MLP, "/etc/shadow", "rotate", 1], "model"),
    ("show_sweep", [MLP, None, {"kind": "rotate"}, 1], "change"),
    ("show_sweep", ["../../etc/passwd", None, "rotate", 1], "pick a model"),
    ("show_map", ["/etc/passwd", "pca", 1], "model"),
    ("show_map", [None, "umap", 1], "projection"),
    ("show_map", [None, "pca", 1e99], "epoch"),
    ("repredict", [MLP, "soon"], "epoch"),  # Predict's epoch slider: was Gradio's bare "Error"
]


def test_issue_12_events_called_by_number_with_hostile_values_get_a_message(server):
    """A session with an image (as a page would have), then every new event of the Inside tab
    and What-breaks-it with hostile values: a one-line message naming the value, no traceback,
    no server path, and the session still answers afterwards."""
    session = "hostile-12"
    assert join(server, server.fns["new_session"], [], session)["event"] == "complete"
    sneaker = upload(server, SNEAKER)
    assert join(server, server.fns["show_upload"], [None, MLP, sneaker, 1],
                session)["event"] == "complete"
    for name, data, word in HOSTILE_12:
        result = join(server, server.fns[name], [None, *data], session)
        assert result["event"] == "error", (name, data, result)
        message = str(result["error"])
        assert word in message and "\n" not in message and "Traceback" not in message, message
        assert "/work" not in message and "site-packages" not in message, message
    for source in ("../etc", {"x": 1}, None):  # said on the page
        result = join(server, server.fns["show_inside"], [None, source, 1], session)
        assert result["event"] == "complete" and "must be" in str(result["data"][0]), result
    for index in (None, [1e300, -1e300], ["a", "b"], [1, 2, 3], "x" * 100):  # clicks
        for name in ("enlarge_map", "show_map_point"):
            r = server.http.post("queue/join", json={"data": [None], "fn_index": server.fns[name],
                                                     "session_hash": session,
                                                     "event_data": {"index": index, "value": None}})
            assert r.status_code in (200, 422), r.text[:200]
    ok = join(server, server.fns["show_sweep"], [None, MLP, None, "rotate", 1], session)
    assert ok["event"] == "complete", ok  # the session still answers


def test_issue_14_events_called_by_number_with_hostile_values_get_a_message(server):
    """The Train tab's export and share-link events, as anyone can call them: a bad format is a
    one-line message; a garbled form gives a link without the bad values, never a traceback."""
    session = "hostile-14"
    assert join(server, server.fns["new_session"], [], session)["event"] == "complete"
    for fmt in ("/etc/passwd", 5, None, ["onnx"], "x" * 100_000):
        result = join(server, server.fns["export_active"], [None, fmt], session)
        assert result["event"] == "error", (fmt, result)
        message = str(result["error"])
        assert "format must be one of" in message and "\n" not in message and "/work" not in message
    garbled = ["../../etc/passwd", {"a": 1}, 1e308, "nan", None, [], "cosine", -1, "x" * 10_000, -5, 1e9,
               0, "off"]
    result = join(server, server.fns["share_settings"], garbled, session)
    assert result["event"] == "complete", result
    query = str(result["data"][0].get("value", ""))
    assert len(query) < 200 and "passwd" not in query and "nan" not in query, query


def test_the_lab_refuses_values_out_of_range_by_name():
    for extra, word in (((0, 0, "off", "off"), "share of the training images"),
                        ((100, 81, "off", "off"), "wrong labels"),
                        ((100, 0, "0.99", "off"), "dropout"),
                        ((100, 0, "off", 1e9), "weight decay")):
        with pytest.raises(ValueError, match=word):
            train_settings("mlp", 1, 64, "adam", 0, "cosine", 0.1, 0, *extra)
