"""The learning-rate schedule sized to a run, and training for a time budget (issue 10)."""
import math
import time

import keras
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.models.registry import build_model
from classifier.models.storage import load_model
from classifier.training.loop import train
from classifier.training.run import run_training
from classifier.training.schedule import schedule_steps, warmup_cosine


def rates(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_warmup_cosine_rises_to_the_peak_then_falls_to_zero_at_the_last_step():
    s = warmup_cosine(4e-3, 100, 0.2)
    r = rates(s, range(0, 101))
    assert schedule_steps(s) == 100
    assert r[0] == 0 and r[20] == pytest.approx(4e-3)
    assert np.all(np.diff(r[:21]) > 0) and np.all(np.diff(r[20:]) <= 1e-12)
    assert r[100] == pytest.approx(0, abs=1e-9)
    assert r[60] == pytest.approx(4e-3 * 0.5 * (1 + math.cos(math.pi * 40 / 80)))


def test_no_warmup_is_a_plain_cosine_from_the_peak():
    r = rates(warmup_cosine(1e-3, 50, 0.0), [0, 25, 50])
    assert r == pytest.approx([1e-3, 5e-4, 0], abs=1e-9)


def test_an_epoch_run_ends_its_schedule_on_its_last_step():
    data = make_dataset(n_train=100, n_test=20)
    s = TrainSettings(epochs=3, batch_size=10, validation_split=0.0, warmup=0.2,
                      steps_per_execution=1)
    model = build_model("cnn_quick", data.image_shape, data.num_classes, s)
    train(model, data, s)
    schedule = model.optimizer._learning_rate
    assert schedule_steps(schedule) == 30 == int(model.optimizer.iterations.numpy())
    assert schedule.warmup_steps == 6
    assert float(schedule(30)) == pytest.approx(0, abs=1e-9)


class SlowSteps(keras.callbacks.Callback):
    """Makes each step cost `seconds` of wall time, as a slow machine would."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def rate_at_end(model):
    opt = model.optimizer
    return float(opt._learning_rate(opt.iterations))


@pytest.mark.parametrize("step_seconds", [0.01, 0.03])
def test_a_time_budget_ends_on_time_with_the_schedule_finished(step_seconds):
    """Slower or faster steps: the run still ends within a fraction of a second of its budget,
    its rate at ~0, and the schedule's length is the number of steps it really took."""
    data = make_dataset(n_train=200, n_test=20)
    s = TrainSettings(seconds=4, batch_size=10, validation_split=0.1, warmup=0.15,
                      steps_per_execution=2)
    model = build_model("mlp", data.image_shape, data.num_classes, s)
    peak = float(model.optimizer.learning_rate.numpy())
    points = []
    result = train(model, data, s, on_metrics=points.append, callbacks=[SlowSteps(step_seconds)])
    assert result.seconds == pytest.approx(4, abs=0.8)
    assert result.stopped is None  # the plan, not a stop
    steps = int(model.optimizer.iterations.numpy())
    schedule = model.optimizer._learning_rate
    assert schedule_steps(schedule) == steps  # frozen to plain numbers: what was done
    assert isinstance(schedule.decay_steps, int) and isinstance(schedule.warmup_steps, int)
    assert rate_at_end(model) < 0.05 * peak
    assert max(rates(schedule, range(steps))) == pytest.approx(peak, rel=0.05)
    assert points[-1]["progress"] == pytest.approx(1, abs=0.2)
    assert points[-1]["eta"] < 0.6


def test_the_cli_trains_for_a_budget_and_saves_a_model_plain_keras_loads(tmp_path, monkeypatch):
    from classifier import cli
    data = make_dataset(n_train=300, n_test=30)
    monkeypatch.setattr("classifier.cli._load_dataset", lambda key, args: data)
    out = tmp_path / "run"
    assert cli.main(["train", "--model", "cnn_quick", "--seconds", "4", "--out", str(out),
                     "--json"]) == 0
    model, meta = load_model(out)
    assert meta["settings"]["seconds"] == 4
    assert meta["train_seconds"] == pytest.approx(4, abs=1.0)
    plain = keras.saving.load_model(out / "model.keras")  # no classifier objects inside
    x = data.x_test[:4]
    assert np.allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_a_budget_with_a_constant_rate_only_ends_on_time():
    data = make_dataset(n_train=100, n_test=20)
    s = TrainSettings(seconds=1.5, batch_size=10, lr_schedule="constant", steps_per_execution=2)
    run = run_training(data, "mlp", s)
    assert run.result.seconds == pytest.approx(1.5, abs=0.6)
    assert float(run.model.optimizer.learning_rate.numpy()) == pytest.approx(2e-3)


@pytest.mark.parametrize("bad", [0, -5, 0.5, 10 ** 9, float("nan")])
def test_an_impossible_budget_is_refused_with_a_message(bad):
    with pytest.raises(ValueError, match="time budget"):
        TrainSettings(seconds=bad)


def test_flip_augmentation_trains_on_each_image_and_its_mirror():
    data = make_dataset(n_train=40, n_test=10)
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.params["steps"])

    s = TrainSettings(epochs=1, batch_size=10, validation_split=0.0, augment="flip")
    train(build_model("mlp", data.image_shape, data.num_classes, s), data, s, callbacks=[Batches()])
    assert seen == [8]  # 80 images: 40 and their mirrors
    with pytest.raises(ValueError, match="augment must be one of"):
        TrainSettings(augment="rotate")


