"""Finished runs side by side: validation curves and a summary table.

A run is a `(name, metadata)` pair; metadata is the dict `Run.metadata()` returns, which is also
what a shipped model keeps in `assets/models/*/metadata.json`. Any key may be missing.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

CURVE_COLUMNS = ["run", "epoch", "seconds", "val_accuracy", "curve"]
TABLE_COLUMNS = ["run", "model", "dataset", "params", "train images", "s/epoch", "epochs",
                 "train acc", "best val acc", "test acc"]  # short: the table fits 800 px
# Okabe-Ito's colour-blind-safe palette: five for a session's runs (it keeps its last five),
# the rest for the shipped models, whose lines are also dashed
RUN_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"]
REFERENCE_COLOURS = ["#56B4E9", "#000000", "#888888"]


def _floats(values) -> list[float]:
    """Floats of `values`, None and non-numbers as nan."""
    out = []
    for v in values or []:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


def accuracy_curve(metadata: dict) -> tuple[list[float], str]:
    """Per-epoch validation accuracy, or training accuracy when the run had no validation."""
    history = metadata.get("history") or {}
    val = _floats(history.get("val_accuracy"))
    if any(math.isfinite(v) for v in val):
        return val, "validation"
    return _floats(history.get("accuracy")), "training (no validation)"


def curve_frame(runs: list[tuple[str, dict]], x: str = "epoch") -> pd.DataFrame:
    """Long table for `gr.LinePlot(x=x, y="val_accuracy", color="run")`: one row per run and
    epoch; `seconds` is cumulative training time at the epoch's end; `curve` says which
    accuracy it is. Rows without a value (or without seconds, when x="seconds") are left out."""
    if x not in ("epoch", "seconds"):
        raise ValueError(f"x must be 'epoch' or 'seconds', got {x!r}")
    rows = []
    for name, meta in runs:
        values, curve = accuracy_curve(meta)
        elapsed = np.cumsum(_floats(meta.get("epoch_seconds")))
        for k, value in enumerate(values):
            seconds = float(elapsed[k]) if k < len(elapsed) else math.nan
            rows.append((name, k + 1, seconds, value, curve))
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS).astype(
        {"run": str, "epoch": int, "seconds": float, "val_accuracy": float, "curve": str})
    keep = frame.val_accuracy.notna() & frame[x].notna()
    return frame[keep].reset_index(drop=True)


def seconds_per_epoch(epoch_seconds) -> float:
    """Median epoch time, without the first epoch (tracing, caching) when there are more."""
    seconds = [s for s in _floats(epoch_seconds) if math.isfinite(s)]
    if len(seconds) > 1:
        seconds = seconds[1:]
    return float(np.median(seconds)) if seconds else math.nan


def _text(value: float, fmt: str) -> str:
    """`value` formatted, or blank when it is unknown."""
    return "" if value is None or not math.isfinite(value) else format(value, fmt)


def table_frame(runs: list[tuple[str, dict]],
                parameters: dict[str, int] | None = None) -> pd.DataFrame:
    """One display row per run, every cell a string ('' when unknown); `parameters` maps run
    names to parameter counts for metadata that lacks them."""
    rows = []
    for name, meta in runs:
        values, curve = accuracy_curve(meta)
        finite = [v for v in values if math.isfinite(v)]
        count = (parameters or {}).get(name, meta.get("parameters"))
        epochs = meta.get("epochs_done", len(values))
        rows.append((name, meta.get("model_title", meta.get("model", "")),
                     meta.get("dataset_title", meta.get("dataset", "")),
                     _text(count, ",d") if isinstance(count, (int, np.integer)) else "",
                     _text(meta.get("train_images") or math.nan, ",.0f"),
                     _text(seconds_per_epoch(meta.get("epoch_seconds")), ".2f"),
                     str(epochs) if epochs is not None else "",
                     _text((_floats((meta.get("history") or {}).get("accuracy")) or [math.nan])[-1],
                           ".2%"),  # at the end: far above validation is overfitting
                     _text(max(finite), ".2%") if finite and curve == "validation" else "",
                     _text(_floats([meta.get("test_accuracy")])[0], ".2%")))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def run_colours(names: list[str]) -> dict[str, str]:
    """Each run's colour, the same on every visit: run '#k ...' takes RUN_COLOURS[k - 1] (mod 5),
    unnumbered (shipped) runs take REFERENCE_COLOURS in the order given."""
    colours, references = {}, iter(REFERENCE_COLOURS * (1 + len(names) // len(REFERENCE_COLOURS)))
    for name in names:
        numbered = re.match(r"#(\d+) ", name)
        colours[name] = (RUN_COLOURS[(int(numbered.group(1)) - 1) % len(RUN_COLOURS)] if numbered
                         else next(references))
    return colours


def curve_figure(frame: pd.DataFrame, colours: dict[str, str], x: str = "epoch"):
    """The curves of `curve_frame` in their runs' colours, every epoch a dot (so a one-epoch
    run shows), the session's own runs (solid) over the shipped ones (dashed); seconds on a log
    axis, so a slow run does not squash the fast ones."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, ScalarFormatter
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for name, rows in frame.groupby("run", sort=False):
        own, validated = name.startswith("#"), rows.curve.iloc[0] == "validation"
        ax.plot(rows[x], rows.val_accuracy, marker="o", markersize=5 if len(rows) > 1 else 8,
                color=colours[name], linestyle=("-" if own else "--") if validated else ":",
                label=name if validated else f"{name}: training accuracy (no validation)",
                zorder=3 if own else 2)
    if x == "seconds":
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())  # 10, 100, not 10^1, 10^2
        ax.set_xlabel("training seconds (log scale)")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(top=1.0)
    ax.grid(alpha=0.3)
    return fig
