"""Comparing finished runs from their metadata: curves and the summary table."""
import json
import math
from pathlib import Path

import pytest

from classifier.views import compare

MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"


def meta(val=(0.5, 0.7, 0.6), acc=(0.4, 0.6, 0.8), seconds=(10.0, 2.0, 3.0), **extra):
    """Metadata shaped like Run.metadata(), only the keys comparison reads."""
    history = {"accuracy": list(acc), "loss": [1.0] * len(acc)}
    if val is not None:
        history |= {"val_accuracy": list(val), "val_loss": [1.0] * len(val)}
    return {"model_title": "Small CNN", "dataset_title": "MNIST digits", "epochs_done": len(acc),
            "epoch_seconds": list(seconds), "history": history, "test_accuracy": 0.91, **extra}


def shipped() -> list[tuple[str, dict]]:
    files = sorted(MODELS.glob("*/metadata.json"))
    return [(p.parent.name, json.loads(p.read_text())) for p in files]


def test_curve_frame_has_cumulative_seconds_and_validation_values():
    frame = compare.curve_frame([("a", meta())])
    assert list(frame.columns) == ["run", "epoch", "seconds", "val_accuracy", "curve"]
    assert frame.epoch.tolist() == [1, 2, 3]
    assert frame.seconds.tolist() == [10.0, 12.0, 15.0]
    assert frame.val_accuracy.tolist() == [0.5, 0.7, 0.6]
    assert set(frame.curve) == {"validation"}


def test_curve_frame_falls_back_to_training_accuracy_and_says_so():
    frame = compare.curve_frame([("with", meta()), ("without", meta(val=None))])
    without = frame[frame.run == "without"]
    assert without.val_accuracy.tolist() == [0.4, 0.6, 0.8]
    assert set(without.curve) == {"training (no validation)"}
    assert set(frame[frame.run == "with"].curve) == {"validation"}


def test_curve_frame_drops_missing_values_and_unknown_seconds():
    runs = [("nan", meta(val=(0.5, float("nan"), None), seconds=(1.0,))),
            ("empty", {"history": {}}), ("bare", {})]
    by_epoch = compare.curve_frame(runs)
    assert by_epoch.run.tolist() == ["nan"] and by_epoch.epoch.tolist() == [1]
    assert compare.curve_frame(runs, x="seconds").seconds.tolist() == [1.0]
    short = compare.curve_frame([("s", meta(seconds=(4.0,)))], x="seconds")
    assert short.epoch.tolist() == [1]  # epochs 2-3 have no time: left out of a seconds plot
    assert compare.curve_frame([]).empty
    with pytest.raises(ValueError, match="'minutes'"):
        compare.curve_frame(runs, x="minutes")


def test_seconds_per_epoch_leaves_out_the_first_epoch():
    assert compare.seconds_per_epoch([10.0, 2.0, 4.0, 3.0]) == 3.0
    assert compare.seconds_per_epoch([7.0]) == 7.0
    assert math.isnan(compare.seconds_per_epoch([]))
    assert math.isnan(compare.seconds_per_epoch(None))


def test_table_frame_formats_each_run():
    runs = [("a", {**meta(parameters=56714), "train_images": 600}), ("b", meta(val=None, seconds=()))]
    table = compare.table_frame(runs)
    assert list(table.columns) == ["run", "model", "dataset", "params", "train images", "s/epoch",
                                   "epochs", "train acc", "best val acc", "test acc"]
    assert table.iloc[0].tolist() == ["a", "Small CNN", "MNIST digits", "56,714", "600", "2.50",
                                      "3", "80.00%", "70.00%", "91.00%"]
    # no validation: no best validation accuracy; unknown parameters, counts and times stay blank
    assert table.iloc[1][["params", "train images", "s/epoch",
                          "best val acc"]].tolist() == ["", "", "", ""]


def test_table_frame_parameters_override_and_missing_keys():
    table = compare.table_frame([("a", meta()), ("empty", {})], parameters={"a": 1234})
    assert table.params.tolist() == ["1,234", ""]
    assert table.iloc[1].tolist() == ["empty", "", "", "", "", "", "0", "", "", ""]
    nan_test = compare.table_frame([("n", meta(test_accuracy=float("nan")))])
    assert nan_test["test acc"].tolist() == [""]


