"""The Train tab's form: its ranges, the check of its values, and the link that fills it in.

A teacher's link such as `?dataset=fashion_mnist&model=cnn_quick&seconds=30` opens the page with
those settings; `read_link` turns a page's query into the form's values and a note for every
value it could not use (the form keeps its default there: a bad link never fails the page), and
`settings_query` writes the query for the form's current values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlencode

from ..core import arguments
from ..core.settings import TrainSettings
from ..data.datasets import DATASETS
from ..models.registry import MODELS

FORM = dict(epochs=(1, 50), batch_sizes=(16, 32, 64, 128, 256, 512),
            learning_rate=(0, 10), validation=(0.05, 0.3),
            optimizers=("recipe's own", "adam", "sgd", "rmsprop"),
            schedules=("cosine", "constant"), seconds=(0, 600),
            data_percent=(1, 100), wrong_percent=(0, 80),  # the lab
            dropouts={"the recipe's own": None, "off": 0.0, "0.2": 0.2, "0.5": 0.5},
            weight_decays={"off": 0.0, "0.01 (light)": 0.01, "0.1 (strong)": 0.1})
MIN_BUDGET = 5  # seconds; 0 trains by epochs


def train_settings(model_key, epochs, batch_size, optimizer, learning_rate, schedule,
                   val_share, seconds=0, data_percent=100, wrong_percent=0,
                   dropout="the recipe's own", weight_decay="off") -> TrainSettings:
    """The Train form's values, each checked (they may come from anyone, as any JSON)."""
    arguments.choice("model", model_key, list(MODELS))
    optimizer = arguments.choice("optimizer", optimizer, FORM["optimizers"])
    budget = _budget(seconds)
    return TrainSettings(
        data_share=arguments.number("share of the training images (%)", data_percent,
                                    *FORM["data_percent"]) / 100,
        label_noise=arguments.number("wrong labels (%)", wrong_percent, *FORM["wrong_percent"]) / 100,
        dropout=FORM["dropouts"][arguments.choice("dropout", dropout, list(FORM["dropouts"]))],
        weight_decay=FORM["weight_decays"][arguments.choice("weight decay", weight_decay,
                                                            list(FORM["weight_decays"]))],
        epochs=arguments.integer("epochs", epochs, *FORM["epochs"]), seconds=budget or None,
        batch_size=arguments.choice("batch size", batch_size, FORM["batch_sizes"]),
        optimizer=None if optimizer == "recipe's own" else optimizer,
        learning_rate=arguments.number("learning rate", learning_rate, *FORM["learning_rate"]) or None,
        lr_schedule=arguments.choice("schedule", schedule, FORM["schedules"]),
        validation_split=arguments.number("validation share", val_share, *FORM["validation"]),
        pretrained=False, max_seconds=float(os.environ.get("CLASSIFIER_MAX_TRAIN_SECONDS", 1800)))


def _budget(seconds) -> float:
    budget = arguments.number("time budget (seconds)", seconds, *FORM["seconds"])
    if 0 < budget < MIN_BUDGET:
        raise ValueError(f"a time budget must be at least {MIN_BUDGET} seconds (0 trains by epochs)")
    return budget


# ------------------------------------------------------------------ the link to these settings
LINK_KEYS = {  # the query's name -> (the check, what the page's form holds)
    "dataset": lambda v: arguments.choice("dataset", v, list(DATASETS)),
    "model": lambda v: arguments.choice("model", v, list(MODELS)),
    "epochs": lambda v: arguments.integer("epochs", v, *FORM["epochs"]),
    "batch": lambda v: arguments.choice("batch size", v, FORM["batch_sizes"]),
    "lr": lambda v: arguments.number("learning rate", v, *FORM["learning_rate"]),
    "seconds": _budget,
    "data": lambda v: arguments.number("share of the training images (%)", v, *FORM["data_percent"]),
    "wrong": lambda v: arguments.number("wrong labels (%)", v, *FORM["wrong_percent"]),
}
MAX_KEYS = 40  # a query's first this many names are read
MAX_NOTES = 5  # a link with many bad values gets this many notes and a count


@dataclass
class Link:
    """What a page's query asks for: the values that can be used, and notes on the rest."""

    values: dict = field(default_factory=dict)  # LINK_KEYS name -> checked value
    notes: list[str] = field(default_factory=list)

    def note(self) -> str:
        """One line for the page, or "" when the whole link was used."""
        if not self.notes:
            return ""
        shown = self.notes[:MAX_NOTES] + ([f"and {len(self.notes) - MAX_NOTES} more"]
                                          if len(self.notes) > MAX_NOTES else [])
        return "Some of this link's settings could not be used, so the page's own are there " \
               "instead: " + "; ".join(shown) + "."


def read_link(query: Mapping[str, object]) -> Link:
    """The form values a page's query asks for; a bad or unknown one becomes a note, never an error."""
    link = Link()
    for name, value in list(query.items())[:MAX_KEYS]:
        name = str(name)
        if name in ("__theme", "view", "class", "teacher"):  # Gradio's own; a class's (class_tab)
            continue
        if name not in LINK_KEYS:
            link.notes.append(f"{arguments.quoted(name)} is not a setting")
            continue
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else ""
        try:
            link.values[name] = LINK_KEYS[name](value)
        except ValueError as exc:
            link.notes.append(str(exc))
    return link


def settings_query(dataset, model_key, epochs, batch_size, learning_rate, seconds, data_percent=100,
                   wrong_percent=0) -> tuple[str, str]:
    """(the query for these form values, a note on what it leaves out). Values the form would
    refuse are left out of the link, as is a dataset that cannot travel (your own images)."""
    link = read_link(dict(model=model_key, epochs=epochs, batch=batch_size, lr=learning_rate,
                          seconds=seconds, data=data_percent, wrong=wrong_percent))
    left_out = []
    if isinstance(dataset, str) and dataset in DATASETS:
        link.values = {"dataset": dataset, **link.values}
    else:
        left_out.append("your own images do not travel in a link (it opens with Fashion-MNIST)")
    values = {k: _short(v) for k, v in link.values.items()
              if not (k in ("lr", "seconds", "wrong") and v == 0) and not (k == "data" and v == 100)}
    return urlencode(values), "; ".join(left_out + link.notes[:MAX_NOTES])


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
