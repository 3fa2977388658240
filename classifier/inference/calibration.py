"""Saying "I am not sure": a temperature and a threshold measured on images the model never saw.

A softmax always answers one of the classes it knows, often with high confidence, even for a
photo of a cat given to a digits model. Temperature scaling (Guo et al., 2017) rescales the
model's log-probabilities by one number T chosen so they are honest on held-out images (lowest
negative log-likelihood); the "unsure" threshold is then the calibrated top probability that
KEEP of the right answers on those images reach. Below it the app answers with its top classes
and "I am not sure". `python -m classifier calibrate --model DIR` measures both and saves them in
the model's metadata, with how often the message appears on test images and on another
dataset's images.

A softmax can still be sure of what is nothing like its training images (uniform noise comes
out of the clean-up as a grey square some class happens to own), so the answer is also "not
sure" when the share of ink in the model's 28x28 input is outside what 99.8% of its training
images have (`ink_range`, from the 0.1st to the 99.9th percentile), and when the dataset's gate
(novelty.py) finds the input unlike its images. KEEP holds for the three together: the
threshold is set on the right answers that the ink share and the gate let through.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KEEP = 0.99  # share of right answers on held-out images that must not be called unsure
TEMPERATURES = np.geomspace(0.05, 20.0, 481)  # searched: a 1.25% step
INK_LEVEL = 25  # a pixel of a 28x28 input is ink above this (of 255)
INK_QUANTILES = (0.001, 0.999)  # the training images' ink shares that count as seen before


@dataclass
class Calibration:
    temperature: float
    unsure_below: float    # calibrated top probability under which the answer is "not sure"
    kept: float            # share of right held-out answers at or above it
    measured_on: str       # which images, how many
    ink_range: list[float] | None = None  # the training images' share of ink pixels (None: not checked)

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """`probabilities` (..., C) rescaled by the temperature, rows summing to 1."""
        return scaled(probabilities, self.temperature)

    def unsure(self, probabilities: np.ndarray) -> np.ndarray | bool:
        """True where the calibrated top probability is under the threshold."""
        return self.calibrated(probabilities).max(axis=-1) < self.unsure_below

    def unlike_training(self, images: np.ndarray) -> np.ndarray | bool:
        """True where an input's share of ink pixels is outside the training images' range."""
        if self.ink_range is None:
            return np.zeros(len(images), bool) if np.ndim(images) > 2 else False
        share = ink_share(images)
        return (share < self.ink_range[0]) | (share > self.ink_range[1])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Calibration | None":
        return cls(**data) if data else None


def ink_share(images: np.ndarray) -> np.ndarray | float:
    """Each image's share of pixels above INK_LEVEL: (H, W) gives a number, (N, H, W[, 1]) N of them."""
    a = np.asarray(images)
    a = a[..., 0] if a.ndim == 4 else a
    return (a > INK_LEVEL).mean(axis=(-2, -1))


def ink_range(train_images: np.ndarray) -> list[float]:
    """The INK_QUANTILES of the training images' ink shares."""
    return [float(q) for q in np.quantile(ink_share(train_images), INK_QUANTILES)]


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(p) / T): the same order of classes, sharper for T < 1, flatter for T > 1."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature with the lowest mean negative log-likelihood of the true classes."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("calibration needs held-out images with labels, got none")
    rows = np.arange(len(labels))
    nll = [-np.log(np.clip(scaled(probabilities, t)[rows, labels], 1e-12, 1)).mean()
           for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(nll))])


def calibrate(probabilities: np.ndarray, labels: np.ndarray, measured_on: str,
              keep: float = KEEP, train_images: np.ndarray | None = None,
              flagged: np.ndarray | None = None) -> Calibration:
    """The temperature and the threshold that keeps `keep` of the right answers sure; with
    `train_images` (28x28 grey), their range of ink shares too. `flagged` (one bool a held-out
    image) marks those already called unsure otherwise (the gate, the ink share): the threshold
    takes only what is left of the 1 - keep allowed."""
    t = fit_temperature(probabilities, labels)
    calibrated = scaled(probabilities, t)
    right = calibrated.argmax(axis=1) == np.asarray(labels)
    if not right.any():
        raise ValueError("the model answered none of the held-out images right: nothing to calibrate")
    top = calibrated.max(axis=1)[right]
    before = np.zeros(len(top), bool) if flagged is None else np.asarray(flagged, bool)[right]
    allowed = int(np.floor((1 - keep) * len(top))) - int(before.sum())
    rest = np.sort(top[~before])
    threshold = float(rest[min(max(allowed, 0), len(rest) - 1)]) if len(rest) else 0.0
    sure = (top >= threshold) & ~before
    return Calibration(t, threshold, float(sure.mean()), measured_on,
                       ink_range(train_images) if train_images is not None else None)


def unsure_rates(calibration: Calibration, probabilities: np.ndarray,
                 labels: np.ndarray | None = None, images: np.ndarray | None = None,
                 gate=None) -> dict[str, float]:
    """How often the message appears: on all images, and (with labels) on the right and the
    wrong answers; with the `images` themselves, their ink share counts too, and the `gate`'s
    judgement (novelty.Gate) of them."""
    unsure = calibration.unsure(probabilities)
    if images is not None:
        unsure = unsure | calibration.unlike_training(images)
        if gate is not None:
            unsure = unsure | gate.unlike(images)
    rates = {"all": float(unsure.mean())}
    if labels is not None:
        right = probabilities.argmax(axis=1) == np.asarray(labels)
        rates["right"] = float(unsure[right].mean()) if right.any() else float("nan")
        rates["wrong"] = float(unsure[~right].mean()) if (~right).any() else float("nan")
    return rates