def test_a_transfer_run_counts_its_feature_caching_in_the_budget():
    """MobileNetV2 (random weights, offline) computes its frozen base's features once, then fits
    the head: the budget covers both."""
    data = make_dataset(n_train=64, n_test=16, shape=(32, 32, 3))
    # 8 s: on a loaded 2-core machine the features and the head's tracing take up to 5 s
    run = run_training(data, "mobilenetv2", TrainSettings(seconds=8, batch_size=16,
                                                           pretrained=False))
    assert run.result.seconds == pytest.approx(8, abs=1.0)
    assert run.result.stopped is None


class SlowEpochEnds(keras.callbacks.Callback):
    """Makes each step cost `step` seconds and each epoch's end `first` seconds the first time
    (tracing the evaluation) and `later` seconds after."""

    def __init__(self, step, first, later):
        super().__init__()
        self.step, self.first, self.later, self.ends = step, first, later, 0
        self.first_end = None  # seconds from the run's start to its first epoch's end

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.step)

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.first if self.ends == 0 else self.later)
        if self.ends == 0:
            self.first_end = time.perf_counter() - self.t0
        self.ends += 1


@pytest.mark.parametrize("budget", [1.6, 2.2, 2.8, 3.4])
def test_a_budget_ends_at_the_epoch_end_nearest_it(budget):
    """Epochs of ~1 s whose ends cost 0.4-0.6 s (what CI met: a run planned for 10 s that went
    on past an epoch end into another block and another epoch end, 12.5 s): wherever the
    budget falls against the epochs, the run ends within a block and half an epoch end of it."""
    data = make_dataset(n_train=200, n_test=20)
    s = TrainSettings(seconds=budget, batch_size=10, validation_split=0.1, warmup=0.15,
                      steps_per_execution=3)
    model = build_model("mlp", data.image_shape, data.num_classes, s)
    slow = SlowEpochEnds(0.03, 0.6, 0.4)
    result = train(model, data, s, callbacks=[slow])
    why = (result.epochs_done, result.stopped_in, slow.first_end)
    if slow.first_end > budget + 0.5:
        # a loaded machine traced so slowly that no run could end near the budget: the
        # earliest end there is (the first epoch's) is the right one
        assert result.seconds < slow.first_end + 0.3, why
    else:
        assert result.seconds == pytest.approx(budget, abs=0.5), why


def test_a_budget_covers_the_whole_run_building_and_the_test_set_included(monkeypatch):
    """Issue 26 item 5: "Train for 30 s" ended after 44-48 s, as building the model before the
    fit and scoring the test set after it came on top of the budget. Here building takes 1.5 s
    and the test set is 13 times the validation set: the run's answer comes at the budget."""
    from classifier.training import run as run_module
    slow_build = run_module.build_model

    def build_model(*args, **kwargs):
        time.sleep(1.5)
        return slow_build(*args, **kwargs)

    monkeypatch.setattr(run_module, "build_model", build_model)
    data = make_dataset(n_train=2000, n_test=8000)
    points = []
    began = time.perf_counter()
    run = run_training(data, "mlp", TrainSettings(seconds=5, batch_size=10, validation_split=0.3,
                                                  steps_per_execution=2), on_metrics=points.append)
    whole = time.perf_counter() - began
    # never late (it was 1.5 s of building + 5 + the scoring); a little early at most: the
    # scoring's pace is measured in 500-image calls, slower an image than the test set's
    assert 3.8 <= whole <= 5.5, (whole, run.result.seconds)
    assert run.result.seconds > 1.5 and points[0]["seconds"] > 1.5  # the clock counts the building
    assert run.result.stopped is None and len(run.evaluation.y_true) == 8000
