"""The app's handlers called directly, and the running app driven through gradio_client."""
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import make_dataset, running_app, training
from gradio_client import Client, handle_file
from PIL import Image

import app
from classifier.core.settings import TrainSettings
from classifier.inference.evaluation import Evaluation
from classifier.serving.session import Session, shipped_names
from classifier.serving.train_form import train_settings
from classifier.training.run import run_training
from classifier.ui import common, dataset_tab, evaluate_tab, predict_tab, words


def _digit_one(path):
    a = np.zeros((280, 280), np.uint8)
    a[50:230, 130:150] = 255
    Image.fromarray(a).save(path)
    return path


def test_app_starts_with_shipped_models():
    assert {"Fashion-MNIST: MLP (shipped)", "MNIST digits: CNN (shipped)"} <= set(shipped_names())


def test_dataset_handler_shows_grid_counts_and_baseline():
    session = Session()
    info, grid, counts, _, fig, aug, picker = dataset_tab.show_dataset(session, "fashion_mnist",
                                                               "Sneaker", 0)
    assert picker == gr.update() and "/" not in info.split("from ")[1]  # no server path
    assert "60,000 train / 10,000 test" in info and "10.0%" in info
    assert len(grid) == 25 and all(caption == "Sneaker" for _, caption in grid)
    assert grid[0][0].shape == (140, 140)  # sharp 5x nearest-neighbour upscale of 28x28
    assert counts["value"]["images"].tolist() == [6000] * 10 and len(aug) == 5
    assert counts["y_lim"] == [0, 6600]  # bars start at zero, so equal classes look equal


def test_prediction_handler_answers_a_drawn_one(tmp_path):
    sketch = {"background": None, "layers": [], "composite": np.asarray(Image.open(_digit_one(tmp_path / "one.png")))}
    update, text, seen, *_ = predict_tab.show_prediction(Session(), "MNIST digits: CNN (shipped)", sketch)
    bars = update["value"]
    assert update["sort"] == list("0123456789")  # class order, not alphabetical or by score
    assert abs(bars["probability"].sum() - 1) < 0.01 and len(bars) == 10
    assert bars.loc[bars["answer"] == "top answer", "class"].item() == "1"
    assert text.startswith("1. **1**") and seen.shape == (196, 196)


def test_an_unsure_answers_chart_says_so_in_its_title():
    """A tall bar reads as certainty: the chart of a "not sure" answer says it too (a portrait to
    the digits model), a digit's does not."""
    import matplotlib
    portrait = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photo = {"background": None, "layers": [], "composite": np.asarray(Image.open(portrait))}
    update, text, *_ = predict_tab.show_prediction(Session(), "MNIST digits: CNN (shipped)", photo)
    assert "I am not sure" in text and update["title"].endswith(", not sure")
    three = np.asarray(Image.open("assets/examples/digit-3.png").resize((280, 280)))
    update, text, *_ = predict_tab.show_prediction(Session(), "MNIST digits: CNN (shipped)",
                                                   {"background": None, "layers": [], "composite": three})
    assert update["title"].startswith("Top answer: 3") and "not sure" not in update["title"]
    assert "I am not sure" not in text


def test_prediction_handler_answers_a_drawn_shoe():
    from PIL import ImageDraw
    img = Image.new("L", (280, 280), 0)  # toe to the left, heel to the right, as in the data
    ImageDraw.Draw(img).line([(250, 200), (250, 140), (170, 120), (130, 150), (30, 175),
                              (30, 200), (250, 200)], fill=255, width=14)
    sketch = {"background": None, "layers": [], "composite": np.asarray(img)}
    for model in ("Fashion-MNIST: our CNN (shipped)", "Fashion-MNIST: MLP (shipped)"):
        text = predict_tab.show_prediction(Session(), model, sketch)[1]
        assert any(shoe in text for shoe in ("Sneaker", "Ankle boot", "Sandal")), (model, text)


def test_prediction_handler_empty_and_bad_input(tmp_path):
    empty = {"background": None, "layers": [], "composite": None}
    assert predict_tab.show_prediction(Session(), "Fashion-MNIST: MLP (shipped)", empty)[1].startswith("Draw")
    cleared = {"background": None, "layers": [], "composite": np.zeros((280, 280), np.uint8)}
    bars, text, seen, *_ = predict_tab.show_prediction(Session(), "Fashion-MNIST: MLP (shipped)", cleared)
    assert bars is None and seen is None and text.startswith("Nothing to read: the image is blank")
    from conftest import uploaded
    with pytest.raises(gr.Error, match="could not read the image 'x.png': not a PNG"):
        predict_tab.show_upload(Session(), "Fashion-MNIST: MLP (shipped)", {"path": uploaded(b"not a picture", "x.png")})


