"""A class's board drawn: the table of its runs (best first) and a chart of test accuracy against
training seconds, one dot a run, in type a projector shows. Runs are anything with the fields of
`serving.class_store.BoardRun`; nicknames stay plain text (never Markdown, HTML or math)."""
from __future__ import annotations

import datetime

import pandas as pd

COLUMNS = ["#", "Nickname", "Model", "Dataset", "Settings", "Test accuracy", "Seconds", "Finished"]
LABELLED = 5  # the best this many dots carry their nickname


def board_frame(runs) -> pd.DataFrame:
    """The board's table: one row a run, in the order given (best first)."""
    rows = [[i + 1, r.nickname, r.model, r.dataset, r.settings, f"{r.accuracy:.1%}",
             f"{r.seconds:.0f}", datetime.datetime.fromtimestamp(r.finished).strftime("%H:%M")]
            for i, r in enumerate(runs)]
    return pd.DataFrame(rows, columns=COLUMNS)


def board_figure(runs):
    """Test accuracy (y) against seconds of training (x), one dot a run; the best few named."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlabel("Seconds of training", fontsize=16)
    ax.set_ylabel("Test accuracy", fontsize=16)
    ax.tick_params(labelsize=14)
    ax.grid(alpha=0.3)
    if not runs:
        ax.text(0.5, 0.5, "Each finished run of the class appears here as a dot.",
                ha="center", va="center", fontsize=16, color="0.35", transform=ax.transAxes,
                parse_math=False)
        ax.set_xlim(0, 60)
        ax.set_ylim(0, 1)
    else:
        x = [r.seconds for r in runs]
        y = [r.accuracy for r in runs]
        ax.scatter(x, y, s=110, color="#4263eb", alpha=0.75, edgecolor="white", zorder=3)
        ax.scatter(x[:1], y[:1], s=260, color="#f76707", edgecolor="white", zorder=4)
        for i, r in enumerate(runs[:LABELLED]):  # staggered: runs often land close together
            ax.annotate(r.nickname, (r.seconds, r.accuracy), xytext=(10, (8, -20, 24, -36, 40)[i]),
                        textcoords="offset points", fontsize=14, parse_math=False,
                        arrowprops=dict(arrowstyle="-", color="0.6", lw=0.8))
        low = min(y)
        ax.set_ylim(max(0.0, low - 0.05), min(1.0, max(y) + 0.04) if max(y) < 0.96 else 1.01)
        ax.set_xlim(0, max(x) * 1.15 + 1)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return fig
