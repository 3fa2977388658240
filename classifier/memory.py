"""Training in a background thread, streamed as an iterator a UI can loop over (no Gradio here)."""
from __future__ import annotations

import ctypes
import gc
import queue
import threading
import time
from typing import Callable, Iterator

from .data import Dataset
from .run import Run, run_training
from .settings import TrainSettings


class CallerGone(Exception):
    """The caller stopped listening: the run was dropped at once, unfinished and unevaluated."""


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


def stream_training(dataset: Dataset, model_key: str, settings: TrainSettings,
                    stop: threading.Event, every: float = 0.25, patience: float = 15.0,
                    gone: Callable[[], bool] | None = None,
                    done: Callable[[], object] | None = None) -> Iterator[list[dict] | Run]:
    """Train in a thread; yield lists of new metric points at most every `every` seconds, then
    the finished `Run`. Closing the iterator (a closed browser tab) or not pulling from it for
    `patience` seconds stops it; `gone()` turning True (checked every training step) drops it
    and raises CallerGone.
    `done()` is called from the training thread as it ends, even if nobody pulls any more."""
    points: queue.Queue = queue.Queue()
    outcome: dict = {}
    flag = _StopOrAbandoned(stop, patience, gone)

    def work() -> None:
        try:
            outcome["run"] = run_training(dataset, model_key, settings, points.put, flag)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            if done is not None:
                done()

    thread = threading.Thread(target=work, name=f"train-{model_key}", daemon=True)
    thread.start()
    try:
        while thread.is_alive() or not points.empty():
            flag.last_pull = time.monotonic()
            batch = _drain(points, timeout=every)
            if batch:
                yield batch
                time.sleep(0 if not thread.is_alive() else every / 4)
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        release_memory()  # before the last yield: a UI's event ends the moment it has the run
        outcome["released"] = True
        yield outcome["run"]
    finally:
        stop.set()  # reached early only when the consumer went away: end the run
        if not outcome.get("released"):
            release_memory()


def limit_heap_arenas(arenas: int = 2) -> None:
    """Ask glibc for few malloc arenas (as MALLOC_ARENA_MAX=2 would): a server whose many threads
    each get an arena fragments its heap over a day of trainings (uptime +120 MB with 2 arenas,
    +140-155 MB without, in benchmarks/stress.py). Call before the server starts its threads."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


def release_memory() -> None:
    """Collect what a finished run left and hand freed heap back to the system, so a server
    that trains all day does not grow (glibc keeps freed memory otherwise; see BENCHMARKS.md)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _drain(points: queue.Queue, timeout: float) -> list[dict]:
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