def test_train_handler_streams_curves_and_registers_the_model(monkeypatch):
    session = Session()
    session.dataset_key = "upload"
    session.uploaded = make_dataset(n_train=120, n_test=30)
    updates = list(training(session, "mlp", 2, 16, "recipe's own", 0, "cosine", 0.2))
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
    assert updates[0][4] == {"__type__": "update", "value": None, "visible": False}  # cleared first
    heat_maps = [u[4]["value"] for u in updates[1:] if u[4].get("value") is not None]  # redrawn
    assert 1 <= len(heat_maps) <= 2 and heat_maps[-1].axes[0].get_title()  # as epochs end (a fast run's two
    grid = heat_maps[-1].axes[0].images[0].get_array()  # epochs may arrive in one list of points)
    assert grid.shape == (3, 2) and grid.count() == 6  # each class after each of the 2 epochs
    slider = updates[-1][10]
    assert slider["visible"] and slider["maximum"] == 2 and slider["value"] == 2


def test_epoch_slider_repredicts_the_latest_drawing_with_that_epochs_weights(tmp_path):
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=240, n_test=30)
    list(training(session, "mlp", 3, 16, "adam", 0.0002, "constant", 0.2))
    name = next(iter(session.trained))
    drawing = {"background": None, "layers": [], "composite": make_dataset(n_train=3).x_train[1, ..., 0]}
    final = predict_tab.show_prediction(session, name, drawing, 3)
    assert session.last_image is drawing
    answers = {k: predict_tab.repredict(session, name, k)[0]["value"]["probability"].tolist() for k in (1, 2, 3)}
    assert answers[3] == final[0]["value"]["probability"].tolist()  # last epoch = the model itself
    assert answers[1] != answers[3] and answers[2] != answers[3]
    bars, text, seen, why, shrunk = final
    assert "Without the clean-up" in text and why["value"].shape == (196, 196, 3)
    assert why["label"].startswith("Why ") and shrunk["value"].shape == (196, 196)


@pytest.fixture(scope="module")
def client():
    with running_app() as url:
        yield Client(url, verbose=False)


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
        val = [row for row in acc["data"] if row[2] == "validation" and float(row[0]).is_integer()]
        assert len(val) == epochs, (tag, status)  # (one epoch also has its point's short dash)
        assert f"after {epochs} complete epoch" in status


def _trainings_running():
    from classifier.backends.choice import trainer
    return trainer().running


def test_cancelled_client_stops_its_training(client):
    """A closed tab (a cancelled job) ends that user's run: its worker drops the job and is
    free again."""
    import time
    c = Client(client.src, verbose=False)
    job = c.submit("mlp", 50, 64, "recipe's own", 0, "cosine", 0.1, api_name="/train")
    deadline = time.time() + 60
    while not _trainings_running() and time.time() < deadline:
        time.sleep(0.2)
    assert _trainings_running(), "training never started"
    time.sleep(1.0)
    job.cancel()
    deadline = time.time() + 30
    while _trainings_running() and time.time() < deadline:
        time.sleep(0.2)
    assert not _trainings_running()


def test_a_killed_training_process_costs_one_run_and_nothing_else(client):
    """Issue 11: `kill -9` of the worker mid-run (as the out-of-memory killer would): that caller
    gets a plain message, the server answers /predict, and the next training works."""
    import signal
    import time

    from classifier.backends.choice import trainer
    c = Client(client.src, verbose=False)
    job = c.submit("mlp", 50, 64, "recipe's own", 0, "cosine", 0.1, api_name="/train")
    deadline = time.time() + 60
    while not trainer().busy_pids() and time.time() < deadline:
        time.sleep(0.2)
    pid, = trainer().busy_pids()
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(Exception, match="the training process stopped unexpectedly") as err:
        job.result(timeout=60)
    assert "nothing else was affected" in str(err.value) and "Traceback" not in str(err.value)
    probs = client.predict("Fashion-MNIST: MLP (shipped)", handle_file("assets/examples/fashion-sneaker.png"),
                           api_name="/predict")
    assert max(probs, key=probs.get) == "Sneaker"
    *_, status = c.predict("mlp", 1, 256, "recipe's own", 0, "cosine", 0.1, api_name="/train")[:3]
    assert "after 1 complete epoch" in status


def test_bad_zip_upload_is_a_clear_error(tmp_path):
    bad = tmp_path / "classes.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(gr.Error, match="not a readable zip"):
        dataset_tab.upload_zip(Session(), str(bad))


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
    assert dataset_tab.upload_zip(session, str(path))["value"] == "upload"
    info, grid, *_ = dataset_tab.show_dataset(session, "upload", "all classes", 0)
    assert "2 classes" in info and "uploaded zip shapes.zip" in info and len(grid) == 6


