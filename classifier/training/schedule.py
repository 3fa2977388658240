"""The learning rate over a run: a linear warm-up, then a cosine decay to 0 at the run's end.

A run is sized in steps (its epochs) or in seconds (a time budget: "train for 30 s"). For a
budget, `TimeBudget` times the steps as they go and keeps the schedule's length set so that the
rate reaches 0 when the budget does, then ends the run there.

Both use Keras' own `CosineDecay` (with `warmup_target`), so a saved model loads in any Keras
without this package.
"""
from __future__ import annotations

import time

# The first epoch's end traces Keras' evaluation and prediction graphs, as the first block of
# steps traced the training graph: measured, 0.16-0.32 of the first block's extra time
# (benchmarks/cnn_speed.py tails), so a budget keeps this share free until it is measured.
EVALUATION_TRACE_SHARE = 0.3
# What scoring a test set after a run costs besides its batches: tracing the prediction graph
# (0.2-0.4 s measured for the MLP and the Quick CNN on this machine, tests/test_schedule.py).
SCORING_SETUP_SECONDS = 0.3


def warmup_cosine(peak: float, total_steps: int, warmup_share: float):
    """0 -> `peak` linearly over the first `warmup_share` of `total_steps`, then a half cosine to
    0 at `total_steps` (no warm-up: a cosine from `peak`)."""
    import keras
    total = max(int(total_steps), 1)
    warm = min(int(round(total * warmup_share)), total - 1)
    if warm <= 0:
        return keras.optimizers.schedules.CosineDecay(peak, total)
    return keras.optimizers.schedules.CosineDecay(0.0, total - warm, warmup_target=peak,
                                                  warmup_steps=warm)


def schedule_steps(schedule) -> int:
    """The number of steps `schedule` (a `warmup_cosine`) runs for."""
    return int(round(float(_value(schedule.decay_steps)) + float(_value(schedule.warmup_steps))))


def _value(v):
    return v.numpy() if hasattr(v, "numpy") else v


def budget_callback_class():
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Sizes the optimizer's `warmup_cosine` schedule to end at `seconds` of training and
        stops the run there.

        The first compiled block of steps includes tracing, so it is not timed; from the second
        block on, steps per second are measured over everything since (validation included), and
        the schedule's length is set to the steps done plus those the time left allows. The run
        ends at the block, or the epoch end, nearest the budget, with the rate at (or near) 0.
        What an epoch's end costs (validation, per-class scores) is kept free: guessed until the
        first epoch end measures it, that first one less the tracing it did (a share of the
        first block's extra time, `EVALUATION_TRACE_SHARE`), then as last measured.

        Put it after every other callback: its epoch-end decision times their epoch-end work."""

        def __init__(self, seconds: float, warmup_share: float, sized: bool = True,
                     epoch_end_batches: float = 0.0, after_images: int = 0, batch_size: int = 1):
            """`sized`: the optimizer has a fresh `warmup_cosine` to size; without one (a
            constant rate, a model trained before) the run only ends at the budget.
            `epoch_end_batches`: batches of images scored at each epoch's end (validation and
            per-class), whose time is kept free before the first epoch end measures it.
            `after_images`: images scored once the run ends (the test set), whose time is
            kept free too: at the pace `pace()` (seconds an image, measured by the run's other
            callbacks) once it is known, guessed from the steps' pace before."""
            super().__init__()
            self.seconds, self.warmup_share, self.sized = float(seconds), warmup_share, sized
            self.epoch_end_batches, self.after_images = epoch_end_batches, after_images
            self.batch_size = batch_size
            self.pace = lambda: None
            self.tails = 0           # epoch ends measured
            self.done = 0            # steps done in the run, over all epochs
            self.total = 0.0         # the schedule's current length in steps
            self.stopped = False
            self.schedule = None

        def on_train_begin(self, logs=None):
            self.t0 = self.last = time.perf_counter()
            self.mark = None         # (time, steps done) at the end of the first block
            self.block = 0.0         # seconds per compiled block, lately
            self.tail = 0.0          # seconds of epoch-end work after an epoch's last step
            self.trace = 0.0         # seconds the first epoch end is guessed to spend tracing
            self.after = 0.0         # seconds kept for scoring after the run
            self.epoch_start = 0
            if not self.sized:
                return
            schedule = self.schedule = self.model.optimizer._learning_rate
            # the schedule reads its lengths from variables, so changing them needs no re-trace
            self.warm = keras.Variable(float(schedule.warmup_steps), trainable=False,
                                       name="warmup_steps")
            self.decay = keras.Variable(float(schedule.decay_steps), trainable=False,
                                        name="decay_steps")
            schedule.warmup_steps, schedule.decay_steps = self.warm, self.decay
            self.total = float(schedule_steps(schedule))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = self.done
            self.last = time.perf_counter()  # an epoch's first block is timed without the
            # previous epoch's end, which `tail` already holds

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            self.done = self.epoch_start + batch + 1
            if self.mark is None:
                self.mark = (now, self.done)
            else:
                self.block = now - self.last
                rate = (self.done - self.mark[1]) / max(now - self.mark[0], 1e-6)
                if not self.tails:  # a guess until an epoch end is timed: scoring a batch
                    # costs about half a step, and the first evaluation traces its graphs
                    first_extra = self.mark[0] - self.t0 - self.mark[1] / rate
                    self.trace = EVALUATION_TRACE_SHARE * max(first_extra, 0.0)
                    self.tail = self.epoch_end_batches / 2 / rate + self.trace
                if self.after_images and not self.tails:  # a guess: a third of a step a
                    # batch (a forward pass), and its prediction graph to trace
                    self.after = (self.after_images / self.batch_size / 3 / rate
                                  + SCORING_SETUP_SECONDS)
                left = max(self.seconds - (now - self.t0) - self.tail - self.after, 0.0)
                self._resize(self.done + left * rate)
            self.last = now
            # stop where the next block would end further past the budget than this one, with
            # time kept for the epoch-end work (validation, per-class scores) that still follows
            self._stop_if(now - self.t0 + self.block / 2 + self.tail + self.after >= self.seconds)

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            tail = now - self.last  # validation and the other callbacks' epoch-end work
            self.tail = max(tail - self.trace, tail / 2) if not self.tails else tail
            self.tails += 1
            pace = self.pace()
            if self.after_images and pace is not None:
                self.after = self.after_images * pace + SCORING_SETUP_SECONDS
            # another epoch costs at least a block and an epoch end: stop here if nearer
            self._stop_if(now - self.t0 + self.after + (self.block + self.tail) / 2 >= self.seconds)

        def _stop_if(self, due: bool) -> None:
            if due:
                self.stopped = True
                self.model.stop_training = True

        def _resize(self, total: float) -> None:
            total = max(total, self.done + 1.0)
            self.total = total
            if self.schedule is None:
                return
            warm = float(self.warm.numpy())
            if self.done < warm:  # still warming up: keep warm-up a share of the whole run
                warm = max(min(round(total * self.warmup_share), total - 1), self.done + 1.0)
                self.warm.assign(warm)
            self.decay.assign(max(total - warm, 1.0))

        def on_train_end(self, logs=None):
            self.freeze()

        def freeze(self) -> None:
            """Plain numbers back in the schedule (what a saved model's config holds): the run's
            actual length, so the saved schedule says what was done."""
            if self.schedule is None:
                return
            warm = int(round(float(self.warm.numpy())))
            self.schedule.warmup_steps = warm
            self.schedule.decay_steps = max(int(round(self.done)) - warm, 1)

    return TimeBudget
