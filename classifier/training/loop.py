"""Training that a UI can watch and stop. Nothing here knows about Gradio.

`train` runs `model.fit` with `LiveMetrics`, a callback that hands each update to any callable
(`list.append`, `queue.Queue.put`, a UI's handler) as a plain dict:

    {"kind": "batch", "epoch": 1, "epochs": 5, "step": 160, "steps": 422, "loss": .., "accuracy": ..,
     "seconds": .., "eta": .., "progress": 0.08}
    {"kind": "epoch", "epoch": 1, "step": 422, "steps": 422, ..., "val_loss": .., "val_accuracy": ..,
     "epoch_seconds": .., "val_per_class": [.., ..]}

An epoch cut short (Stop, a time budget) reports the batches it did as `step`.

`val_per_class` (only with validation data) is each class's accuracy on up to
`PER_CLASS_MAX_IMAGES` validation images, by class index, NaN for a class with none there.
`TrainResult.epoch_weights` keeps the weights after every epoch, for models small enough.

A stop request (anything with `is_set()`, e.g. `threading.Event`) ends training at the next
callback, keeping the weights learned so far.

With `settings.seconds` (a time budget) the run has no fixed epochs: `schedule.TimeBudget`
sizes the learning rate to end at the budget and ends the run there; the points' "epochs" is
then an estimate, "progress" and "eta" follow the clock.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import numpy as np

from ..core.dataset import Dataset
from ..core.settings import TrainSettings
from ..data.batches import batches
from .augment import mirrored, random_change
from .lab import training_share, wrong_labels
from .schedule import budget_callback_class, warmup_cosine

PER_CLASS_MAX_IMAGES = 2000  # validation images val_per_class scores each epoch, spread evenly
PER_CLASS_CHUNK = 500  # images per forward pass when scoring them
MAX_EPOCH_WEIGHTS_PARAMS = 1_500_000  # keep every epoch's weights up to this: float32, 6 MB/epoch
BUDGET_MAX_EPOCHS = 500  # a time-budget run's epoch cap; the budget ends it long before
BUDGET_FIRST_GUESS_EPOCHS = 2  # the schedule's length until the first steps are timed


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class TrainResult:
    """What a run did: per-epoch history, the live batch points, timing and why it ended."""
    history: dict[str, list[float]]     # one value per epoch begun, a stopped one included
    batches: list[dict]
    epochs_done: int                    # complete epochs only
    seconds: float
    stopped: str | None = None          # None, "stop requested" or "time limit"
    stopped_in: tuple[int, int, int] | None = None  # (epoch, batch, batches) of a stop mid-epoch
    epoch_seconds: list[float] = field(default_factory=list)
    # model.get_weights() after each epoch (index 0 = after epoch 1); empty for a model of more
    # than MAX_EPOCH_WEIGHTS_PARAMS parameters
    epoch_weights: list[list[np.ndarray]] = field(default_factory=list)
    train_images: int = 0               # images it trained on (the lab may take a share)


def _live_callback_class():
    import keras

    class LiveMetrics(keras.callbacks.Callback):
        """Reports running metrics every compiled step and validation metrics every epoch."""

        def __init__(self, emit: Callable[[dict], object] | None, epochs: int,
                     stop: StopFlag | None = None, max_seconds: float | None = None, *,
                     x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                     num_classes: int = 0, weights_of=None, budget=None):
            """`x_val`, `y_val` (integer labels): what `val_per_class` is scored on;
            `weights_of`: the model whose weights to keep after each epoch (None: keep none);
            `budget`: a run's `TimeBudget`, which then sets progress, ETA and the epoch count."""
            super().__init__()
            self.emit, self.epochs, self.stop, self.max_seconds = emit, epochs, stop, max_seconds
            self.budget = budget
            self.per_class_data = _spread(x_val, y_val, PER_CLASS_MAX_IMAGES)
            self.num_classes, self.weights_of = num_classes, weights_of
            self.batches: list[dict] = []
            self.epoch_seconds: list[float] = []
            self.epoch_weights: list[list[np.ndarray]] = []
            self.stopped: str | None = None
            self.stopped_in: tuple[int, int, int] | None = None
            self.scored: tuple[int, float] | None = None  # (images, seconds) of the last scoring

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()
            self.steps = self.params.get("steps") or 1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.epoch_t0, self.step = epoch, time.perf_counter(), 0

        def _progress(self, step: int) -> tuple[float, float, float]:
            elapsed = time.perf_counter() - self.t0
            if self.budget is not None:  # a time budget: the run ends when the budget does
                seconds = self.budget.seconds
                self.epochs = max(self.epoch + 1, math.ceil(self.budget.total / self.steps))
                return min(elapsed / seconds, 1.0), elapsed, max(seconds - elapsed, 0.0)
            done = min((self.epoch + step / self.steps) / self.epochs, 1.0)
            eta = max(elapsed * (1 - done) / done, 0.0) if done > 0 else math.nan
            return done, elapsed, eta

        def on_train_batch_end(self, batch, logs=None):
            # with steps_per_execution, Keras reports the block's last step even when the
            # epoch ends inside the block (batch 848 of 844): clamp to the epoch's steps
            self.step = min(batch + 1, self.steps)
            done, elapsed, eta = self._progress(self.step)
            point = {"kind": "batch", "epoch": self.epoch + 1, "epochs": self.epochs,
                     "step": self.step, "steps": self.steps, "seconds": elapsed, "eta": eta,
                     "progress": done, **_floats(logs)}
            self.batches.append(point)
            if self.emit:
                self.emit(point)
            self._check_stop(elapsed)

        def on_epoch_end(self, epoch, logs=None):
            ended = self.stopped or (self.budget is not None and self.budget.stopped)
            if ended and self.step < self.steps:  # Keras ends a stopped epoch early
                self.stopped_in = (epoch + 1, self.step, self.steps)
            extra = {}
            if self.per_class_data is not None:
                t = time.perf_counter()
                extra["val_per_class"] = per_class_accuracy(self.model, *self.per_class_data,
                                                            self.num_classes)
                self.scored = (len(self.per_class_data[0]), time.perf_counter() - t)
            if self.weights_of is not None:
                self.epoch_weights.append(self.weights_of.get_weights())
            now = time.perf_counter()  # the work above counts in the epoch's time
            self.epoch_seconds.append(now - self.epoch_t0)
            done, elapsed, eta = self._progress(self.steps)
            point = {"kind": "epoch", "epoch": epoch + 1, "epochs": self.epochs,
                     "step": self.step, "steps": self.steps,  # fewer for an epoch cut short
                     "seconds": elapsed, "eta": eta, "progress": done,
                     "epoch_seconds": self.epoch_seconds[-1], **_floats(logs), **extra}
            if self.emit:
                self.emit(point)
            self._check_stop(elapsed)

        def scoring_pace(self) -> float | None:
            """Seconds an image took to score at the last epoch end (None before, or too few
            images to tell: their calls' own cost would swamp it)."""
            if self.scored is None or self.scored[0] < PER_CLASS_CHUNK:
                return None
            return self.scored[1] / self.scored[0]

        def _check_stop(self, elapsed: float) -> None:
            if self.stop is not None and self.stop.is_set():
                self.stopped = "stop requested"
            elif self.max_seconds is not None and elapsed > self.max_seconds:
                self.stopped = "time limit"
            if self.stopped:
                self.model.stop_training = True

    return LiveMetrics