def test_shipped_metadata_compares():
    runs = shipped()
    assert len(runs) >= 3
    frame = compare.curve_frame(runs, x="seconds")
    for name, m in runs:
        rows = frame[frame.run == name]
        assert rows.val_accuracy.tolist() == compare.accuracy_curve(m)[0]  # training, if no validation
        assert rows.seconds.iloc[-1] == pytest.approx(sum(m["epoch_seconds"]))
        assert rows.seconds.is_monotonic_increasing
    table = compare.table_frame(runs).set_index("run")
    mnist = dict(runs)["mnist_cnn"]
    assert table.loc["mnist_cnn", "model"] == mnist["model_title"] == "Our CNN (batch norm)"
    assert table.loc["mnist_cnn", "test acc"] == f"{mnist['test_accuracy']:.2%}"
    best = max(mnist["history"]["val_accuracy"])
    assert table.loc["mnist_cnn", "best val acc"] == f"{best:.2%}"
    assert table.loc["mnist_cnn", "params"] == f"{mnist['parameters']:,}"
    assert table.loc["fashion_mlp", "s/epoch"] == "2.86"  # median of 4.15, 2.33, 2.84, 2.88


def test_run_colours_are_steady_and_colour_blind_safe():
    shipped = ["Fashion-MNIST: our CNN (shipped)", "MNIST digits: CNN (shipped)"]
    first = compare.run_colours(["#1 a", *shipped])
    later = compare.run_colours(["#2 b", "#3 c", "#4 d", "#5 e", "#6 f", *shipped])  # #1 dropped
    assert {k: later[k] for k in shipped} == {k: first[k] for k in shipped}
    assert first["#1 a"] == later["#6 f"] == compare.RUN_COLOURS[0]  # five kept: never two alike
    assert len(set(later.values())) == len(later)
    assert set(later.values()) <= set(compare.RUN_COLOURS + compare.REFERENCE_COLOURS)


def test_curve_figure_shows_a_one_epoch_run_and_logs_seconds():
    runs = [("#1 one", meta(val=(0.8,), seconds=(3.0,))), ("#2 two", meta())]
    colours = compare.run_colours([name for name, _ in runs])
    by_epoch = compare.curve_figure(compare.curve_frame(runs), colours).axes[0]
    one = [line for line in by_epoch.lines if line.get_label() == "#1 one"][0]
    assert one.get_marker() == "o" and list(one.get_ydata()) == [0.8]  # a dot, not an empty line
    assert one.get_color() == compare.RUN_COLOURS[0]
    by_seconds = compare.curve_figure(compare.curve_frame(runs, "seconds"), colours, "seconds")
    assert by_seconds.axes[0].get_xscale() == "log"


def test_the_sessions_own_runs_are_drawn_over_the_shipped_ones():
    """A new 2-epoch run sat under the shipped MLP's dashed line (the same first epochs)."""
    runs = [("#1 mine", meta()), ("Fashion-MNIST: MLP (shipped)", meta())]
    colours = compare.run_colours([name for name, _ in runs])
    ax = compare.curve_figure(compare.curve_frame(runs), colours).axes[0]
    z = {line.get_label(): line.get_zorder() for line in ax.lines}
    assert z["#1 mine"] > z["Fashion-MNIST: MLP (shipped)"]


def test_a_run_that_ends_while_compare_is_open_joins_the_chart():
    """Issue 26 item 6: the Compare tab did not list a run that ended while it was open until
    the tab was left and opened again. A new run is listed and chosen; runs the student
    unticked stay unticked; hostile values for the choice change nothing else."""
    from conftest import make_dataset

    from classifier.core.settings import TrainSettings
    from classifier.serving.session import Session
    from classifier.training.run import run_training
    from classifier.ui import compare_tab
    session = Session()
    session.dataset_key, session.uploaded = "upload", make_dataset(n_train=60, n_test=20)

    def train():
        session.add_run(run_training(session.uploaded, "mlp", TrainSettings(epochs=1, batch_size=16)),
                        take_home=False)
        return session.active_model

    first = train()
    runs, _, table = compare_tab.show_all(session, "epoch")
    assert first in runs["choices"] and first in runs["value"]
    shipped = [n for n in runs["value"] if n != first]
    chosen = [first]  # the student unticks the shipped models
    second = train()  # ends while the tab is open: the training's event refreshes it
    runs, _, table = compare_tab.show_comparison(session, "epoch", chosen)
    assert runs["value"] == [first, second] and not set(shipped) & set(runs["value"])
    assert list(table.data["run"]) == [first, second]
    runs, *_ = compare_tab.show_comparison(session, "epoch", [second])  # unticks the first
    assert runs["value"] == [second]  # a run it listed before stays unticked
    for hostile in ("not a list", 12, [None, {"x": 1}]):
        runs, *_ = compare_tab.show_comparison(session, "epoch", hostile)
        assert set(runs["value"]) <= set(runs["choices"])
