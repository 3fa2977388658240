"""Where trainings run: one small interface, three back ends.

`train_stream(dataset, model_key, settings, stop)` is what the Train tab, the `/train` API and
the CLI call: it yields lists of the metric points the Train tab draws, then the finished `Run`
(model, result with per-epoch weights, evaluation). `stop.set()` ends a run after its current
step, evaluated and kept; `gone()` turning true, or closing the iterator, drops it
(`CallerGone`); `done()` is called as soon as the run's slot is free.

Back ends (`trainer()` picks one, once, from the environment):
- `InlineTrainer`: a thread in this process (`CLASSIFIER_TRAINER=inline`; the CLI, notebooks);
- `workers.ProcessTrainer`: local worker processes, the app's default, no set-up
  (`CLASSIFIER_TRAIN_SLOTS`, default 2);
- `ray_trainer.RayTrainer`: tasks on a Ray cluster, when `RAY_ADDRESS` is set (or
  `CLASSIFIER_TRAINER=ray`); Ray is imported only then.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable, Iterator

from .data import Dataset
from .jobs import CallerGone, Job, Record
from .memory import release_memory
from .run import Run
from .settings import TrainSettings

SLOTS = 2  # trainings at a time on one machine: measured for 2 vCPUs in BENCHMARKS.md


class InlineTrainer:
    """Trainings on a thread of this process."""

    name = "this process"
    slots = SLOTS
    running = 0  # trainings on their threads now


    def stream(self, job: Job, stop: threading.Event, gone: Callable[[], bool] | None = None,
               done: Callable[[], object] | None = None, every: float = 0.25,
               patience: float = 15.0) -> Iterator[list[dict] | Record | Run]:
        """As `train_stream`, yielding the `Run` itself at the end."""
        points: queue.Queue = queue.Queue()
        outcome: dict = {}
        flag = _StopOrAbandoned(stop, patience, gone)

        def work() -> None:
            from .run import run_training
            self.running += 1
            try:
                outcome["run"] = run_training(job.load_dataset(), job.model_key, job.settings,
                                              points.put, flag)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                self.running -= 1
                if done is not None:
                    done()

        thread = threading.Thread(target=work, name=f"train-{job.model_key}", daemon=True)
        thread.start()
        try:
            while thread.is_alive() or not points.empty():
                flag.last_pull = time.monotonic()
                batch = drain(points, timeout=every)
                if batch:
                    yield batch
                    time.sleep(0 if not thread.is_alive() else every / 4)
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            yield outcome["run"]
        finally:
            stop.set()  # reached early only when the consumer went away: end the run


class _StopOrAbandoned:
    """Set when asked to stop, when `gone()` says the caller went away, or when nobody has
    pulled from the stream for `patience` s (a UI that dropped the iterator without closing it,
    e.g. a cancelled request)."""

    def __init__(self, stop: threading.Event, patience: float, gone: Callable[[], bool] | None):
        self.stop, self.patience, self.last_pull = stop, patience, time.monotonic()
        self.gone = gone

    def is_set(self) -> bool:
        if self.gone is not None and self.gone():
            raise CallerGone()  # out of model.fit at once: nobody will see the rest
        return self.stop.is_set() or time.monotonic() - self.last_pull > self.patience


_TRAINER = None
_TRAINER_LOCK = threading.Lock()


def trainer():
    """The back end this process trains with, chosen once from the environment."""
    global _TRAINER
    with _TRAINER_LOCK:
        if _TRAINER is None:
            _TRAINER = _from_environment()
        return _TRAINER


def use(back_end, close: bool = True):
    """Train with `back_end` from now on (tests, a CLI flag); returns the previous one, closed
    unless `close` is False (to come back to it)."""
    global _TRAINER
    with _TRAINER_LOCK:
        old, _TRAINER = _TRAINER, back_end
    if close and old is not None and old is not back_end and hasattr(old, "close"):
        old.close()
    return old


def _from_environment():
    kind = os.environ.get("CLASSIFIER_TRAINER", "ray" if os.environ.get("RAY_ADDRESS") else
                          "processes")
    if kind == "inline":
        return InlineTrainer()
    if kind == "ray":
        from .ray_trainer import RayTrainer
        return RayTrainer(os.environ.get("RAY_ADDRESS") or "auto")
    if kind == "processes":
        from .workers import ProcessTrainer
        return ProcessTrainer(slots=int(os.environ.get("CLASSIFIER_TRAIN_SLOTS", SLOTS)))
    raise ValueError(f"CLASSIFIER_TRAINER must be inline, processes or ray, got {kind!r}")


def train_stream(dataset: Dataset, model_key: str, settings: TrainSettings,
                 stop: threading.Event, gone: Callable[[], bool] | None = None,
                 done: Callable[[], object] | None = None, back_end=None,
                 **timing) -> Iterator[list[dict] | Run]:
    """Train `model_key` on `dataset` with `back_end` (default: `trainer()`): lists of new
    metric points, then the `Run`."""
    job = Job.of(dataset, model_key, settings)
    for item in (back_end or trainer()).stream(job, stop, gone=gone, done=done, **timing):
        if isinstance(item, list):
            yield item
            continue
        run = item.to_run(dataset) if isinstance(item, Record) else item
        release_memory()  # before the last yield: a UI's event ends the moment it has the run
        yield run
        return


def relay(inbox: queue.Queue, last_pull: list, every: float) -> Iterator[list[dict] | object]:
    """What a back end's watcher thread puts in `inbox`, as its `stream` passes it on: lists of
    points, at most one each `every` s (one a compiled block froze the page's curves), then the
    outcome as it is (a `Record` or the exception to raise). `last_pull[0]` is the time of the
    latest pull, for the watcher's patience."""
    while True:
        last_pull[0] = time.monotonic()
        items = drain(inbox, every)
        points = [i for i in items if isinstance(i, dict)]
        if points:
            yield points
            if len(points) == len(items):  # more to come: wait out the rest of `every`
                time.sleep(max(every - (time.monotonic() - last_pull[0]), 0.0))
        outcome = [i for i in items if not isinstance(i, dict)]
        if outcome:
            yield outcome[0]
            return


def drain(points: queue.Queue, timeout: float) -> list:
    """Everything queued now, waiting up to `timeout` for the first item."""
    try:
        items = [points.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            items.append(points.get_nowait())
        except queue.Empty:
            return items