def test_closing_a_session_frees_its_models_and_files():
    session = Session()
    session.uploaded = make_dataset(n_train=60, n_test=20)
    session.dataset_key = "upload"
    list(training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.2))
    folder = session.workdir
    assert session.trained and any(folder.rglob("model.keras"))
    session.close()
    assert not session.trained and session.uploaded is None and not folder.exists()
    assert session.stop.is_set()  # a run still going would stop


def test_the_tutorials_recipe_is_selectable():
    """Batch 32, adam 1e-3, constant learning rate: the lectures' exact settings still train."""
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=64, n_test=16)
    list(training(session, "mlp", 1, 32, "adam", 0.001, "constant", 0.2))
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


def _then_chain(event_fn) -> list[str]:
    """Names of the functions Gradio runs after `event_fn`'s event, in order (.then links)."""
    fns = list(app.demo.fns.values())
    chain, current = [], event_fn
    while (nxt := next((f for f in fns if f.trigger_after == current._id), None)) is not None:
        chain.append(nxt.name)
        current = nxt
    return chain


def test_an_unavailable_dataset_is_refused_in_the_page_and_the_previous_one_stays():
    """Cats vs dogs offline, no local copy: the page says why and where a copy goes; MNIST
    stays the session's dataset, in the picker, the header, the model text and for training."""
    session = Session()
    dataset_tab.show_dataset(session, "mnist", "all classes", 0)
    with pytest.warns(UserWarning, match="needs the internet, or a local copy"):
        info, *unchanged, picker = dataset_tab.show_dataset(session, "cats_vs_dogs", "all classes", 0)
    assert "train/ and validation/ folders, at" in info and "Still using **MNIST**" in info
    assert picker["value"] == "mnist" and all(u == gr.update() for u in unchanged)
    assert session.dataset_key == "mnist" and "Browsing: **MNIST**" in session.header()
    assert session.dataset().key == "mnist"  # what Train would use
    assert "for MNIST digits" in common.model_text("mlp", session)


def test_picking_upload_before_uploading_keeps_the_dataset_in_use():
    session = Session()
    dataset_tab.show_dataset(session, "mnist", "all classes", 0)
    info, *_ = dataset_tab.show_dataset(session, "upload", "all classes", 0)
    assert "Upload a zip" in info and "Until then **MNIST** stays in use" in info
    assert session.dataset_key == "mnist" and "your upload" not in session.header()


def test_the_model_text_is_redone_when_the_dataset_changes():
    """Its parameter count is for the dataset in use: a new dataset re-describes the model."""
    session = Session()
    dataset_tab.show_dataset(session, "fashion_mnist", "all classes", 0)
    ten = common.model_text("mlp", session)
    session.uploaded, session.dataset_key = make_dataset(), "upload"
    assert "101,770 parameters for Fashion-MNIST" in ten
    assert "100,867 parameters for Tiny" in common.model_text("mlp", session)  # 3 classes
    dataset_events = [f for f in app.demo.fns.values() if f.name == "show_dataset"
                      and any(event == "input" for _, event in f.targets)]
    assert [_then_chain(f)[-1] for f in dataset_events] == ["model_text"]
    zip_event = next(f for f in app.demo.fns.values() if f.name == "upload_zip")
    assert _then_chain(zip_event)[-1] == "model_text"


def test_opening_evaluate_shows_the_active_model_and_clears_another_models_results():
    session = Session()
    shipped = "MNIST digits: CNN (shipped)"
    text, *_ = evaluate_tab.show_evaluation(session, shipped, 0)
    assert "Test accuracy" in text and evaluate_tab.screen(session).shown == shipped
    session.active_model = shipped
    picker, *outputs = evaluate_tab.sync_evaluation(session)
    assert picker["value"] == shipped and all(o == gr.update() for o in outputs)  # still true
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=120, n_test=30)
    session.add_run(run_training(session.uploaded, "mlp", TrainSettings(epochs=2, batch_size=16)),
                    take_home=False)
    picker, text, table, *rest, pair, hint, results = evaluate_tab.sync_evaluation(session)
    assert picker["value"] == session.active_model and session.active_model.startswith("#1 Tiny")
    assert text.startswith(f"Press **Evaluate** to see **{session.active_model}** on the test set")
    assert table is None and rest == [None] * 3 and hint == evaluate_tab.PAIR_HINT
    assert pair["visible"] is False and results["visible"] is False  # no empty boxes (issue 26)
    wiring = next(f for f in app.demo.fns.values() if f.name == "sync_evaluation")
    assert [event for _, event in wiring.targets] == ["select"]


