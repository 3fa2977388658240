"""The app's handlers called directly, and the running app driven through gradio_client."""
import json
import socket
from pathlib import Path
import threading

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import app
from classifier.session import Session, shipped_names
from conftest import make_dataset


def _digit_one(path):
    a = np.zeros((280, 280), np.uint8)
    a[50:230, 130:150] = 255
    Image.fromarray(a).save(path)
    return path


def test_app_starts_with_shipped_models():
    assert {"Fashion-MNIST: MLP (shipped)", "MNIST digits: CNN (shipped)"} <= set(shipped_names())


def test_dataset_handler_shows_grid_counts_and_baseline():
    session = Session()
    info, grid, counts, _, fig, aug = app.show_dataset(session, "fashion_mnist", "Sneaker", 0)
    assert "60,000 train / 10,000 test" in info and "10.0%" in info
    assert len(grid) == 25 and all(caption == "Sneaker" for _, caption in grid)
    assert grid[0][0].shape == (140, 140)  # sharp 5x nearest-neighbour upscale of 28x28
    assert counts["value"]["images"].tolist() == [6000] * 10 and len(aug) == 5
    assert counts["y_lim"] == [0, 6600]  # bars start at zero, so equal classes look equal


def test_prediction_handler_answers_a_drawn_one(tmp_path):
    sketch = {"background": None, "layers": [], "composite": np.asarray(Image.open(_digit_one(tmp_path / "one.png")))}
    update, text, seen, *_ = app.show_prediction(Session(), "MNIST digits: CNN (shipped)", sketch)
    bars = update["value"]
    assert update["sort"] == list("0123456789")  # class order, not alphabetical or by score
    assert abs(bars["probability"].sum() - 1) < 0.01 and len(bars) == 10
    assert bars.loc[bars["answer"] == "top answer", "class"].item() == "1"
    assert text.startswith("1. **1**") and seen.shape == (196, 196)


def test_prediction_handler_answers_a_drawn_shoe():
    from PIL import ImageDraw
    img = Image.new("L", (280, 280), 0)  # toe to the left, heel to the right, as in the data
    ImageDraw.Draw(img).line([(250, 200), (250, 140), (170, 120), (130, 150), (30, 175),
                              (30, 200), (250, 200)], fill=255, width=14)
    sketch = {"background": None, "layers": [], "composite": np.asarray(img)}
    for model in ("Fashion-MNIST: our CNN (shipped)", "Fashion-MNIST: MLP (shipped)"):
        text = app.show_prediction(Session(), model, sketch)[1]
        assert any(shoe in text for shoe in ("Sneaker", "Ankle boot", "Sandal")), (model, text)


def test_prediction_handler_empty_and_bad_input(tmp_path):
    empty = {"background": None, "layers": [], "composite": None}
    assert app.show_prediction(Session(), "Fashion-MNIST: MLP (shipped)", empty)[1].startswith("Draw")
    cleared = {"background": None, "layers": [], "composite": np.zeros((280, 280), np.uint8)}
    bars, text, seen, *_ = app.show_prediction(Session(), "Fashion-MNIST: MLP (shipped)", cleared)
    assert bars is None and seen is None and text.startswith("Nothing to read: the image is blank")
    (tmp_path / "x.png").write_text("not a picture")
    with pytest.raises(app.gr.Error, match="could not read the image 'x.png': not a PNG"):
        app.show_prediction(Session(), "Fashion-MNIST: MLP (shipped)", {"path": str(tmp_path / "x.png")})


def test_train_handler_streams_curves_and_registers_the_model(monkeypatch):
    session = Session()
    session.dataset_key = "upload"
    session.uploaded = make_dataset(n_train=120, n_test=30)
    updates = list(app.train_model(session, "mlp", 2, 16, "recipe's own", 0, "cosine", 0.2, progress=lambda *a, **k: None))
    acc, final = updates[-1][1]["value"], updates[-1][3]
    assert updates[-1][1]["x_lim"] == [0, 2]
    assert set(acc["series"]) == {"training", "validation"} and len(acc[acc.series == "validation"]) == 2
    assert "Test accuracy" in final and len(session.trained) == 1
    name = next(iter(session.trained))
    assert name.startswith("#1 Tiny: MLP (Flatten-Dense-128), 2 epochs")
    assert updates[-1][5]["value"].endswith("model.keras")
    files = updates[-1][6]["value"]  # take it home: the model, the script, the metrics
    assert [Path(f).name for f in files] == ["model.keras", "train_mlp_tiny.py", "metrics.json"]
    assert json.loads(Path(files[2]).read_text())["test_accuracy"] == session.trained[name].run.evaluation.accuracy
    heat_maps = [u[4] for u in updates if not isinstance(u[4], dict)]  # a new figure each epoch
    assert len(heat_maps) == 2 and heat_maps[-1].axes[0].get_title()
    slider = updates[-1][10]
    assert slider["visible"] and slider["maximum"] == 2 and slider["value"] == 2


def test_epoch_slider_repredicts_the_latest_drawing_with_that_epochs_weights(tmp_path):
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=240, n_test=30)
    list(app.train_model(session, "mlp", 3, 16, "adam", 0.0002, "constant", 0.2,
                         progress=lambda *a, **k: None))
    name = next(iter(session.trained))
    drawing = {"background": None, "layers": [], "composite": make_dataset(n_train=3).x_train[1, ..., 0]}
    final = app.show_prediction(session, name, drawing, 3)
    assert session.last_image is drawing
    answers = {k: app.repredict(session, name, k)[0]["value"]["probability"].tolist() for k in (1, 2, 3)}
    assert answers[3] == final[0]["value"]["probability"].tolist()  # last epoch = the model itself
    assert answers[1] != answers[3] and answers[2] != answers[3]
    bars, text, seen, why, shrunk = final
    assert "Without the clean-up" in text and why["value"].shape == (196, 196, 3)
    assert why["label"].startswith("Why ") and shrunk["value"].shape == (196, 196)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(prevent_thread_lock=True, server_port=port, **app.LAUNCH)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    app.demo.close()


