"""Live metrics, stop, time limit, reproducibility, TensorBoard and whole runs."""
import threading

import numpy as np
import pytest

from classifier.models import build_model
from classifier.run import run_training
from classifier.settings import TrainSettings
from classifier.training import train
from conftest import make_dataset


def _fit(data, settings, **kwargs):
    import keras
    keras.utils.set_random_seed(settings.seed)
    model = build_model("mlp", data.image_shape, data.num_classes, settings)
    return model, train(model, data, settings, **kwargs)


def test_metrics_stream_batches_and_epochs():
    data = make_dataset(n_train=200, n_test=20, classes=4)
    points = []
    settings = TrainSettings(epochs=2, batch_size=10, steps_per_execution=3, validation_split=0.2)
    _, result = _fit(data, settings, on_metrics=points.append)
    epochs = [p for p in points if p["kind"] == "epoch"]
    batches = [p for p in points if p["kind"] == "batch"]
    assert [p["epoch"] for p in epochs] == [1, 2]
    assert all({"val_accuracy", "val_loss", "accuracy", "loss", "epoch_seconds"} <= set(p) for p in epochs)
    # 160 train images / batch 10 = 16 steps; a callback every 3 steps: 6 points per epoch
    assert len(batches) == 12 and batches[0]["steps"] == 16
    assert all(0 <= p["accuracy"] <= 1 and p["loss"] >= 0 for p in batches)
    assert epochs[-1]["progress"] == pytest.approx(1.0)
    assert all(a["seconds"] <= b["seconds"] for a, b in zip(points, points[1:]))
    assert result.history["val_accuracy"] == [p["val_accuracy"] for p in epochs]


def test_validation_is_held_out_and_stratified():
    data = make_dataset(n_train=100, n_test=10, classes=4)
    x_tr, y_tr, x_val, y_val = data.split_validation(0.2, seed=1)
    assert len(x_val) == 20 and len(x_tr) == 80
    assert np.bincount(y_val, minlength=4).tolist() == [5, 5, 5, 5]


def test_stop_request_ends_training_and_keeps_weights():
    data = make_dataset(n_train=400, n_test=20)
    stop = threading.Event()

    def on_metrics(p):
        if p["kind"] == "batch" and p["step"] >= 4:
            stop.set()
    settings = TrainSettings(epochs=20, batch_size=10, steps_per_execution=2)
    model, result = _fit(data, settings, on_metrics=on_metrics, stop=stop)
    assert result.stopped == "stop requested"
    # Keras ends the epoch where it stopped (with a validation pass): one partial epoch
    assert result.epochs_done == 1 and len(result.batches) == 2
    assert int(model.optimizer.iterations.numpy()) == 4  # the 4 steps it took are kept


def test_time_limit_stops_with_a_reason():
    data = make_dataset(n_train=400, n_test=20)
    _, result = _fit(data, TrainSettings(epochs=50, batch_size=10, max_seconds=0.0))
    assert result.stopped == "time limit" and result.epochs_done <= 1


def test_same_seed_same_curve():
    data = make_dataset(n_train=120, n_test=20)
    settings = TrainSettings(epochs=2, batch_size=16, seed=3)
    _, a = _fit(data, settings)
    _, b = _fit(data, settings)
    assert a.history == b.history


def test_tensorboard_logs_are_written(tmp_path):
    data = make_dataset(n_train=40, n_test=8)
    _fit(data, TrainSettings(epochs=1, batch_size=8, tensorboard_dir=str(tmp_path / "tb")))
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))


def test_run_training_learns_and_saves(tmp_path):
    data = make_dataset(n_train=300, n_test=60)
    run = run_training(data, "mlp", TrainSettings(epochs=3, batch_size=16))
    assert run.evaluation.accuracy > 0.9  # the squares are easy to tell apart
    meta = run.metadata()
    assert meta["epochs_done"] == 3 and meta["settings"]["batch_size"] == 16
    assert meta["test_accuracy"] == run.evaluation.accuracy
    run.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.keras").is_file()


def test_one_hot_models_train_through_the_same_path():
    data = make_dataset(n_train=100, n_test=20)
    run = run_training(data, "mlp2", TrainSettings(epochs=2, batch_size=10))
    assert run.result.epochs_done == 2 and 0 <= run.evaluation.accuracy <= 1


def test_bad_settings_are_clear():
    with pytest.raises(ValueError, match="epochs must be between 1 and 500, got 0"):
        TrainSettings(epochs=0)
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd, rmsprop, got 'adagrad'"):
        TrainSettings(optimizer="adagrad")
    with pytest.raises(ValueError, match="validation_split"):
        TrainSettings(validation_split=1.0)
