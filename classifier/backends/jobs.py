"""A training as it travels to wherever it runs, and back: `Job` out, `Record` home.

A `Job` says what to train: a built-in dataset by key (loaded where the training runs) or an
uploaded one as arrays, a model key, the settings. `execute` runs it where it lands (a worker
process, a Ray task), sending metric points as they come; it returns a `Record`: the finished
run with the trained model as `.keras` bytes, plain data that pickles, which `Record.to_run`
turns back into a `Run` beside the app. No Gradio, no process handling here.
"""
from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.dataset import Dataset
from ..core.settings import TrainSettings
from ..inference.evaluation import Evaluation
from ..training.loop import StopFlag, TrainResult
from ..training.run import Run, run_training

TRAINING_LOST = ("the training process stopped unexpectedly ({why}); nothing else was "
                 "affected: press Train to try again")


class CallerGone(Exception):
    """The caller stopped listening: the run was dropped at once, unfinished and unevaluated."""


class TrainingLost(RuntimeError):
    """The process running a training died or hung; only that training is lost."""

    def __init__(self, why: str):
        super().__init__(TRAINING_LOST.format(why=why))


@dataclass(frozen=True)
class Job:
    """What to train: `dataset` is a built-in dataset's key or the `Dataset` itself."""
    dataset: str | Dataset
    model_key: str
    settings: TrainSettings

    @classmethod
    def of(cls, dataset: Dataset, model_key: str, settings: TrainSettings) -> "Job":
        """A built-in dataset travels as its key (the worker loads its own copy once), any
        other (an upload) as arrays."""
        from ..data.datasets import DATASETS
        return cls(dataset.key if dataset.key in DATASETS else dataset, model_key, settings)

    def load_dataset(self) -> Dataset:
        if isinstance(self.dataset, Dataset):
            return self.dataset
        from ..data.datasets import load_dataset
        return load_dataset(self.dataset)


@dataclass
class Record:
    """A finished run as plain data: the model as `.keras` bytes, where it ran in `worker`."""
    model_key: str
    settings: TrainSettings
    result: TrainResult
    evaluation: Evaluation
    model_bytes: bytes
    worker: dict = field(default_factory=dict)

    def to_run(self, dataset: Dataset) -> Run:
        """The `Run` this record describes, its model loaded here (the dataset is this side's
        copy of the one it trained on)."""
        import keras
        with tempfile.TemporaryDirectory(prefix="classifier-record-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(self.model_bytes)
            model = keras.saving.load_model(path, safe_mode=True, compile=True)
        return Run(self.model_key, dataset, self.settings, model, self.result, self.evaluation,
                   self.worker)


def where() -> dict:
    """This process: host name and pid (a Ray task adds its node id)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def execute(job: Job, emit: Callable[[dict], object] | None, stop: StopFlag | None,
            worker: dict | None = None) -> Record:
    """Run `job` here: points to `emit`, `stop` checked every step; the run as a `Record`."""
    run = run_training(job.load_dataset(), job.model_key, job.settings, emit, stop)
    with tempfile.TemporaryDirectory(prefix="classifier-job-") as tmp:
        path = Path(tmp) / "model.keras"
        run.model.save(path)
        data = path.read_bytes()
    return Record(run.model_key, run.settings, run.result, run.evaluation, data,
                  worker or where())