def later(point: dict, seconds: float) -> dict:
    """A metrics point with `seconds` spent before training counted in (in epoch 1's time too)."""
    point = {**point, "seconds": point["seconds"] + seconds}
    if point["kind"] == "epoch" and point["epoch"] == 1:
        point["epoch_seconds"] += seconds
    return point


def spent_before(settings: TrainSettings, seconds: float) -> TrainSettings:
    """`settings` for a fit that starts `seconds` into its run: a time budget and the time cap
    count them."""
    s = settings
    if s.max_seconds is not None:
        s = replace(s, max_seconds=max(s.max_seconds - seconds, 0.0))
    if s.seconds:
        s = replace(s, seconds=max(s.seconds - seconds, 1.0))
    return s


def counted_in(result: TrainResult, seconds: float) -> TrainResult:
    """`result` of a fit with `seconds` spent before it counted in (see `later`)."""
    epoch_seconds = [sec + (seconds if k == 0 else 0.0) for k, sec in enumerate(result.epoch_seconds)]
    return replace(result, seconds=result.seconds + seconds, epoch_seconds=epoch_seconds,
                   batches=[later(p, seconds) for p in result.batches])


def _floats(logs) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}


def _spread(x: np.ndarray | None, y: np.ndarray | None,
            most: int) -> tuple[np.ndarray, np.ndarray] | None:
    """At most `most` of (x, y), evenly spaced (a set sorted by class keeps every class);
    None for no data."""
    if x is None or y is None or len(x) == 0 or most < 1:
        return None
    idx = np.unique(np.linspace(0, len(x) - 1, min(most, len(x))).round().astype(np.int64))
    return x[idx], np.asarray(y)[idx]


def per_class_accuracy(model, x: np.ndarray, y: np.ndarray, num_classes: int,
                       chunk: int = PER_CLASS_CHUNK) -> list[float]:
    """Each class's share of `x` that `model`, in inference mode, labels `y` (integers), by
    class index; NaN for a class with no images. Argmax: logits and probabilities alike."""
    predicted = np.concatenate(
        [np.argmax(np.asarray(model(x[i:i + chunk], training=False)), axis=-1)
         for i in range(0, len(x), chunk)] or [np.zeros(0, np.int64)])
    totals = np.bincount(y, minlength=num_classes)
    right = np.bincount(y[predicted == y], minlength=num_classes)
    return [float(r / t) if t else math.nan for r, t in zip(right, totals)]


