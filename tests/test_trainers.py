"""The inline back end: training streamed from a thread: points, the final run, stop, and an
abandoned stream; and the back end chosen from the environment."""
import threading
import time

import pytest
from conftest import make_dataset

from classifier.backends import choice
from classifier.backends.choice import train_stream
from classifier.backends.inline import InlineTrainer
from classifier.core.settings import TrainSettings
from classifier.training.run import Run


def test_stream_yields_points_then_the_run():
    items = list(train_stream(make_dataset(n_train=80, n_test=16), "mlp",
                                 TrainSettings(epochs=2, batch_size=8), threading.Event(),
                               back_end=InlineTrainer()))
    assert isinstance(items[-1], Run) and items[-1].result.epochs_done == 2
    points = [p for batch in items[:-1] for p in batch]
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [1, 2]


def test_abandoned_stream_stops_training():
    stop = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp",
                             TrainSettings(epochs=200, batch_size=4, steps_per_execution=1), stop,
                             patience=0.5, back_end=InlineTrainer())
    next(stream)  # training has started; now the consumer walks away without closing it
    deadline = time.time() + 30
    while any(t.name == "train-mlp" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(t.name == "train-mlp" for t in threading.enumerate())
    run = list(stream)[-1]
    assert run.result.stopped == "stop requested" and run.result.epochs_done < 200


def test_closing_the_stream_stops_training():
    stop = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp",
                             TrainSettings(epochs=200, batch_size=4), stop,
                             back_end=InlineTrainer())
    next(stream)
    stream.close()
    assert stop.is_set()


@pytest.mark.parametrize("env, kind", [({}, "ProcessTrainer"),
                                       ({"CLASSIFIER_TRAINER": "inline"}, "InlineTrainer"),
                                       ({"CLASSIFIER_TRAIN_SLOTS": "3"}, "ProcessTrainer")])
def test_the_back_end_comes_from_the_environment(monkeypatch, env, kind):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("CLASSIFIER_TRAINER", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    back_end = choice._from_environment()  # built, not started: no processes yet
    assert type(back_end).__name__ == kind
    assert back_end.slots == int(env.get("CLASSIFIER_TRAIN_SLOTS", 2))


def test_an_unknown_back_end_is_refused(monkeypatch):
    monkeypatch.setenv("CLASSIFIER_TRAINER", "cloud")
    with pytest.raises(ValueError, match="inline, processes or ray"):
        choice._from_environment()
