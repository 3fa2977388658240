"""The Train tab's lab: what makes a model overfit, and what holds it back.

TensorFlow Playground's best lessons, for images: train on a small share of the training set
(1% of Fashion-MNIST is 600 images: training accuracy races to 100% while validation stalls),
with a share of the labels wrong (label noise), with dropout or weight decay on or off. Only the
images a run trains on change; validation and test images stay whole and correctly labelled, so
the curves show what the change did.
"""
from __future__ import annotations

import numpy as np

DROPOUT_CHOICES = (None, 0.0, 0.2, 0.5)      # None: the recipe's own (some models have none)
WEIGHT_DECAY_CHOICES = (0.0, 0.01, 0.1)      # decoupled, as AdamW: weights shrink by rate x this


def training_share(x: np.ndarray, y: np.ndarray, share: float, total: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`share` of the dataset's `total` training images, drawn from `x` (what is left after
    validation was held out), the same for a seed; each class keeps its proportion and at least
    one image. A share of 1 returns `x` and `y` themselves."""
    if not 0 < share <= 1:
        raise ValueError(f"the share of the training images must be in (0, 1], got {share}")
    if share == 1 or len(y) == 0:
        return x, y
    want = min(len(y), max(1, int(round(share * total))))
    classes, counts = np.unique(y, return_counts=True)
    quota = want * counts / len(y)
    n = np.floor(quota).astype(int)
    n[np.argsort(n - quota)[:want - n.sum()]] += 1  # the largest remainders: exactly `want`
    n = np.clip(n, 1, counts)
    rng = np.random.default_rng(seed + 1)  # not the validation split's draws
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, n)]
    keep = np.sort(np.concatenate(picked))
    return x[keep], y[keep]


def wrong_labels(y: np.ndarray, share: float, num_classes: int, seed: int = 0) -> np.ndarray:
    """A copy of `y` with `share` of its labels (chosen at random, the same for a seed) replaced
    by another class, so exactly that share is wrong."""
    if not 0 <= share < 1:
        raise ValueError(f"the share of wrong labels must be in [0, 1), got {share}")
    y = np.array(y, copy=True)
    n = int(round(share * len(y)))
    if n == 0 or num_classes < 2:
        return y
    rng = np.random.default_rng(seed + 2)
    idx = rng.choice(len(y), size=n, replace=False)
    y[idx] = (y[idx] + rng.integers(1, num_classes, size=n)) % num_classes  # never the true one
    return y


def lab_words(settings) -> str:
    """What a run's lab settings changed, for its name in the pickers and Compare (e.g.
    "1% of the data, 20% wrong labels, no dropout"); "" when it trained as the recipe says."""
    words = []
    share = getattr(settings, "data_share", 1.0)
    if share is not None and share < 1:
        words.append(f"{share:.0%} of the data" if share >= 0.01 else f"{share:.1%} of the data")
    noise = getattr(settings, "label_noise", 0.0)
    if noise:
        words.append(f"{noise:.0%} wrong labels")
    dropout = getattr(settings, "dropout", None)
    if dropout is not None:
        words.append("no dropout" if dropout == 0 else f"dropout {dropout:g}")
    decay = getattr(settings, "weight_decay", 0.0)
    if decay:
        words.append(f"weight decay {decay:g}")
    return ", ".join(words)
