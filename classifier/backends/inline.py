"""Trainings on a thread of this process (`CLASSIFIER_TRAINER=inline`): the CLI, notebooks."""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

from ..training.run import Run
from .base import SLOTS, StopOrAbandoned, drain
from .jobs import Job, Record


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
        flag = StopOrAbandoned(stop, patience, gone)

        def work() -> None:
            from ..training.run import run_training
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