def targets_for(model, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels as the model's loss wants them: one-hot for categorical cross-entropy."""
    loss = model.loss
    name = loss if isinstance(loss, str) else getattr(loss, "name", type(loss).__name__)
    if "categorical" in str(name).lower() and "sparse" not in str(name).lower():
        return np.eye(num_classes, dtype=np.float32)[y]
    return y


def initial_learning_rate(model) -> float:
    """The learning rate `model`'s optimizer was given (a schedule's peak: the rate it warms up
    to, or starts from)."""
    rate = model.optimizer._learning_rate
    for name in ("warmup_target", "initial_learning_rate"):
        if getattr(rate, name, None) is not None:
            return float(getattr(rate, name))
    return float(np.asarray(rate))


def _size_schedule(model, total_steps: int, warmup_share: float) -> bool:
    """Give a fresh model's optimizer a warm-up then cosine decay to 0 over `total_steps`,
    peaking at its learning rate. False (left alone) for a model that already trained or whose
    optimizer already has a schedule."""
    import keras
    opt = model.optimizer
    if int(opt.iterations.numpy()) > 0 or not isinstance(opt._learning_rate, keras.Variable):
        return False
    opt.learning_rate = warmup_cosine(float(opt.learning_rate.numpy()), total_steps, warmup_share)
    model.train_function = None  # re-trace with the schedule
    return True


def train(model, dataset: Dataset, settings: TrainSettings | None = None,
          on_metrics: Callable[[dict], object] | None = None, stop: StopFlag | None = None,
          epochs: int | None = None, batch_size: int | None = None,
          callbacks: list | None = None, weights_of=None, then_score: int = 0) -> TrainResult:
    """Fit `model` on `dataset` with `settings`, streaming metrics to `on_metrics`; extra Keras
    `callbacks` (e.g. a benchmark's) run after the live-metrics one. `epoch_weights` keeps the
    weights of `weights_of` (default `model`; `transfer.train_cached` passes the full model
    while it fits the head), when it has at most MAX_EPOCH_WEIGHTS_PARAMS parameters.
    `then_score`: images the caller scores once the fit ends (a test set), whose time a time
    budget keeps free."""
    import keras
    s = settings or TrainSettings()
    epochs = (epochs or s.epochs or 5) if not s.seconds else BUDGET_MAX_EPOCHS
    batch_size = batch_size or s.batch_size or 64
    keras.utils.set_random_seed(s.seed)
    x_tr, y_tr, x_val, y_val = dataset.split_validation(s.validation_split, s.seed)
    if len(x_tr) == 0:
        raise ValueError("the training set is empty")
    x_tr, y_tr = training_share(x_tr, y_tr, s.data_share, dataset.train_images, s.seed)
    y_tr = wrong_labels(y_tr, s.label_noise, dataset.num_classes, s.seed)
    train_images = len(x_tr)
    if s.augment == "flip":  # each image and its mirror image, left to right
        x_tr, y_tr = mirrored(x_tr, y_tr)
    n = dataset.num_classes
    source = model if weights_of is None else weights_of
    keep = source if source.count_params() <= MAX_EPOCH_WEIGHTS_PARAMS else None
    steps_per_epoch = math.ceil(len(x_tr) / batch_size)
    warmup = s.warmup or 0.0
    sized = s.lr_schedule == "cosine" and _size_schedule(
        model, (BUDGET_FIRST_GUESS_EPOCHS if s.seconds else epochs) * steps_per_epoch, warmup)
    scored = len(x_val) + min(len(x_val), PER_CLASS_MAX_IMAGES)  # validation, then per class
    budget = (budget_callback_class()(s.seconds, warmup, sized, scored / batch_size, then_score,
                                      batch_size) if s.seconds else None)
    live = _live_callback_class()(on_metrics, epochs, stop, s.max_seconds, x_val=x_val,
                                  y_val=y_val, num_classes=n, weights_of=keep, budget=budget)
    if budget:
        budget.pace = live.scoring_pace
    callbacks = [live, *(callbacks or [])]
    if s.tensorboard_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=s.tensorboard_dir))
    if budget:  # last: it times the others' epoch-end work
        callbacks.append(budget)
    validation = batches(x_val, targets_for(model, y_val, n), batch_size) if len(x_val) else None
    t0 = time.perf_counter()
    hist = model.fit(batches(x_tr, targets_for(model, y_tr, n), batch_size, shuffle=True,
                             seed=s.seed, change=random_change(s.augment, s.seed)),
                     epochs=epochs, validation_data=validation, callbacks=callbacks, verbose=0,
                     shuffle=False)  # the batches reshuffle themselves
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    complete = len(live.epoch_seconds) - (live.stopped_in is not None)
    return TrainResult(history, live.batches, complete, time.perf_counter() - t0, live.stopped,
                       live.stopped_in, live.epoch_seconds, live.epoch_weights, train_images)
