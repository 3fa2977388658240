"""What one browser session owns (its dataset, the classes it makes, its trained models, its
run's stop switch) and the read-only shipped models every session shares. No Gradio here: the
app keeps one `Session` per browser tab in a `gr.State`."""
from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..core.dataset import Dataset
from ..core.memory import MemoryBudget, array_bytes
from ..data.datasets import DATASETS, load_dataset
from ..data.folders import ZIP_IMAGE_CHOICES
from ..data.own_classes import IMAGE_BYTES, TRAIN_BATCH, TRAIN_EPOCHS, ClassSet
from ..export.take_home import write_take_home
from ..inference.evaluation import Evaluation, evaluate
from ..inference.predict import Predictor
from ..models.registry import MODELS
from ..training.lab import lab_words
from ..training.run import Run
from .classroom import Membership

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SHIPPED = {  # name shown in pickers -> folder under assets/models
    "Fashion-MNIST: our CNN (shipped)": "fashion_cnn_bn",
    "Fashion-MNIST: MLP (shipped)": "fashion_mlp",
    "MNIST digits: CNN (shipped)": "mnist_cnn",
}
MAX_SESSION_MODELS = 5  # older session models are dropped to bound memory
MAP_IMAGES = 2000  # test images on the Inside tab's map
MAPS_KEPT = 4  # maps a session keeps (t-SNE takes 8-12 s; each holds 2,000 points)
HELD_PER_IMAGE = IMAGE_BYTES + 64 * 64 * 3  # an own image: stored, and in the dataset made of it
OWN_IMAGES = "64x64 colour (photos keep more detail)"  # what own classes become: a
# ZIP_IMAGE_CHOICES key (webcam objects differ in colour and detail that 28x28 grey loses)


def shipped_names() -> list[str]:
    return [name for name, folder in SHIPPED.items() if (ASSETS / "models" / folder).is_dir()]


