"""The Dataset tab's own classes (issue 14, item 1) through the app's handlers: made from webcam
frames, files and zips, trained, answered from the webcam; and every new event called by
strangers with hostile values, directly and by number over HTTP."""
from __future__ import annotations

import base64
import io
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import numpy as np
import pytest
from conftest import call_event, running_app, training, uploaded
from PIL import Image

from classifier.data import own_classes
from classifier.images.webcam import webcam_frame
from classifier.serving.session import Session
from classifier.ui import (
    common,
    dataset_tab,
    own_classes_section,
    predict_tab,
    train_tab,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from attacks import join, upload  # noqa: E402

SECRET = Path("/etc/passwd")
MLP = "Fashion-MNIST: MLP (shipped)"


def data_url(colour, shape: str = "square", size=(240, 320), fmt="JPEG") -> str:
    """A webcam frame as the page sends it: a red square or blue circle on grey, as a data URL."""
    img = np.full((*size, 3), 128, np.uint8)
    yy, xx = np.mgrid[:size[0], :size[1]]
    r, (cy, cx) = size[0] // 3, (size[0] // 2, size[1] // 2)
    inside = ((abs(yy - cy) < r) & (abs(xx - cx) < r) if shape == "square"
              else (yy - cy) ** 2 + (xx - cx) ** 2 < r * r)
    img[inside] = colour
    out = io.BytesIO()
    Image.fromarray(img).save(out, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


SQUARE, CIRCLE = data_url((220, 30, 30), "square"), data_url((30, 60, 220), "circle")


def two_classes(n: int = 6) -> Session:
    """A session with 'square' and 'circle', n webcam frames each (Capture and Record)."""
    session = Session()
    for name in ("square", "circle"):
        own_classes_section.own_add_class(session, name)
    for _ in range(n):
        own_classes_section.own_add_frame(session, "square", SQUARE)
        own_classes_section.own_record(session, "circle", {"path": None, "url": CIRCLE})  # as Gradio streams it
    return session


def test_classes_from_the_webcam_train_and_answer_the_webcam():
    """Two classes of webcam frames, the Quick CNN with the defaults the set gets, and the
    Predict tab's webcam handler answering each shape."""
    session = two_classes()
    picker, pictures, info, bars = own_classes_section.own_show_class(session, "circle")
    assert picker["choices"] == [("square (6)", "square"), ("circle (6)", "circle")]
    assert picker["value"] == "circle" and len(pictures["value"]) == 6
    assert pictures["label"] == "circle: 6 images (click one, then Delete)"
    assert bars["value"].to_dict("list") == {"class": ["square", "circle"], "images": [6, 6]}
    assert "would score **50.0%**" in info and "Ready to train" in info
    text, *_ = dataset_tab.show_dataset(session, "own", "all classes", 0)
    assert text == info and session.dataset_title() == "Your own classes"
    model, epochs, batch = dataset_tab.suggest_training(session, "own")
    assert (model["value"], epochs["value"], batch["value"]) == ("cnn_quick", 20, 16)
    assert train_tab.describe_model("mlp", session)[1:] == ({"value": 20, "__type__": "update"},
                                                      {"value": 16, "__type__": "update"})
    assert "parameters for Your own classes (64x64)" in common.model_text("cnn_quick", session)
    list(training(session, "cnn_quick", 20, 16, "recipe's own", 0, "cosine", 0.1))
    name = session.active_model
    assert name.startswith("#1 Your own classes: Quick CNN, 20 epochs")  # not at chance: active
    for frame, shape in ((SQUARE, "square"), ({"url": CIRCLE}, "circle")):
        bars, text, *_ = predict_tab.show_webcam(session, name, frame, 0)
        assert text.startswith(f"1. **{shape}**"), text
        assert abs(bars["value"]["probability"].sum() - 1) < 0.01
    assert session.last_image is not None  # the sliders and the Inside tab read it


def test_files_delete_zip_and_back(tmp_path):
    session = Session()
    own_classes_section.own_add_class(session, "red")
    files = [{"path": uploaded(_png((200 - 30 * i, 0, 0)), f"r{i}.png")} for i in range(4)]
    *view, emptied = own_classes_section.own_add_files(session, "red", files)
    assert emptied is None and view[0]["choices"] == [("red (4)", "red")]
    own_classes_section.own_pick(session, "red", SimpleNamespace(index=1))
    own_classes_section.own_delete_image(session, "red")
    assert session.own.counts() == {"red": 3} and own_classes_section.screen(session).picked is None
    reds = [int(img[0, 0, 0]) for img, _ in session.own.thumbnails("red")]
    assert reds == [200, 140, 110]  # the second one is gone
    own_classes_section.own_add_class(session, "blue")
    own_classes_section.own_add_files(session, "blue", [{"path": uploaded(_png((0, 0, 200)), f"b{i}.png")}
                                        for i in range(5)])
    zipped = own_classes_section.own_download(session)
    other = Session()
    view = own_classes_section.own_load_zip(other, {"path": uploaded(Path(zipped).read_bytes(), "mine.zip")})
    assert other.own.counts() == {"blue": 5, "red": 3} and view[-1] is None
    assert [int(img[0, 0, 0]) for img, _ in other.own.thumbnails("red")] == reds
    with pytest.warns(UserWarning, match="nothing to download yet"):
        assert own_classes_section.own_download(Session()) is None  # SAVE_ZIP saves nothing


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(out, "PNG")
    return out.getvalue()


def test_a_change_makes_the_dataset_anew_and_closing_forgets_the_images():
    session = two_classes(5)
    session.dataset_key = "own"
    first = session.dataset()
    assert session.dataset() is first  # kept while nothing changed
    own_classes_section.own_add_frame(session, "square", SQUARE)
    assert session.dataset() is not first and session.dataset().train_images == 9
    own_classes_section.own_image_size(session, "28x28 grey (like MNIST; fastest)")
    assert session.dataset().image_shape == (28, 28, 1)
    session.close()
    assert session.own.counts() == {} and session._own_built is None


def test_the_version_counts_every_change_and_a_frame_decodes():
    s = own_classes.ClassSet()
    seen = [s.version]

    def changed() -> bool:
        seen.append(s.version)
        return seen[-1] != seen[-2]

    s.add_class("a")
    assert changed()
    s.add_images("a", webcam_frame(SQUARE))
    assert changed() and s.counts() == {"a": 1}
    with pytest.raises(ValueError):
        s.remove_class("nobody")
    s.add_images("a", b"not an image")
    assert not changed()  # nothing happened
    for step in (lambda: s.rename_class("a", "b"), lambda: s.delete_image("b", 0),
                 lambda: s.remove_class("b"), s.clear):
        step()
        assert changed()
    assert Image.open(io.BytesIO(webcam_frame({"url": CIRCLE}))).size == (320, 240)


def test_not_ready_says_what_to_add():
    session = Session()
    session.dataset_key = "own"
    assert "make at least 2 classes to train (there are 0)" in common.model_text("cnn_quick", session)
    own_classes_section.own_add_class(session, "a")
    info = own_classes_section.own_show_class(session, "a")[2]
    assert "**Not ready to train yet:** make at least 2 classes" in info
    with pytest.warns(UserWarning, match="make at least 2 classes"):  # the page's warning
        updates = list(training(session, "cnn_quick", 20, 16, "recipe's own", 0,
                                       "cosine", 0.1))
    assert len(updates) == 1 and not session.trained


def test_mobilenet_says_it_starts_from_random_weights():
    """train_form always trains it without ImageNet weights: the text must not promise them."""
    text = common.model_text("mobilenetv2", Session())
    assert "**random weights**, not ImageNet's" in text
    assert "random weights" not in common.model_text("cnn_quick", Session())


def test_a_full_class_stops_adding_and_says_why(monkeypatch):
    monkeypatch.setattr(own_classes, "MAX_PER_CLASS", 2)
    session = Session()
    own_classes_section.own_add_class(session, "a")
    for _ in range(2):
        assert own_classes_section.own_record(session, "a", {"url": SQUARE})[0] == own_classes_section.RECORDING
    status, *rest = own_classes_section.own_record(session, "a", {"url": SQUARE})
    assert status.startswith("**Not recording:** class 'a' is full: at most 2 images a class")
    assert rest[-1].active  # the timer clears the message once the frames stop
    with pytest.warns(UserWarning, match=r"Not added: class 'a' is full: at most 2 images"):
        assert own_classes_section.own_add_frame(session, "a", SQUARE) == (gr.skip(),) * 4
    assert session.own.counts() == {"a": 2}
    own_classes_section.screen(session).recorded_at = 0  # no frame for a while: the view once more, the timer off
    status, *_, timer = own_classes_section.own_settle(session, "a")
    assert status == "" and not timer.active


def test_webcam_frames_beyond_the_servers_slots_are_dropped_not_queued():
    """Streams hold their events until Stop, so the queue cannot bound them: while every one of
    the server's frame slots is busy, a frame (Predict's or Record's) changes nothing and costs
    nothing; once a slot is free, frames are answered again."""
    session = two_classes(2)
    taken = 0
    while common.WEBCAM_FRAMES.acquire(blocking=False):
        taken += 1
    try:
        assert taken == 4
        assert predict_tab.show_webcam(session, MLP, {"url": SQUARE}, 0) == gr.skip()
        assert own_classes_section.own_record(session, "circle", {"url": CIRCLE}) == gr.skip()
        assert session.own.counts() == {"square": 2, "circle": 2}
    finally:
        for _ in range(taken):
            common.WEBCAM_FRAMES.release()
    bars, text, *_ = predict_tab.show_webcam(session, MLP, {"url": SQUARE}, 0)
    assert text.startswith("1. **") and abs(bars["value"]["probability"].sum() - 1) < 0.01
    assert own_classes_section.own_record(session, "circle", {"url": CIRCLE})[0] == own_classes_section.RECORDING
    assert session.own.counts() == {"square": 2, "circle": 3}


# ---------------------------------------------------------------- hostile values, directly
HUGE = "x" * 5_000_000
HOSTILE = [  # (handler, its arguments after the state, what the one-line message holds)
    (own_classes_section.own_add_class, [float("nan")], "a class name must be text, got float nan"),
    (own_classes_section.own_add_class, [HUGE], "has 5,000,000 characters; at most 40"),
    (own_classes_section.own_add_class, [["a", "b"]], "must be text, got list"),
    (own_classes_section.own_add_class, ["../../etc"], "cannot hold /"),
    (own_classes_section.own_rename_class, ["nobody", "x"], "no class called 'nobody'; the classes are: 'a'"),
    (own_classes_section.own_rename_class, [None, "x"], "add a class first"),
    (own_classes_section.own_remove_class, [{"name": "a"}], "a class name must be text, got dict"),
    (own_classes_section.own_show_class, [HUGE], None),  # unknown: the first class is shown
    (own_classes_section.own_add_frame, ["nobody", SQUARE], "no class called 'nobody'"),
    (own_classes_section.own_add_frame, ["a", {"path": str(SECRET)}], "no webcam picture yet"),
    (own_classes_section.own_add_frame, ["a", str(SECRET)], "must be an image as a data URL"),
    (own_classes_section.own_add_frame, ["a", "data:image/png;base64," + "A" * 5_000_000], "too large"),
    (own_classes_section.own_add_frame, ["a", "data:image/png;base64,!!!!"], "not valid base64"),
    (own_classes_section.own_add_frame, ["a", "data:image/png;base64," + base64.b64encode(b"GIF89").decode()],
     "Not added: could not read the image"),  # decodes, and is no image
    (own_classes_section.own_add_frame, ["a", [SQUARE] * 3], "got ['data:image/jpeg;b..."),
    (own_classes_section.own_add_files, ["a", [{"path": str(SECRET)}, str(SECRET), 7, None]], None),  # skipped
    (own_classes_section.own_load_zip, [{"path": str(SECRET)}], "only files uploaded through this app are read"),
    (own_classes_section.own_load_zip, [[1, 2]], "upload an image file (got no file)"),
    (own_classes_section.own_image_size, [float("nan")], "images must be one of"),
    (own_classes_section.own_delete_image, ["a"], "Click an image of the class first"),
    (predict_tab.show_webcam, [MLP, {"path": str(SECRET)}, 1], "no webcam picture"),
    (predict_tab.show_webcam, ["/etc/passwd", SQUARE, 1], "pick a model"),
    (predict_tab.show_webcam, [MLP, SQUARE, float("nan")], "epoch must be"),
]


@pytest.mark.parametrize("handler, args, message", HOSTILE,
                         ids=[f"{h.__name__}-{i}" for i, (h, _, _) in enumerate(HOSTILE)])
def test_hostile_values_get_one_line_and_change_nothing(handler, args, message):
    """The section's handlers say a refusal as one warning and leave every output as it was
    (a gr.Error would mark them all "Error" on the page); the Predict tab's still raise."""
    session = Session()
    own_classes_section.own_add_class(session, "a")
    before = session.own.counts()
    ours = handler.__module__ == own_classes_section.__name__
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        if message is None or ours:
            out = handler(session, *args)
        else:
            with pytest.raises(gr.Error, match=re.escape(message)) as caught:
                handler(session, *args)
            said.append(SimpleNamespace(message=caught.value.message))
    lines = [str(s.message) for s in said]
    if message is not None:
        assert len(lines) == 1 and message in lines[0], lines
    if message is not None and ours:
        outputs = out if isinstance(out, tuple) else (out,)
        assert all(o == gr.skip() or o is None for o in outputs), out  # nothing changes
    for line in lines:  # a value sent may be quoted, cut short
        assert "\n" not in line and len(line) < 500, line
        assert "/tmp" not in line and "/work" not in line, line  # no server paths
    assert session.own.counts() == before


@pytest.mark.parametrize("name", ["square", " Circle ", "", "   ", None])
def test_a_refused_name_is_one_warning_and_the_picker_keeps_working(name):
    """Issue 26, item 4: a name taken (whatever its capitals) or empty is said once; the
    picker, the pictures, the text, the bars and the name box are left as they were (no red
    "Error" on them), and picking a class works at once."""
    session = two_classes(2)
    with pytest.warns(UserWarning) as said:
        out = own_classes_section.own_add_class(session, name)
    assert len(said) == 1 and ("already a class" in str(said[0].message)
                               or "name" in str(said[0].message)), said[0].message
    assert out == (gr.skip(),) * 5
    assert session.own.counts() == {"square": 2, "circle": 2}
    picker, pictures, *_ = own_classes_section.own_show_class(session, "circle")
    assert picker["value"] == "circle" and len(pictures["value"]) == 2


def test_every_refusal_of_the_section_is_a_warning_not_an_error():
    """No handler of the section raises gr.Error for a value it refuses (each output would be
    marked "Error" on the page): each says why once and changes nothing."""
    session = two_classes(2)
    calls = [(own_classes_section.own_add_class, ["square"]),
             (own_classes_section.own_rename_class, ["square", "circle"]),
             (own_classes_section.own_rename_class, [None, "x"]),
             (own_classes_section.own_remove_class, ["nobody"]),
             (own_classes_section.own_add_frame, [None, SQUARE]),
             (own_classes_section.own_add_files, [None, [{"path": str(SECRET)}]]),
             (own_classes_section.own_delete_image, ["square"]),
             (own_classes_section.own_load_zip, [{"path": str(SECRET)}]),
             (own_classes_section.own_image_size, ["huge"]),
             (own_classes_section.own_download, [])]
    for handler, args in calls:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            out = handler(session if handler is not own_classes_section.own_download
                          else Session(), *args)  # raises no gr.Error
        assert len(said) == 1, (handler.__name__, [str(s.message) for s in said])
        outputs = out if isinstance(out, tuple) else (out,)
        assert all(o == gr.skip() or o is None for o in outputs), (handler.__name__, out)
    assert session.own.counts() == {"square": 2, "circle": 2}


def test_a_hostile_record_frame_is_said_beside_the_webcam_not_raised():
    session = Session()
    for frame in (None, {"url": HUGE}, [1], {"url": "data:image/png;base64,AAAA"}):
        status, *rest = own_classes_section.own_record(session, "a", frame)
        assert status.startswith("**Not recording:**") and "\n" not in status
        assert rest[:4] == [gr.update()] * 4
    assert session.own.counts() == {}


def test_a_click_with_a_hostile_index_is_ignored_or_refused():
    session = two_classes(5)
    for index in (None, [1, 2], "1", 1.0, True, 10**9, -1):
        own_classes_section.own_pick(session, "square", SimpleNamespace(index=index))
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            own_classes_section.own_delete_image(session, "square")
        for line in (str(s.message) for s in said):
            assert "Click an image" in line or "has 5 images" in line
    assert session.own.counts() == {"square": 5, "circle": 5}


# ---------------------------------------------------------------- by number, over HTTP
@pytest.fixture(scope="module")
def server():
    with running_app() as url:
        http = httpx.Client(base_url=f"{url}gradio_api/", timeout=60)
        fns = {d["api_name"]: d["id"] for d in httpx.get(f"{url}config").json()["dependencies"]}
        yield SimpleNamespace(http=http, fns=fns)
        http.close()


def test_every_new_event_by_number_answers_one_line_and_keeps_sessions_apart(server):
    mine, theirs = "own-classes-a", "own-classes-b"
    for session in (mine, theirs):
        assert join(server, server.fns["new_session"], [], session)["event"] == "complete"
    assert join(server, server.fns["own_add_class"], [None, "secret"], mine)["event"] == "complete"
    added = join(server, server.fns["own_add_frame"], [None, "secret", SQUARE], mine)
    assert added["event"] == "complete", added
    sneaker = upload(server, Path("assets/examples/fashion-sneaker.png"))
    calls = [  # (event, its inputs after the state, a word of the message or None: completes)
        ("own_add_class", [HUGE[:100_000]], "at most 40"),
        ("own_add_class", [{"__proto__": 1}], "must be text"),
        ("own_rename_class", ["secret", "x"], "no class called 'secret'"),  # theirs: not here
        ("own_remove_class", ["secret"], "no class called 'secret'"),
        ("own_show_class", ["secret"], None),
        ("own_add_frame", ["secret", {"path": str(SECRET)}], "no webcam picture"),
        ("own_add_files", ["secret", [sneaker]], "no class called"),
        ("own_load_zip", [sneaker], "not a zip"),
        ("own_image_size", ["; rm -rf /"], "images must be one of"),
        ("own_delete_image", ["secret"], "Click an image"),
        ("own_download", [], "nothing to download yet"),
        ("show_webcam", [MLP, {"url": "data:image/gif;base64,R0lG"}, 1], "could not read"),
        ("show_webcam", [MLP, {"url": SQUARE}, "1e999"], "epoch must be"),
        ("show_webcam", ["../../etc/passwd", {"url": SQUARE}, 1], "pick a model"),
    ]
    for name, data, word in calls:
        if name.startswith("own_"):  # a warning, and every output left as it was (issue 26)
            seen = call_event(server, name, [None, *data], theirs)
            assert seen[-1]["success"], (name, seen[-1])
            said = [m["log"] for m in seen if m.get("msg") == "log"]
            sent = [d for m in seen if (m.get("output") or {}).get("data")
                    for d in m["output"]["data"]]
            assert "secret" not in str(sent), (name, sent)  # their classes are theirs
            if word is None:
                assert not said, (name, said)
                continue
            assert len(said) == 1 and word in said[0], (name, said)
            assert all(d is None or d == {"__type__": "update"} for d in sent), (name, sent)
            message = said[0]
        else:
            result = join(server, server.fns[name], [None, *data], theirs)
            message = str(result["error"])
            assert result["event"] == "error" and word in message, (name, result)
        assert "\n" not in message and "Traceback" not in message and len(message) < 400, message
        assert "/tmp" not in message and "/work" not in message, message  # no server paths
    for name, data in (("own_add_files", ["secret", [{"path": str(SECRET)}]]),
                       ("own_add_files", ["secret", [{**sneaker, "path": str(SECRET)}]]),
                       ("own_load_zip", [{"path": str(SECRET)}]),
                       ("own_load_zip", [{**sneaker, "path": str(SECRET)}])):
        refused = join(server, server.fns[name], [None, *data], theirs)  # by Gradio, before the
        assert refused["event"] == "error" and refused["data"] is None, refused  # handler: unsaid
    for index in (None, [1e300], "x" * 1000, {"a": 1}):  # clicks with any event data
        r = server.http.post("queue/join", json={
            "data": [None, "secret"], "fn_index": server.fns["own_pick"], "session_hash": theirs,
            "event_data": {"index": index, "value": None}})
        assert r.status_code in (200, 422), r.text[:200]
    shown = join(server, server.fns["own_show_class"], [None, "secret"], mine)
    assert shown["event"] == "complete" and "secret (1)" in str(shown["data"][0])  # still there
