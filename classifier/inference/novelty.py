""""Is this one of the images the model learned from?": the gate trained by training/novelty.py.

One small network per dataset (assets/novelty/<dataset key>/), shared by every model of that
dataset, scores a cleaned-up 28x28 input; under its threshold, the input is unlike the
dataset's images (a face, a scene, an object that is no garment) and the answer is "I am not
sure" whatever the softmax says. The threshold lets KEEP of held-out training images through;
how often it stops the test images and the check set's photos is in its gate.json.
"""
from __future__ import annotations

import functools
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "novelty"
GATE_FILE = "gate.json"
MODEL_FILE = "model.keras"


@dataclass
class GateInfo:
    dataset: str
    threshold: float        # score under which an input is unlike the dataset's images
    kept: float             # share of held-out training images at or above it
    measured_on: str
    rates: dict | None = None  # how often it stops what: test images, outliers, photos


class Gate:
    """A dataset's gate, ready to score inputs (thread-safe: Gradio calls from many threads)."""

    def __init__(self, model, info: GateInfo):
        self.model, self.info = model, info
        self._lock = threading.Lock()

    def scores(self, images: np.ndarray) -> np.ndarray:
        """Each (28, 28) or (28, 28, 1) uint8 input's score in [0, 1]: 1 is "one of them"."""
        x = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
        with self._lock:
            out = self.model.predict_on_batch(x) if len(x) <= 256 else \
                self.model.predict(x, batch_size=512, verbose=0)
        return np.asarray(out, np.float64).reshape(-1)

    def unlike(self, images: np.ndarray) -> np.ndarray:
        """True where an input is unlike the dataset's images."""
        return self.scores(images) < self.info.threshold

    def save(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / MODEL_FILE)
        (folder / GATE_FILE).write_text(json.dumps(asdict(self.info), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder) -> "Gate":
        import keras
        folder = Path(folder)
        info = GateInfo(**json.loads((folder / GATE_FILE).read_text()))
        return cls(keras.models.load_model(folder / MODEL_FILE, compile=False), info)


@functools.cache
def for_dataset(key: str | None) -> Gate | None:
    """The shipped gate of dataset `key` (loaded once), or None where there is none."""
    folder = ASSETS / str(key)
    if not key or not (folder / GATE_FILE).is_file():
        return None
    return Gate.load(folder)