@functools.lru_cache(maxsize=None)
def shipped_predictor(name: str) -> Predictor:
    """A shipped model, loaded once and shared read-only by all sessions."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped model called {name!r}")
    return Predictor.from_folder(ASSETS / "models" / SHIPPED[name])


@functools.lru_cache(maxsize=None)
def shipped_evaluation(name: str) -> Evaluation:
    """Test-set evaluation of a shipped model, computed once."""
    predictor = shipped_predictor(name)
    return evaluate(predictor.model, load_dataset(predictor.meta["dataset"]))


@dataclass
class TrainedModel:
    predictor: Predictor
    run: Run
    download: Path


def _stopped() -> threading.Event:
    """A stop switch already set: what a session holds while nothing trains."""
    switch = threading.Event()
    switch.set()
    return switch


@dataclass
class Session:
    """One browser tab's own things; nothing here is visible to another session."""
    dataset_key: str = "fashion_mnist"
    uploaded: Dataset | None = None
    own: ClassSet = field(default_factory=ClassSet)  # classes made in this tab (dataset "own")
    own_images: str = OWN_IMAGES  # what they become for training: a ZIP_IMAGE_CHOICES key
    trained: dict[str, TrainedModel] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=_stopped)  # set: no run in progress
    runs_done: int = 0
    active_model: str | None = None
    last_image: object = None  # the latest drawing or upload, re-read when a model or epoch changes
    dropped: list[str] = field(default_factory=list)  # runs the latest add_run let go
    notes: list[str] = field(default_factory=list)  # what the latest add_run could not keep
    maps: dict = field(default_factory=dict)  # (model, projection, epoch) -> its TestMap
    screens: dict = field(default_factory=dict)  # each tab's own screen state (ui/): `screen`
    client: str | None = None  # the network it came from (clients.py), for fair shares
    membership: Membership | None = None  # the class it joined or leads (classroom.py)
    budget: MemoryBudget | None = None  # the server's, when it has one: see `reserve`
    _workdir: Path | None = None
    _own_built: tuple | None = None  # (set, its version, own_images, the Dataset made of it)

    def screen(self, tab: str, **defaults) -> SimpleNamespace:
        """Tab `tab`'s own screen state in this session (what it shows, for clicks on it),
        made from `defaults` on first use; the tab's module says what it holds."""
        if tab not in self.screens:
            self.screens[tab] = SimpleNamespace(**defaults)
        return self.screens[tab]

    def nbytes(self) -> int:
        """Memory this session's own things hold: its images and the datasets made of them,
        an uploaded dataset, its models and their kept epoch weights, its maps (the shared
        datasets and shipped models are not its own)."""
        models = sum(int(m.predictor.trained.count_params()) * 4 for m in list(self.trained.values()))
        weights = [m.run.result.epoch_weights for m in list(self.trained.values())]
        return (self.own.total() * HELD_PER_IMAGE + models  # an own image counts with its
                + array_bytes(self.uploaded, weights, list(self.maps.values())))  # dataset copy

    def reserve(self, extra: int) -> None:
        """ValueError saying why, if holding `extra` more bytes would cross the server's memory
        budget (for everyone, or for this session's network); nothing without a budget."""
        if self.budget is not None:
            self.budget.check(self, extra)

    def holding(self, extra: int):
        """A block during which `extra` more bytes are counted for this session (a load under
        way); ValueError first, as `reserve`, if they would cross the budget."""
        if self.budget is None:
            return contextlib.nullcontext()
        return self.budget.holding(self, extra)

    def reserve_images(self, count: int) -> None:
        """`reserve` for `count` more images of its own classes."""
        self.reserve(count * HELD_PER_IMAGE)

    @property
    def workdir(self) -> Path:
        """This session's own folder for saved models and uploads, made on first use."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="classifier-session-"))
        return self._workdir

    def dataset(self) -> Dataset:
        if self.dataset_key == "own":
            return self.own_dataset()
        if self.dataset_key == "upload":
            if self.uploaded is None:
                raise ValueError("upload a zip of class folders first")
            return self.uploaded
        return load_dataset(self.dataset_key)

    def own_dataset(self) -> Dataset:
        """The classes made in this tab as a dataset (made again only after a change);
        ValueError saying what to add while they cannot train."""
        made = self._own_built
        if made is None or made[0] is not self.own or made[1:3] != (self.own.version,
                                                                     self.own_images):
            size, color = ZIP_IMAGE_CHOICES[self.own_images]
            version = self.own.version  # before reading: a frame added meanwhile makes it anew
            data = self.own.to_dataset(size, color)
            made = self._own_built = self.own, version, self.own_images, data
        return made[3]

    def training_defaults(self, model_key: str) -> tuple[int, int]:
        """(epochs, batch size) the Train form starts from: the model's own, or for classes made
        in this tab, enough steps for a few dozen images."""
        if self.dataset_key == "own":
            return TRAIN_EPOCHS, TRAIN_BATCH
        spec = MODELS[model_key]
        return spec.default_epochs, spec.batch_size

    def use_dataset(self, key: str) -> Dataset:
        """Make `key` this session's dataset and return it; if it cannot be loaded (ValueError)
        the previous dataset stays in use."""
        previous, self.dataset_key = self.dataset_key, key
        try:
            return self.dataset()
        except ValueError:
            self.dataset_key = previous
            raise

    def dataset_title(self) -> str:
        """The dataset in use, as the header names it."""
        if self.dataset_key == "upload":
            return self.uploaded.title if self.uploaded is not None else "nothing uploaded yet"
        if self.dataset_key == "own":
            return "Your own classes"
        titles = {key: desc.split(":")[0] for key, (_, _, desc) in DATASETS.items()}
        return titles.get(self.dataset_key, self.dataset_key)

    def model_names(self) -> list[str]:
        return [*reversed(self.trained), *shipped_names()]

    def dataset_of(self, name: str) -> Dataset:
        """The dataset model `name` was trained on (its test images, its classes)."""
        if name in self.trained:
            return self.trained[name].run.dataset
        return load_dataset(self.predictor(name).meta["dataset"])

    def model_input(self, name: str, source: str, pick: int = 0) -> tuple[np.ndarray, str]:
        """(a batch of one image for model `name`, what it is): the latest drawing or upload
        after the clean-up ("drawing"), or one of its test images as they are ("test"), the
        `pick`-th of a fixed random order."""
        predictor = self.predictor(name)
        if source == "drawing":
            if self.last_image is None:
                raise ValueError("draw or upload an image in the Predict tab first, or pick a test image")
            return predictor.prepare(self.last_image).batch, "your drawing or upload, cleaned up"
        data = self.dataset_of(name)
        i = int(np.random.default_rng(pick).integers(len(data.x_test)))
        return data.x_test[i:i + 1], f"test image {i:,}: a {data.class_names[data.y_test[i]]}"

    def test_map(self, name: str, weights, method: str, epoch: int = 0):
        """(model `name`'s map of its test set with `weights`, where the latest drawing falls on
        it or None); maps are kept per model, projection and `epoch` (the last MAPS_KEPT)."""
        from ..views import test_map
        predictor, key = self.predictor(name), (name, method, epoch)
        if key not in self.maps:
            data = self.dataset_of(name)
            made = predictor.using(
                weights, lambda model: test_map.test_map(model, data, MAP_IMAGES, method))
            if method == "pca":  # places new images by its axes: the features can go (7 MB)
                made.features = None
            self.maps[key] = made
            for old in list(self.maps)[:-MAPS_KEPT]:
                del self.maps[old]
        tmap = self.maps[key]
        try:
            batch = predictor.prepare(self.last_image).batch
        except ValueError:  # nothing drawn: no star
            return tmap, None
        return tmap, predictor.using(weights, lambda m: test_map.place_image(m, tmap, batch[0]))

    def partner(self, name: str | None) -> str | None:
        """Another model to set beside `name`: the first one with the same classes, else None."""
        try:
            classes = self.predictor(name).class_names
        except ValueError:
            return None
        return next((other for other in self.model_names()
                     if other != name and self.predictor(other).class_names == classes), None)

    def predictor(self, name: str) -> Predictor:
        if name in self.trained:
            return self.trained[name].predictor
        if name in SHIPPED:
            return shipped_predictor(name)
        raise ValueError("pick a model: a shipped one, or train one in the Train tab")

    def evaluation(self, name: str) -> tuple[Evaluation, Dataset]:
        if name in self.trained:
            run = self.trained[name].run
            return run.evaluation, run.dataset
        predictor = self.predictor(name)
        return shipped_evaluation(name), load_dataset(predictor.meta["dataset"])

    def add_run(self, run: Run, take_home: bool = True) -> str:
        """Keep a finished run as a model of this session (with its take-home script and
        metrics beside the .keras file); returns its name. It becomes the active model unless
        it ended near chance; runs beyond MAX_SESSION_MODELS are dropped, oldest first, and
        their names left in `dropped`."""
        self.runs_done += 1
        self.notes = []
        n = self.runs_done
        epochs = run.result.epochs_done
        length = (f"{run.settings.seconds:g} s" if run.settings.seconds and not run.result.stopped
                  else f"{epochs} epoch{'s' if epochs != 1 else ''}")
        lab = lab_words(run.settings)
        name = (f"#{n} {run.dataset.title}: {MODELS[run.model_key].title}, {length}, "
                f"{lab + ', ' if lab else ''}test {run.evaluation.accuracy:.1%}")
        kept = array_bytes(run.result.epoch_weights)
        if kept and self.budget is not None and self.budget.room(self, kept):
            run.result.epoch_weights = []  # the server's memory is short: the model, not its past
            self.notes.append("its weights after each epoch were not kept (the server's memory "
                              "is short), so the epoch slider is not shown")
        folder = run.save(self.workdir / f"run{n}")
        predictor = Predictor(run.model, run.dataset.class_names, run.dataset.style, run.metadata())
        self.trained[name] = TrainedModel(predictor, run, folder / "model.keras")
        if not run.evaluation.near_chance():
            self.active_model = name
        if take_home:
            write_take_home(run, folder)
        return self._keep_latest(name)

    def _keep_latest(self, name: str) -> str:
        """After `name` joined the models: per-epoch weights for the latest only, the oldest
        beyond MAX_SESSION_MODELS dropped (their names in `dropped`)."""
        for older in list(self.trained)[:-1]:
            self.trained[older].run.result.epoch_weights = []
        self.dropped = list(self.trained)[:-MAX_SESSION_MODELS]
        for old in self.dropped:
            del self.trained[old]
        if self.active_model in self.dropped:  # failed runs kept the oldest one active
            self.active_model = (shipped_names() or [name])[0]
        return name

    def adopt(self, name: str, model: TrainedModel) -> str:
        """A model trained elsewhere (the class's shared run) as this session's active model,
        under `name`; shared read-only (its weights after each epoch stay the sharer's)."""
        run = replace(model.run, result=replace(model.run.result))  # a session may drop its
        self.trained.pop(name, None)  # own copy's epoch weights, never the sharer's
        self.trained[name] = TrainedModel(model.predictor, run, model.download)
        self.active_model = name
        return self._keep_latest(name)

    def epoch_weights(self, name: str | None) -> list:
        """Weights after each epoch of a session run (the latest run's only), else []."""
        model = self.trained.get(name)
        return model.run.result.epoch_weights if model is not None else []

    def weights_at(self, name: str | None, epoch) -> list | None:
        """The weights after `epoch` (1-based) of a session run that kept them, or None for the
        model as it ended (the last epoch, epoch 0, or a model without epoch weights)."""
        weights = self.epoch_weights(name)
        return weights[epoch - 1] if 1 <= epoch < len(weights) else None

    def take_home(self, name: str) -> list[Path]:
        """The run's .keras file, its plain-Keras script and its metrics JSON."""
        folder = self.trained[name].download.parent
        return [self.trained[name].download, *sorted(folder.glob("*.py")), folder / "metrics.json"]

    def runs_to_compare(self) -> tuple[list[tuple[str, dict]], dict[str, int]]:
        """(name, metadata) of this session's runs, oldest first, then the shipped models; and
        each one's parameter count."""
        runs = [(name, m.predictor.meta) for name, m in self.trained.items()]
        runs += [(name, shipped_predictor(name).meta) for name in shipped_names()]
        params = {name: int(self.predictor(name).trained.count_params()) for name, _ in runs}
        return runs, params

    def header(self) -> str:
        """The line under the title: the dataset and model in use."""
        model = self.active_model or "none yet"
        return f"Browsing: **{self.dataset_title()}** · Active model: **{model}**"

    def close(self) -> None:
        """Free what this session holds (called when the browser session is deleted)."""
        if self.budget is not None:
            self.budget.discard(self)
        self.stop.set()
        self.trained.clear()
        self.maps.clear()
        self.screens.clear()
        self.uploaded = None
        self.own.clear()  # the webcam frames and uploads go with the tab
        self._own_built = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def new_stop(self) -> threading.Event:
        """A fresh stop switch for a new run (the old run's switch stays set)."""
        self.stop = threading.Event()
        return self.stop


def dataset_choices() -> list[tuple[str, str]]:
    return [(desc, key) for key, (_, _, desc) in DATASETS.items()] + [
        ("Your own classes: webcam or files", "own"),
        ("Your own: upload a zip of class folders", "upload")]
