"""Live metrics, stop, time limit, reproducibility, TensorBoard, whole runs, per-class validation
accuracy and per-epoch weights."""
import threading
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.models.registry import build_model
from classifier.training.loop import per_class_accuracy, train
from classifier.training.run import run_training
from classifier.training.transfer import train_cached


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
    # Keras ends the epoch where it stopped (with a validation pass): a partial epoch, which
    # is not a complete one; 361 train images / batch 10 = 37 steps
    assert result.epochs_done == 0 and result.stopped_in == (1, 4, 37)
    assert len(result.batches) == 2 and len(result.history["loss"]) == 1
    assert int(model.optimizer.iterations.numpy()) == 4  # the 4 steps it took are kept


def test_a_stop_in_a_later_epoch_counts_the_complete_ones_and_says_where():
    from classifier.inference.evaluation import evaluate
    from classifier.training.run import Run
    from classifier.ui.words import final_line
    data = make_dataset(n_train=400, n_test=20)
    from classifier.views.figures import curve_frames
    stop, points = threading.Event(), []
    settings = TrainSettings(epochs=5, batch_size=10, steps_per_execution=2)
    model, result = _fit(data, settings, stop=stop, on_metrics=lambda p: (
        points.append(p), p.get("epoch") == 2 and p.get("step") == 6 and stop.set()))
    assert result.epochs_done == 1 and result.stopped_in == (2, 6, 37)
    text = final_line(Run("mlp", data, settings, model, result, evaluate(model, data)))
    assert text.startswith("Stopped as you asked in epoch 2 at batch 6/37 after 1 complete epoch, ")
    assert "(MLP (Flatten-Dense-128), " in text  # the run's model, named
    # issue 26 item 10: the cut epoch's validation point is drawn where it was cut (1 + 6/37),
    # not at 2, which read as a second complete epoch beside "after 1 complete epoch"
    accuracy, _ = curve_frames(points)
    drawn = accuracy[accuracy.series == "validation"]["epoch"].tolist()
    assert drawn == pytest.approx([1.0, 1 + 6 / 37])


def test_batch_counts_and_eta_stay_in_range_when_an_epoch_is_shorter_than_a_step_block():
    """96 images: 2 batches an epoch, 16 batches a compiled step. Keras reports step 16 of 2;
    the curve then drew the training line at epoch 8, off the chart, and the ETA went negative."""
    data = make_dataset(n_train=77, n_test=19)
    points = []
    _fit(data, TrainSettings(epochs=3, batch_size=64, validation_split=0.1),
         on_metrics=points.append)
    batches = [p for p in points if p["kind"] == "batch"]
    assert [(p["epoch"], p["step"], p["steps"]) for p in batches] == [(e, 2, 2) for e in (1, 2, 3)]
    assert all(p["progress"] <= 1 and p["eta"] >= 0 for p in points)


def test_an_optimizer_picked_without_a_learning_rate_gets_its_own_default():
    from classifier.models.registry import default_learning_rate
    assert default_learning_rate("mlp", "sgd") == 0.05  # not the MLP recipe's adam 2e-3
    assert default_learning_rate("mlp", "rmsprop") == 1e-3
    assert default_learning_rate("mlp", "adam") is None  # the recipe's own optimizer: its own rate
    assert default_learning_rate("mlp2", "sgd") is None  # the digits tutorial's SGD recipe
    assert default_learning_rate("mlp2", "adam") == 1e-3
    assert default_learning_rate("mlp", None) is None


def _run_with(model_key, result, accuracy, data=None):
    """A Run whose test set is answered right `accuracy` of the time (3 balanced classes)."""
    from classifier.inference.evaluation import Evaluation
    from classifier.training.run import Run
    data = data or make_dataset(n_train=30, n_test=300)
    y = data.y_test
    right = np.arange(len(y)) < round(accuracy * len(y))
    probs = np.eye(3)[np.where(right, y, (y + 1) % 3)]
    model = build_model(model_key, data.image_shape, 3,
                        TrainSettings(learning_rate=9.0, optimizer="adam"))
    return Run(model_key, data, TrainSettings(), model, result,
               Evaluation(data.class_names, y, probs))


def test_a_stopped_batch_norm_model_far_below_its_training_accuracy_says_why():
    from classifier.training.loop import TrainResult
    from classifier.ui.words import final_line
    stopped = TrainResult({"accuracy": [0.7, 0.79]}, [], 1, 16.0, "stop requested", (2, 784, 844))
    text = final_line(_run_with("cnn_bn", stopped, 0.52))
    assert "in epoch 2 at batch 784/844 after 1 complete epoch" in text
    assert "Why below the training accuracy (0.79)" in text and "batch-norm layers" in text
    assert "after a partial epoch" in text and "now active" in text
    assert "batch-norm" not in final_line(_run_with("mlp", stopped, 0.52))  # no such layers
    done = TrainResult({"accuracy": [0.7, 0.79]}, [], 2, 16.0)
    assert "batch-norm" not in final_line(_run_with("cnn_bn", done, 0.52))  # not stopped