def test_sgd_without_a_learning_rate_gets_sgds_default_not_the_recipes_adam_rate():
    """The MLP recipe's 2e-3 suits adam; SGD at that rate reached 26.8% on MNIST."""
    from classifier.models.registry import build_model
    from classifier.training.loop import initial_learning_rate

    def rate(optimizer, learning_rate):
        settings = train_settings("mlp", 5, 64, optimizer, learning_rate, "cosine", 0.1)
        model = build_model("mlp", (28, 28, 1), 10, settings)
        return type(model.optimizer).__name__, round(initial_learning_rate(model), 6)
    assert rate("sgd", 0) == ("SGD", 0.05)
    assert rate("rmsprop", 0) == ("RMSprop", 0.001)
    assert rate("recipe's own", 0) == ("Adam", 0.002) and rate("adam", 0) == ("Adam", 0.002)
    assert rate("sgd", 0.2) == ("SGD", 0.2)


def test_a_run_at_chance_is_listed_but_does_not_replace_the_active_model():
    session = Session()
    data = make_dataset(n_train=120, n_test=30)
    good = session.add_run(run_training(data, "mlp", TrainSettings(epochs=2, batch_size=16)),
                           take_home=False)
    run = run_training(data, "mlp", TrainSettings(epochs=1, batch_size=16))
    y = run.evaluation.y_true  # as if it answered class 0 for everything: a third right
    failed = replace(run, evaluation=Evaluation(data.class_names, y, np.eye(3)[np.zeros_like(y)]))
    assert failed.evaluation.near_chance()
    name = session.add_run(failed, take_home=False)
    assert session.active_model == good and name in session.model_names()
    assert "was not made the active model" in words.final_line(failed)


def test_runs_beyond_the_sessions_limit_are_dropped_with_a_word():
    from classifier.serving.session import MAX_SESSION_MODELS
    session = Session()
    data = make_dataset(n_train=60, n_test=30)
    run = run_training(data, "mlp", TrainSettings(epochs=2, batch_size=16))
    names = [session.add_run(run, take_home=False) for _ in range(MAX_SESSION_MODELS + 1)]
    assert session.dropped == names[:1] and names[0] not in session.model_names()
    text = words.final_line(run, session.dropped)
    assert f"keeps its latest {MAX_SESSION_MODELS} runs: {names[0]} is gone from Predict" in text
    assert f"latest {MAX_SESSION_MODELS} trained runs" in words.HOW["train"]
    session.add_run(run, take_home=False)
    assert session.dropped == names[1:2]


def _select(row, col):
    return gr.SelectData(None, {"index": [row, col], "value": 0})


def test_a_confusion_cell_says_how_many_images_it_holds():
    session, model = Session(), "MNIST digits: CNN (shipped)"
    ev, _ = session.evaluation(model)
    cm = ev.confusion_matrix()
    shown, text = evaluate_tab.show_pair(session, model, _select(1, 2))  # true 1, answered 1
    fig = shown["value"]
    assert shown["visible"] is True  # hidden until a cell is clicked
    assert text.startswith(f"**{cm[1, 1]:,}** test images were **1** predicted as **1** (right)")
    assert "showing the 12 the model was surest of" in text
    assert f"12 of {cm[1, 1]} test images" in fig._suptitle.get_text()
    empty = next((i, j) for i in range(10) for j in range(10) if cm[i, j] == 0)
    _, text = evaluate_tab.show_pair(session, model, _select(empty[0], empty[1] + 1))
    assert text == f"No test image was **{empty[0]}** predicted as **{empty[1]}**."


def test_a_zip_of_colour_photos_says_what_its_images_became(tmp_path):
    import zipfile
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for cls, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            for i in range(4):
                Image.new("RGB", (40, 30), colour).save(tmp_path / "x.png")
                zf.write(tmp_path / "x.png", f"{cls}/{i}.png")
        zf.writestr("red/notes.txt", "not a picture")
    session = Session()
    with pytest.warns(UserWarning, match=r"skipped 1 file: 1 not an image \(red/notes.txt\)"):
        dataset_tab.upload_zip(session, str(path))
    info, *_ = dataset_tab.show_dataset(session, "upload", "all classes", 0)
    assert "images resized to 28x28 grey; 8 of 8 were in colour" in info
    dataset_tab.upload_zip(session, str(path), "64x64 colour (photos keep more detail)")
    assert session.uploaded.image_shape == (64, 64, 3)
    with pytest.raises(gr.Error, match=r"images must be one of \['28x28 grey.*got \['x'\]"):
        dataset_tab.upload_zip(session, str(path), ["x"])
