"""Bad images and hostile zips through the app's own handlers and its API, isolation between
sessions, limits that say so. (Load and long uptime: tests/test_stress.py.)"""
import io
import struct
import zipfile
import zlib
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import running_app, training, uploaded
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from classifier.serving.session import Session
from classifier.ui import dataset_tab, lifecycle, predict_tab

MLP = "Fashion-MNIST: MLP (shipped)"
CNN = "Fashion-MNIST: our CNN (shipped)"
SNEAKER = "assets/examples/fashion-sneaker.png"
TRACEBACK_SIGNS = ("Traceback", 'File "', "site-packages", "classifier-session-", "pytest-of", "Error(")


def _shirt(mode: str = "L", size=(280, 280)) -> Image.Image:
    """A pale T-shirt-like shape on black, so every variant has something to read."""
    img = Image.new("L", size, 0)
    w, h = size
    ImageDraw.Draw(img).polygon([(w * .3, h * .15), (w * .7, h * .15), (w * .9, h * .35),
                                 (w * .75, h * .45), (w * .72, h * .9), (w * .28, h * .9),
                                 (w * .25, h * .45), (w * .1, h * .35)], fill=220)
    return img.convert(mode) if mode != "L" else img


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds almost no data (a decompression bomb's
    header): a reader that trusted it would allocate width*height bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    return _save(_shirt("RGB").rotate(90, expand=True), "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [_shirt("P"), Image.new("P", (280, 280), 0)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_transparent() -> bytes:
    img = _shirt("P")
    return _save(img, "PNG", transparency=0)


def _sixteen_bit() -> bytes:
    a = (np.asarray(_shirt()).astype(np.uint16) * 257)
    return _save(Image.fromarray(a), "PNG")  # mode I;16


def _truncated(fmt: str) -> bytes:
    noisy = np.random.default_rng(0).integers(0, 256, (280, 280), np.uint8)
    data = _save(Image.fromarray(noisy), fmt)
    return data[: len(data) // 2]


def _huge_photo() -> bytes:
    """A valid 6000x4000 photo-like JPEG (24 megapixels, under Pillow's bomb limit)."""
    return _save(_shirt("RGB", size=(6000, 4000)), "JPEG", quality=70)


# name: (file bytes, expected) where expected is "answer" or a regex of the error toast's text
BAD_FILES = {
    "text.png": (lambda: b"hello, I am not a picture", "not an image|could not read"),
    "empty.png": (lambda: b"", "empty \\(0 bytes\\)"),
    "truncated.png": (lambda: _truncated("PNG"), "truncated or damaged"),
    "truncated.jpg": (lambda: _truncated("JPEG"), "truncated or damaged"),
    "bomb.png": (lambda: _png_header_only(20000, 20000), "too large"),
    "cmyk.jpg": (lambda: _save(_shirt("CMYK"), "JPEG"), "answer"),
    "grey16.png": (_sixteen_bit, "answer"),
    "palette.png": (_palette_transparent, "answer"),
    "animated.gif": (_animated_gif, "answer"),
    "exif.jpg": (_exif_rotated, "answer"),
    "huge.jpg": (_huge_photo, "answer"),
}
ANSWER_TOPS = {"T-shirt/top", "Shirt", "Pullover", "Coat", "Dress"}  # a top, not trousers or shoes


@pytest.fixture(scope="module")
def bad_files():
    """The files, each as the page's upload route would have stored it."""
    return {name: Path(uploaded(make(), name)) for name, (make, _) in BAD_FILES.items()}


def _assert_clean_message(text: str, name: str) -> None:
    assert not any(sign in text for sign in TRACEBACK_SIGNS), text
    assert len(text) < 300, text


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_upload_through_the_predict_tab(bad_files, name):
    """The upload path of the Predict tab: a message naming the problem, or a right answer; and
    the same session answers the next, good, image."""
    session, expected = Session(), BAD_FILES[name][1]
    path = str(bad_files[name])
    if expected == "answer":
        bars, text, seen, *_ = predict_tab.show_upload(session, MLP, {"path": path})
        top = bars["value"].loc[bars["value"]["answer"] == "top answer", "class"].item()
        assert top in ANSWER_TOPS, (name, text)
        assert seen.shape == (196, 196) and seen.max() > 20  # something visible was read
    else:
        with pytest.raises(gr.Error) as err:
            predict_tab.show_upload(session, MLP, {"path": path})
        import re
        assert re.search(expected, err.value.message), err.value.message
        assert name in err.value.message  # the user's file name, not a server path
        _assert_clean_message(err.value.message, name)
    bars, text, *_ = predict_tab.show_upload(session, MLP, {"path": uploaded(SNEAKER)})
    assert "Sneaker" in text


@pytest.mark.parametrize("canvas, expected", [
    (np.full((280, 280), 255, np.uint8), "Nothing to read"),   # all white
    (np.zeros((280, 280), np.uint8), "Nothing to read"),       # all black (a cleared canvas)
    (np.full((1, 1), 200, np.uint8), "Nothing to read"),       # one pixel
    (None, "Draw something"),                                    # nothing at all yet
])
def test_blank_drawings_say_so_without_an_error(canvas, expected):
    sketch = {"background": None, "layers": [], "composite": canvas}
    bars, text, seen, *_ = predict_tab.show_prediction(Session(), MLP, sketch)
    assert text.startswith(expected) and bars is None and seen is None


def test_a_removed_upload_is_not_answered_again_by_another_model():
    """Issue 26 item 3: upload a "3", remove it with its x, switch the model: the switch
    answered the removed "3" again ("Bag 100%") beside the next upload."""
    session = Session()
    bars, text, *_ = predict_tab.show_upload(session, MLP, {"path": uploaded(SNEAKER)})
    assert "Sneaker" in text
    emptied = predict_tab.show_upload(session, MLP, None)  # the x
    assert emptied[0] is None and emptied[1].startswith("Draw something")
    assert all(_empty(picture) for picture in emptied[2:])
    again = predict_tab.repredict(session, CNN, 0)  # another model: nothing to answer
    assert again[0] is None and again[1].startswith("Draw something")
    assert all(_empty(picture) for picture in again[2:])
    # a drawing made after the upload stays the latest image when the upload goes
    predict_tab.show_upload(session, MLP, {"path": uploaded(SNEAKER)})
    drawing = {"background": None, "layers": [], "composite": _stroke()}
    predict_tab.show_prediction(session, MLP, drawing)
    predict_tab.show_upload(session, MLP, None)
    assert predict_tab.repredict(session, CNN, 0)[0] is not None
    # a blank upload is the latest image: the sneaker before it is not answered again
    predict_tab.show_upload(session, MLP, {"path": uploaded(SNEAKER)})
    predict_tab.show_upload(session, MLP, {"path": uploaded(
        _save(Image.new("L", (40, 40), 255), "PNG"), "white.png")})
    assert predict_tab.repredict(session, CNN, 0)[0] is None


def _empty(update) -> bool:
    return update is None or (isinstance(update, dict) and update.get("value") is None)


def _stroke() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[60:220, 130:150] = 255
    return canvas


def test_one_pixel_upload_is_a_clear_answer(tmp_path):
    dot = uploaded(_save(Image.new("L", (1, 1), 255), "PNG"), "dot.png")
    bars, text, *_ = predict_tab.show_upload(Session(), MLP, {"path": dot})
    assert text.startswith("Nothing to read") and bars is None


# ---------------------------------------------------------------- the same through the API
@pytest.fixture(scope="module")
def client():
    with running_app() as url:
        yield Client(url, verbose=False)


def test_bad_files_through_the_api_each_get_a_message_and_the_server_keeps_answering(client, bad_files):
    for name, (_, expected) in BAD_FILES.items():
        if expected == "answer":
            probs = client.predict(MLP, handle_file(str(bad_files[name])), api_name="/predict")
            assert max(probs, key=probs.get) in ANSWER_TOPS, name
        else:
            with pytest.raises(Exception, match=expected) as err:
                client.predict(MLP, handle_file(str(bad_files[name])), api_name="/predict")
            _assert_clean_message(str(err.value), name)
        probs = client.predict(MLP, handle_file(SNEAKER), api_name="/predict")
        assert max(probs, key=probs.get) == "Sneaker", name


def test_a_session_cannot_fetch_another_sessions_files(client):
    """A trained model lives in its session's own folder; the file route refuses that path
    (only Gradio's cache of files the app returned is served)."""
    import httpx
    session = Session()
    (session.workdir / "run1").mkdir()
    secret = session.workdir / "run1" / "model.keras"
    secret.write_bytes(b"another user's model")
    try:
        base = client.src.rstrip("/")
        for path in (str(secret), f"file={secret}", str(secret.relative_to("/"))):
            r = httpx.get(f"{base}/gradio_api/file={path}")
            assert r.status_code in (403, 404) and b"another user" not in r.content, path
    finally:
        session.close()


# ---------------------------------------------------------------- dataset zips
def _zip(path: Path, members: dict[str, bytes], method=zipfile.ZIP_STORED) -> str:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def _png(value: int = 128) -> bytes:
    return _save(Image.new("L", (12, 12), value), "PNG")


BAD_ZIPS = {  # name: (members, made when the test runs; or None: not a zip at all), message
    "escape.zip": (lambda: {"cats/1.png": _png(), "../evil.png": b"pwned"}, "unsafe entry"),
    "absolute.zip": (lambda: {"cats/1.png": _png(), "/tmp/evil.png": b"pwned"}, "unsafe entry"),
    "bomb.zip": (lambda: {"cats/zeros.png": bytes(50_000_000), "dogs/1.png": _png()}, "zip bomb"),
    "one-class.zip": (lambda: {f"cats/{i}.png": _png(i) for i in range(5)}, "need at least 2"),
    "empty-class.zip": (lambda: {**{f"cats/{i}.png": _png(i) for i in range(3)}, "dogs/": b""},
                        "no usable images in class folder.*'dogs'"),
    "not-images.zip": (lambda: {f"{c}/{i}.txt": b"text" for c in "ab" for i in range(3)},
                       "no usable images"),
    "many-empty.zip": (lambda: {f"c{i % 2}/{i}.png": b"" for i in range(10_000)}, "no usable images"),
    "not-a-zip.zip": (None, "not a readable zip"),
}


@pytest.mark.parametrize("name", list(BAD_ZIPS))
def test_bad_zip_upload_gets_a_clear_message_and_writes_nothing_outside(tmp_path, name):
    members, expected = BAD_ZIPS[name]
    upload = tmp_path / "upload"
    upload.mkdir()
    path = upload / name
    if members is None:
        path.write_bytes(b"PK\x03\x04 this is not really a zip")
    else:
        _zip(path, members(), zipfile.ZIP_DEFLATED if name == "bomb.zip" else zipfile.ZIP_STORED)
    session = Session()
    try:
        with pytest.raises(gr.Error) as err:
            dataset_tab.upload_zip(session, str(path))
        import re
        assert re.search(expected, err.value.message), err.value.message
        _assert_clean_message(err.value.message, name)
        assert not (tmp_path / "evil.png").exists() and not Path("/tmp/evil.png").exists()
        assert session.uploaded is None and session.dataset_key == "fashion_mnist"
        leftovers = [p for p in session.workdir.rglob("*") if p.is_file()]
        assert leftovers == [], leftovers  # a refused zip leaves nothing behind
    finally:
        session.close()


def test_nested_folders_zip_loads(tmp_path):
    members = {f"photos/{c}/2024/{i}.png": _png(40 + 150 * k) for k, c in enumerate(("dark", "light"))
               for i in range(4)}
    session = Session()
    try:
        assert dataset_tab.upload_zip(session, _zip(tmp_path / "nested.zip", members))["value"] == "upload"
        assert session.uploaded.class_names == ["dark", "light"]
        assert len(session.uploaded.y_train) + len(session.uploaded.y_test) == 8
    finally:
        session.close()


# ---------------------------------------------------------------- limits that say so
def test_training_over_the_time_cap_stops_with_a_message(monkeypatch):
    from conftest import make_dataset
    monkeypatch.setenv("CLASSIFIER_MAX_TRAIN_SECONDS", "0.5")
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=2000, n_test=16)
    outs = list(training(session, "mlp", 50, 16, "recipe's own", 0, "cosine", 0.1))
    final = outs[-1][3]
    assert "time limit" in final and "epoch" in final, final
    run = next(iter(session.trained.values())).run
    assert run.result.stopped == "time limit" and run.result.epochs_done < 50
    session.close()


# ---------------------------------------------------------------- closed tabs and API callers
def test_closing_the_tab_frees_its_session_at_once(tmp_path):
    from types import SimpleNamespace

    from conftest import make_dataset
    request = SimpleNamespace(session_hash="tab-1")
    session = lifecycle.new_session(request)[0]
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=60, n_test=20)
    list(training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.2))
    folder = session.workdir
    assert session.trained and any(folder.rglob("model.keras"))
    lifecycle.close_tab(SimpleNamespace(session_hash="another-tab"))  # someone else's tab: no effect
    assert session.trained
    lifecycle.close_tab(request)
    assert not session.trained and session.uploaded is None and session.stop.is_set()
    assert not folder.exists()
    lifecycle.close_tab(request)  # closing twice is harmless


def test_an_api_training_keeps_nothing_once_it_returns(tmp_path, monkeypatch):
    """An API caller has no page to come back to: its run's model and files are freed when the
    call ends, and no file is handed to Gradio's cache (where it would stay downloadable)."""
    import tempfile

    from conftest import make_dataset
    monkeypatch.setattr(Session, "dataset", lambda self: make_dataset(n_train=60, n_test=20))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this run's session folder lands here
    outs = list(training(None, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.2))
    assert all(out[0] is None for out in outs)  # no session state is stored for the caller
    import re
    assert re.search(r"after 1 (complete )?epoch", outs[-1][3]), outs[-1][3]
    assert outs[-1][5]["value"] is None and outs[-1][6]["value"] is None  # no model, no files
    assert not list(tmp_path.glob("classifier-session-*"))
