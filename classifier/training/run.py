"""One whole training run, as the CLI and the app do it: build, train, evaluate, describe, save."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..core.dataset import Dataset
from ..core.settings import TrainSettings
from ..inference.evaluation import Evaluation, evaluate
from ..models.registry import MODELS, build_model
from ..models.storage import save_model
from .loop import StopFlag, TrainResult, counted_in, later, spent_before, train
from .transfer import split_frozen, train_cached


@dataclass
class Run:
    """A trained model with everything needed to show, reuse and save it."""
    model_key: str
    dataset: Dataset
    settings: TrainSettings
    model: object
    result: TrainResult
    evaluation: Evaluation
    worker: dict = field(default_factory=dict)  # where it trained, when not in this process

    def metadata(self) -> dict:
        """What is saved beside the model (and shown about it)."""
        r = self.result
        return {
            "model": self.model_key, "model_title": MODELS[self.model_key].title,
            "dataset": self.dataset.key, "dataset_title": self.dataset.title,
            "dataset_source": self.dataset.summary(), "class_names": self.dataset.class_names,
            "input_shape": list(self.dataset.image_shape), "style": self.dataset.style,
            "settings": self.settings.to_dict(), "epochs_done": r.epochs_done,
            "stopped": r.stopped, "train_seconds": round(r.seconds, 2),
            "train_images": r.train_images,
            "epoch_seconds": [round(s, 2) for s in r.epoch_seconds], "history": r.history,
            "test_accuracy": self.evaluation.accuracy, "test_loss": self.evaluation.loss,
            "per_class_accuracy": self.evaluation.per_class_accuracy(),
            **({"trained_on": self.worker} if self.worker else {}),
        }

    def save(self, folder: str | Path) -> Path:
        return save_model(self.model, folder, self.metadata())


def model_settings(model_key: str, settings: TrainSettings | None = None) -> TrainSettings:
    """`settings` with what they leave to the model (None) filled in from its registry entry."""
    if model_key not in MODELS:
        raise ValueError(f"unknown model {model_key!r}: use one of {', '.join(MODELS)}")
    s, spec = settings or TrainSettings(), MODELS[model_key]
    return replace(s, epochs=s.epochs or spec.default_epochs,
                   batch_size=s.batch_size or spec.batch_size,
                   warmup=spec.warmup if s.warmup is None else s.warmup)


def run_training(dataset: Dataset, model_key: str, settings: TrainSettings | None = None,
                 on_metrics: Callable[[dict], object] | None = None,
                 stop: StopFlag | None = None) -> Run:
    """Seed, build `model_key` for `dataset`, train it with live metrics, evaluate on test.
    The run's clock starts here: building counts in its seconds (and epoch 1's), and a time
    budget covers the whole run, building and the test set's evaluation included (a class
    told "30 s" has its answer after about 30 s)."""
    import keras
    began = time.perf_counter()
    s = model_settings(model_key, settings)
    keras.utils.set_random_seed(s.seed)
    model = build_model(model_key, dataset.image_shape, dataset.num_classes, s, dataset.x_train)
    fit = train_cached if split_frozen(model) is not None else train  # frozen base: cache it
    spent = time.perf_counter() - began
    emit = (lambda point: on_metrics(later(point, spent))) if on_metrics else None
    result = fit(model, dataset, spent_before(s, spent), on_metrics=emit, stop=stop,
                 then_score=len(dataset.x_test) if s.seconds else 0)
    result, scoring = counted_in(result, spent), time.perf_counter()
    evaluation = evaluate(model, dataset)
    if s.seconds:  # the budget kept time for the test set's scoring: the run's seconds count
        # it too (a busy machine's slow scoring once showed "8.1s" of a 10 s budget kept)
        result = replace(result, seconds=result.seconds + time.perf_counter() - scoring)
    return Run(model_key, dataset, s, model, result, evaluation)