def test_a_run_at_chance_level_says_why_and_is_not_made_active():
    from classifier.training.loop import TrainResult
    from classifier.ui.words import final_line
    result = TrainResult({"loss": [float("nan")]}, [], 1, 3.0)
    run = _run_with("mlp", result, 1 / 3)
    assert run.evaluation.near_chance() and run.evaluation.baseline == pytest.approx(1 / 3)
    text = final_line(run)
    assert "**That is chance level** (always answering the largest class scores 33.33%)" in text
    assert "the learning rate 9 is most likely too high for adam" in text and "Try 0.001" in text
    assert "was not made the active model" in text and "now active" not in text
    assert not _run_with("mlp", result, 0.6).evaluation.near_chance()


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


def _noisy(data, classes, seed=0):
    """`data` with random training labels: validation accuracy away from 0 and 1."""
    rng = np.random.default_rng(seed)
    return replace(data, y_train=rng.integers(0, classes, len(data.y_train)).astype(np.int64))


@pytest.mark.parametrize("key", ["mlp", "mlp_logits", "mlp2"])
def test_val_per_class_weighted_by_class_counts_is_val_accuracy(key):
    import keras
    data = _noisy(make_dataset(n_train=160, n_test=8, classes=4), 4)
    settings = TrainSettings(epochs=2, batch_size=16, validation_split=0.25)
    keras.utils.set_random_seed(0)
    model = build_model(key, data.image_shape, data.num_classes, settings)
    points = []
    train(model, data, settings, on_metrics=points.append)
    counts = np.bincount(data.split_validation(0.25, settings.seed)[3], minlength=4)
    epochs = [p for p in points if p["kind"] == "epoch"]
    for p in epochs:
        assert len(p["val_per_class"]) == 4 and all(0 <= a <= 1 for a in p["val_per_class"])
        np.testing.assert_allclose(np.dot(p["val_per_class"], counts) / counts.sum(),
                                   p["val_accuracy"], atol=1e-6)
    assert any(0 < a < 1 for p in epochs for a in p["val_per_class"])  # not a trivial check


def test_val_per_class_spreads_its_subset_and_needs_validation(monkeypatch):
    from classifier.training import loop as training
    data = make_dataset(n_train=64, n_test=8, classes=4)
    order = np.argsort(data.y_train, kind="stable")  # a validation set sorted by class
    data = replace(data, x_val=data.x_train[order], y_val=data.y_train[order])
    monkeypatch.setattr(training, "PER_CLASS_MAX_IMAGES", 8)
    points = []
    _fit(data, TrainSettings(epochs=1, batch_size=16), on_metrics=points.append)
    per_class = points[-1]["val_per_class"]
    assert len(per_class) == 4 and not np.isnan(per_class).any()  # every class scored
    assert all(a in (0, 0.5, 1) for a in per_class)  # 2 images each
    points = []
    _fit(make_dataset(n_train=32, n_test=8), TrainSettings(epochs=1, batch_size=16,
                                                           validation_split=0),
         on_metrics=points.append)
    assert "val_per_class" not in points[-1] and "val_accuracy" not in points[-1]


def test_per_class_accuracy_is_nan_for_a_missing_class():
    model = build_model("mlp", (28, 28, 1), 3)
    data = make_dataset(n_train=10, n_test=2, classes=3)
    x, y = data.x_train[data.y_train != 1], data.y_train[data.y_train != 1]
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    got = per_class_accuracy(model, x, y, 3, chunk=3)
    assert np.isnan(got[1])
    for k in (0, 2):
        assert got[k] == pytest.approx(np.mean(predicted[y == k] == k))


def test_epoch_weights_are_kept_per_epoch_for_small_models(monkeypatch):
    from classifier.training import loop as training
    data = make_dataset(n_train=48, n_test=8)
    settings = TrainSettings(epochs=2, batch_size=16)
    model, result = _fit(data, settings)
    assert len(result.epoch_weights) == 2
    first, last = result.epoch_weights
    assert any(not np.array_equal(a, b) for a, b in zip(first, last))
    for a, b in zip(last, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(training, "MAX_EPOCH_WEIGHTS_PARAMS", model.count_params() - 1)
    assert _fit(data, settings)[1].epoch_weights == []


def test_cached_transfer_reports_per_class_and_keeps_the_full_models_weights(monkeypatch):
    from classifier.training import loop as training
    data = make_dataset(n_train=16, n_test=4, shape=(32, 32, 3), classes=2)
    settings = TrainSettings(epochs=1, batch_size=8, pretrained=False)
    model = build_model("mobilenetv2", data.image_shape, 2, settings)
    assert model.count_params() > training.MAX_EPOCH_WEIGHTS_PARAMS  # so none kept for it
    monkeypatch.setattr(training, "MAX_EPOCH_WEIGHTS_PARAMS", model.count_params())
    points = []
    result = train_cached(model, data, settings, on_metrics=points.append)
    assert len(points[-1]["val_per_class"]) == 2
    (kept,) = result.epoch_weights  # the full model's weights, not only the head's
    assert [w.shape for w in kept] == [w.shape for w in model.get_weights()]
    for a, b in zip(kept, model.get_weights()):
        np.testing.assert_array_equal(a, b)
