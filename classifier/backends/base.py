"""What every training back end shares: how many trainings a machine runs at once, how a
back end's watcher thread hands points and the outcome to its `stream`, what a worker's last
message means, and the flag that stops a run when asked or when nobody pulls any more.

A back end is a class with `name`, `slots` and `stream(job, stop, gone=, done=, **timing)`
yielding lists of metric points, then the outcome (a `Record` or a `Run`); `choice.py` picks
one. No Gradio here; nothing here imports a back end.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

from .jobs import CallerGone

SLOTS = 2  # trainings at a time on one machine: measured for 2 vCPUs in BENCHMARKS.md
OUTCOMES = {  # a job's last message from its worker -> what the stream gives its caller
    "done": lambda record: record,
    "gone": lambda _: CallerGone(),
    "refused": ValueError,  # the user's input: its message is for them
    "failed": lambda why: RuntimeError(f"the training failed: {why}"),
}


class StopOrAbandoned:
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
