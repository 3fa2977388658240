"""Training streamed from a thread: points, the final run, stop, and an abandoned stream."""
import threading
import time

from classifier.live import stream_training
from classifier.run import Run
from classifier.settings import TrainSettings
from conftest import make_dataset


def test_stream_yields_points_then_the_run():
    items = list(stream_training(make_dataset(n_train=80, n_test=16), "mlp",
                                 TrainSettings(epochs=2, batch_size=8), threading.Event()))
    assert isinstance(items[-1], Run) and items[-1].result.epochs_done == 2
    points = [p for batch in items[:-1] for p in batch]
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [1, 2]


def test_abandoned_stream_stops_training():
    stop = threading.Event()
    stream = stream_training(make_dataset(n_train=400, n_test=16), "mlp",
                             TrainSettings(epochs=200, batch_size=4, steps_per_execution=1), stop,
                             patience=0.5)
    next(stream)  # training has started; now the consumer walks away without closing it
    deadline = time.time() + 30
    while any(t.name == "train-mlp" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(t.name == "train-mlp" for t in threading.enumerate())
    run = list(stream)[-1]
    assert run.result.stopped == "stop requested" and run.result.epochs_done < 200


def test_closing_the_stream_stops_training():
    stop = threading.Event()
    stream = stream_training(make_dataset(n_train=400, n_test=16), "mlp",
                             TrainSettings(epochs=200, batch_size=4), stop)
    next(stream)
    stream.close()
    assert stop.is_set()