def test_api_lists_only_public_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/predict", "/samples", "/train"}


def test_api_predict_a_drawn_file(client, tmp_path):
    probs = client.predict("MNIST digits: CNN (shipped)", handle_file(_digit_one(tmp_path / "one.png")),
                           api_name="/predict")
    assert set(probs) == set("0123456789") and abs(sum(probs.values()) - 1) < 1e-6
    assert max(probs, key=probs.get) == "1"


def test_api_bad_upload_is_a_clear_error_and_the_next_request_works(client, tmp_path):
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    with pytest.raises(Exception, match="could not read the image"):
        client.predict("Fashion-MNIST: MLP (shipped)", handle_file(bad), api_name="/predict")
    probs = client.predict("Fashion-MNIST: MLP (shipped)", handle_file("assets/examples/fashion-sneaker.png"),
                           api_name="/predict")
    assert max(probs, key=probs.get) == "Sneaker"


def test_api_samples(client):
    rows = client.predict("mnist", 3, 1, api_name="/samples")
    assert len(rows) == 3 and all(np.array(r["pixels"]).shape == (28, 28) for r in rows)


def test_two_clients_train_at_once_and_get_their_own_runs(client):
    url = client.src
    results = {}

    def train(tag, epochs):
        c = Client(url, verbose=False)
        results[tag] = c.predict("mlp", epochs, 256, "recipe's own", 0, "cosine", 0.1, api_name="/train")

    threads = [threading.Thread(target=train, args=(t, e)) for t, e in (("a", 1), ("b", 2))]
    [t.start() for t in threads]
    [t.join(timeout=300) for t in threads]
    for tag, epochs in (("a", 1), ("b", 2)):
        acc, _, status = results[tag][0], results[tag][1], results[tag][2]
        acc = acc.get("value", acc)  # the plot arrives as an update (it carries x_lim)
        val = [row for row in acc["data"] if row[2] == "validation"]
        assert len(val) == epochs, (tag, status)
        assert f"after {epochs} epoch(s)" in status


def _training_threads():
    return [t for t in threading.enumerate() if t.name.startswith("train-") and t.is_alive()]


def test_cancelled_client_stops_its_training(client):
    """A closed tab (a cancelled job) ends that user's run: the training thread exits."""
    import time
    c = Client(client.src, verbose=False)
    job = c.submit("mlp", 50, 64, "recipe's own", 0, "cosine", 0.1, api_name="/train")
    deadline = time.time() + 60
    while not _training_threads() and time.time() < deadline:
        time.sleep(0.2)
    assert _training_threads(), "training never started"
    time.sleep(1.0)
    job.cancel()
    deadline = time.time() + 30
    while _training_threads() and time.time() < deadline:
        time.sleep(0.2)
    assert not _training_threads()


def test_bad_zip_upload_is_a_clear_error(tmp_path):
    bad = tmp_path / "classes.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(app.gr.Error, match="not a readable zip"):
        app.upload_zip(Session(), str(bad))


def test_zip_upload_becomes_the_dataset(tmp_path):
    import zipfile
    path = tmp_path / "shapes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for cls, value in (("dark", 30), ("light", 220)):
            for i in range(4):
                buf = tmp_path / f"{cls}{i}.png"
                Image.new("L", (20 + i, 20), value).save(buf)
                zf.write(buf, f"shapes/{cls}/{i}.png")
    session = Session()
    assert app.upload_zip(session, str(path))["value"] == "upload"
    info, grid, *_ = app.show_dataset(session, "upload", "all classes", 0)
    assert "2 classes" in info and "uploaded zip shapes.zip" in info and len(grid) == 6


def test_closing_a_session_frees_its_models_and_files():
    session = Session()
    session.uploaded = make_dataset(n_train=60, n_test=20)
    session.dataset_key = "upload"
    list(app.train_model(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.2, progress=lambda *a, **k: None))
    folder = session.workdir
    assert session.trained and any(folder.rglob("model.keras"))
    session.close()
    assert not session.trained and session.uploaded is None and not folder.exists()
    assert session.stop.is_set()  # a run still going would stop


def test_the_tutorials_recipe_is_selectable():
    """Batch 32, adam 1e-3, constant learning rate: the lectures' exact settings still train."""
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=64, n_test=16)
    list(app.train_model(session, "mlp", 1, 32, "adam", 0.001, "constant", 0.2,
                         progress=lambda *a, **k: None))
    run = next(iter(session.trained.values())).run
    assert run.settings.lr_schedule == "constant" and run.settings.batch_size == 32
    assert abs(float(run.model.optimizer.learning_rate.numpy()) - 0.001) < 1e-9


def test_file_route_refuses_paths_the_app_does_not_serve(client):
    import httpx
    base = client.src.rstrip("/")
    for path in ("/etc/passwd", "assets/../app.py", "/work/main/app.py", "../../etc/passwd"):
        r = httpx.get(f"{base}/gradio_api/file={path}")
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "root:" not in r.text and "import gradio" not in r.text


def test_upload_size_is_limited(client):
    import httpx
    r = httpx.post(client.src.rstrip("/") + "/gradio_api/upload",
                   files={"files": ("big.png", b"0" * (21 * 1024 * 1024))})
    assert r.status_code == 413
