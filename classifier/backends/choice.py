"""Where trainings run: one small interface, three back ends.

`train_stream(dataset, model_key, settings, stop)` is what the Train tab, the `/train` API and
the CLI call: it yields lists of the metric points the Train tab draws, then the finished `Run`
(model, result with per-epoch weights, evaluation). `stop.set()` ends a run after its current
step, evaluated and kept; `gone()` turning true, or closing the iterator, drops it
(`CallerGone`); `done()` is called as soon as the run's slot is free.

Back ends (`trainer()` picks one, once, from the environment):
- `inline.InlineTrainer`: a thread in this process (`CLASSIFIER_TRAINER=inline`; the CLI,
  notebooks);
- `processes.ProcessTrainer`: local worker processes, the app's default, no set-up
  (`CLASSIFIER_TRAIN_SLOTS`, default 2);
- `ray_cluster.RayTrainer`: tasks on a Ray cluster, when `RAY_ADDRESS` is set (or
  `CLASSIFIER_TRAINER=ray`); Ray is imported only then.
A new back end is one module on `base.py` and one branch in `_from_environment`.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Iterator

from ..core.dataset import Dataset
from ..core.memory import release_memory
from ..core.settings import TrainSettings
from ..training.run import Run
from .base import SLOTS
from .jobs import Job, Record

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
        from .inline import InlineTrainer
        return InlineTrainer()
    if kind == "ray":
        from .ray_cluster import RayTrainer
        return RayTrainer(os.environ.get("RAY_ADDRESS") or "auto")
    if kind == "processes":
        from .processes import ProcessTrainer
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
