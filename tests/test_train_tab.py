"""The Train tab's handler across runs: what stays on screen, what Stop stops, what is refused."""
import re

import gradio as gr
import pytest
from conftest import make_dataset, training

import app
from classifier.serving.session import Session
from classifier.ui import train_tab, words


def _session(n_train=200) -> Session:
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=n_train, n_test=20)
    return session


def test_a_refused_setting_keeps_the_last_runs_curves_and_files():
    session = _session()
    outs = list(training(session, "mlp", 1, 16, "adam", -0.5, "cosine", 0.1))
    assert len(outs) == 1 and outs[0][0] is session
    assert all(out == gr.update() for out in outs[0][1:])  # nothing replaced by "Error"
    with pytest.raises(gr.Error, match="learning rate must be a number from 0 to 10, got -0.5"):
        list(training(None, "mlp", 1, 16, "adam", -0.5, "cosine", 0.1))  # API


def test_a_new_run_clears_the_old_runs_heat_map_model_and_files_first():
    """Also issue 26 item 18: no empty chart boxes before a run; each chart appears with what
    it shows."""
    train = next(b for b in app.demo.blocks.values() if getattr(b, "value", None) == words.BEFORE_TRAINING)
    assert train  # the Train tab's status says what will appear
    hidden = [b for b in app.demo.blocks.values() if isinstance(b, (gr.LinePlot, gr.Plot))
              and getattr(b, "label", "") and ("by epoch" in b.label or "per class, each" in b.label)]
    assert len(hidden) == 3 and not any(b.visible for b in hidden)
    session = _session()
    first = list(training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.1))
    assert first[-1][5]["visible"] and first[-1][6]["visible"]  # the model and files offered
    second = training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.1)
    opening = next(second)
    assert opening[4] == gr.update(value=None, visible=False)  # heat-map: hidden until an epoch ends
    assert opening[5] == gr.update(visible=False, value=None)  # download button
    assert opening[6] == gr.update(visible=False, value=None)  # take-home files
    assert "Starting" in opening[3]
    rest = list(second)
    curves = [out[1] for out in rest if isinstance(out[1], dict) and "value" in out[1]]
    assert curves and all(c["visible"] for c in curves)  # the curves show with their first points
    heats = [out[4] for out in rest if isinstance(out[4], dict) and out[4].get("value") is not None]
    assert heats and all(h["visible"] for h in heats)  # the heat-map with the first epoch's end
    session.close()


def test_stop_stops_the_running_run_after_several_runs_in_one_session():
    session = _session(n_train=3000)
    for _ in range(3):
        list(training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.1))
    run = training(session, "mlp", 30, 16, "recipe's own", 0, "cosine", 0.1)
    for out in run:  # epochs of a fraction of a second: the page may skip from epoch 1 to 3
        shown = re.search(r"Epoch \*\*(\d+)/", str(out[3]))
        if shown and int(shown.group(1)) >= 2:
            train_tab.stop_training(session)
            break
    final = list(run)[-1][3]
    assert final.startswith("Stopped"), final
    assert "30 complete epochs" not in final and "after 30" not in final
    session.close()


def test_stop_with_nothing_running_says_so(monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Info", said.append)
    session = Session()
    train_tab.stop_training(session)
    assert said == ["Nothing is training now."]


def test_stop_after_a_run_has_ended_says_nothing_trains(monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Info", said.append)
    session = _session()
    list(training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.1))
    train_tab.stop_training(session)
    assert said == ["Nothing is training now."]
    session.close()


def test_stop_while_in_line_leaves_the_line(monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Info", said.append)
    line = train_tab.ADMISSION
    others = [line.enter(f"busy-{k}", "elsewhere") for k in range(line.slots)]  # every trainer busy
    session = _session()
    try:
        run = training(session, "mlp", 1, 16, "recipe's own", 0, "cosine", 0.1)
        assert "Starting" in next(run)[3]
        assert "Waiting for a free trainer" in next(run)[3]
        train_tab.stop_training(session)
        assert said == ["Leaving the line."]
        rest = list(run)
        assert rest[-1][3] == train_tab.words.LEFT_THE_LINE
        assert not line.in_line(f"state-{id(session)}") and line.waiting == 0
        assert session.trained == {}
    finally:
        for place in others:
            place.leave()
        session.close()


def test_a_time_budget_run_draws_seconds_and_ends_on_time():
    """'Train for 6 s': curves against seconds up to the budget, the run ends there with its
    schedule finished, and the page says so."""
    session = _session(n_train=3000)
    outs = list(training(session, "cnn_quick", 30, 64, "recipe's own", 0, "cosine", 0.1,
                                6))
    accuracy = outs[-1][1]
    assert accuracy["x"] == "seconds" and accuracy["x_lim"] == [0, 6]
    assert "seconds" in accuracy["value"].columns and accuracy["value"]["seconds"].max() <= 7
    final = outs[-1][3]
    assert "6s of training as planned" in final, final
    run = session.trained[session.active_model].run
    assert run.settings.seconds == 6 and abs(run.result.seconds - 6) < 1.0
    assert run.result.epochs_done < 30  # the budget, not the epochs slider, ended it
    session.close()


@pytest.mark.parametrize("seconds", [-1, 2, 601, "soon", float("nan"), [5]])
def test_a_bad_time_budget_is_refused_with_a_message(seconds):
    with pytest.raises(gr.Error, match="time budget"):
        list(training(None, "mlp", 1, 16, "adam", 0, "cosine", 0.1, seconds))


def test_the_loading_page_keeps_epochs_a_student_set_before_it_ended():
    """A class opening the page together: a student who set Epochs while the busy server was
    still loading the page keeps them; an untouched form gets the model's own (the page's load
    chain wires this step, and the form starts from what it compares with)."""
    session = Session()  # Fashion-MNIST
    own = train_tab.describe_model("cnn_quick", session)
    assert train_tab.describe_loaded_model("cnn_quick", 5, 64, session) == own  # untouched
    assert own[1] != gr.update(value=5)  # so the case below tells the two apart
    text, epochs, batch = train_tab.describe_loaded_model("cnn_quick", 12, 64, session)
    assert text == own[0] and epochs == gr.update() and batch == gr.update()
    assert train_tab.describe_loaded_model("mlp", "5", None, session)[1] == gr.update()  # junk
    load_chain = [fn for fn in app.demo.fns.values() if fn.name == "describe_loaded_model"]
    assert len(load_chain) == 1 and [b.label for b in load_chain[0].inputs[:3]] == [
        "Model", "Epochs", "Batch size"]
    epochs, batch = load_chain[0].inputs[1:3]
    assert (epochs.value, batch.value) == (train_tab.START_EPOCHS, train_tab.START_BATCH)
