"""What the app draws: curves, score bars, sample grids."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.images.preprocess import upscale
from classifier.views import figures


def test_curve_frames_have_both_series_from_the_first_frame():
    batch = {"kind": "batch", "epoch": 1, "step": 5, "steps": 10, "accuracy": 0.5, "loss": 1.2}
    acc, loss = figures.curve_frames([batch])
    assert set(acc.series) == {"training", "validation"}  # the plot's colours are fixed on first draw
    assert acc[acc.series == "validation"].accuracy.isna().all()
    assert acc[acc.series == "training"].epoch.tolist() == [0.5]
    epoch = {"kind": "epoch", "epoch": 1, "val_accuracy": 0.8, "val_loss": 0.5}
    acc, loss = figures.curve_frames([batch, epoch])
    assert max(acc[acc.series == "validation"].values.tolist()) == [1.0, 0.8, "validation"]
    assert set(loss[loss.series == "validation"].loss) == {0.5}


def test_probability_frame_marks_the_top_class():
    frame = figures.probability_frame({"a": 0.2, "b": 0.7, "c": 0.1})
    assert frame["answer"].tolist() == ["other", "top answer", "other"]
    assert abs(frame.probability.sum() - 1) < 1e-9


def test_upscale_is_nearest_neighbour():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    big = upscale(img, 6)
    assert big.shape == (6, 6) and (big[:3, :3] == 0).all() and (big[3:, 3:] == 3).all()


def test_sample_grid_filters_one_class():
    d = make_dataset(n_train=30, classes=3)
    idx = figures.sample_indices(d, 25, class_index=2)
    assert len(idx) == 10 and (d.y_train[idx] == 2).all()
    assert {caption for _, caption in figures.sample_grid(d, idx)} == {"class 2"}


NAMES = ["cat", "dog", "bird"]
CM = np.array([[50, 3, 0], [7, 40, 1], [0, 2, 45]])


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_per_class_figure_fills_trained_epochs_only():
    points = [{"kind": "batch", "epoch": 1, "step": 1, "steps": 2},
              {"kind": "epoch", "epoch": 1, "val_per_class": [0.5, 1.0, 0.25]},
              {"kind": "epoch", "epoch": 2, "val_per_class": [0.6, 0.9, 0.125]}]
    fig = figures.per_class_figure(points, NAMES, epochs=5)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the heat-map and its colorbar
    grid = ax.images[0].get_array()
    assert grid.shape == (3, 5)
    assert grid[:, 0].tolist() == [0.5, 1.0, 0.25] and grid.mask[:, 2:].all()
    assert ax.images[0].get_cmap().name == "RdYlGn" and ax.images[0].get_clim() == (0, 1)
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert _texts(ax) == ["50", "60", "100", "90", "25", "12"]  # row by row, in %


def test_per_class_figure_leaves_unknown_classes_blank():
    points = [{"epoch": 1, "val_per_class": [0.5, float("nan"), None]},
              {"epoch": 2, "val_per_class": [1.0]}]  # a class missing from validation; a short list
    ax = figures.per_class_figure(points, NAMES, epochs=2).axes[0]
    grid = ax.images[0].get_array()
    assert grid.mask.tolist() == [[False, False], [True, True], [True, True]]
    assert _texts(ax) == ["50", "100"]


def test_per_class_figure_skips_cell_text_for_many_epochs():
    points = [{"epoch": e, "val_per_class": [0.5, 0.5, 0.5]} for e in range(1, 31)]
    ax = figures.per_class_figure(points, NAMES, epochs=50).axes[0]
    assert ax.images[0].get_array().shape == (3, 50) and _texts(ax) == []


def test_per_class_figure_placeholder_before_the_first_epoch():
    for points in ([], [{"kind": "epoch", "epoch": 1, "val_accuracy": 0.5}]):
        fig = figures.per_class_figure(points, NAMES, epochs=5)
        assert fig.axes == [] and "after each epoch" in fig.texts[0].get_text()


def test_confusion_frame_maps_a_click_to_a_pair():
    frame = figures.confusion_frame(CM, NAMES)
    assert frame.columns.tolist() == ["true \\ predicted", *NAMES]
    assert frame.iloc[:, 0].tolist() == NAMES
    # a click on row i, column j + 1 is the pair (true i, predicted j)
    assert frame.iat[1, 0 + 1] == 7 and frame.iat[2, 2 + 1] == 45
    with pytest.raises(ValueError, match="3x3"):
        figures.confusion_frame(CM[:2], NAMES)


def test_confusion_styler_shades_what_gradio_sends():
    import gradio as gr
    sent = gr.Dataframe(interactive=False).postprocess(figures.confusion_styler(CM, NAMES))
    styling = sent.metadata["styling"]
    assert sent.headers == ["true \\ predicted", *NAMES] and sent.data[1] == ["dog", 7, 40, 1]
    assert styling[0][0] == "font-weight: bold"
    assert styling[0][1].startswith("background-color: rgba(34, 160, 70")  # right: green
    assert styling[1][1] == "background-color: rgba(220, 40, 40, 0.80)"   # largest mistake
    assert styling[0][2] == "background-color: rgba(220, 40, 40, 0.40)"   # 3 of 7
    assert styling[0][3] == ""  # no images: no colour


def test_pair_figure_shows_images_with_their_bars():
    from matplotlib.colors import to_rgba
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(15, 8, 8, 1), dtype=np.uint8)
    probs = np.tile([0.1, 0.2, 0.7], (15, 1))
    fig = figures.pair_figure(images, probs, NAMES, "dog", "bird")
    (ax,) = fig.axes
    assert len(ax.images) == 12 and len(ax.containers) == 12  # max_images, each with its bars
    assert (ax.images[3].get_array() == images[3, ..., 0]).all()
    assert _texts(ax) == ["70%"] * 12  # each image's confidence
    bars = ax.containers[0].patches
    assert [round(b.get_width(), 2) for b in bars] == [0.1, 0.2, 0.7]
    assert [b.get_facecolor() for b in bars] == [to_rgba(c) for c in ("0.7", "tab:blue", "tab:red")]
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES * 2  # one set per row of 6
    assert "12 of 15" in fig.get_suptitle()
    right = figures.pair_figure(images[:2], probs[:2], NAMES, "bird", "bird")
    assert len(right.axes[0].images) == 2
    assert right.axes[0].containers[1].patches[2].get_facecolor() == to_rgba("tab:green")


def test_pair_figure_empty_pair_and_mismatch():
    fig = figures.pair_figure(np.zeros((0, 8, 8, 1)), np.zeros((0, 3)), NAMES, "dog", "bird")
    assert fig.axes == [] and fig.texts[0].get_text() == "No test image was dog predicted as bird."
    with pytest.raises(ValueError, match="2 images but 1"):
        figures.pair_figure(np.zeros((2, 8, 8, 1)), np.zeros((1, 3)), NAMES, "dog", "bird")


def test_a_one_epoch_validation_point_is_drawn_as_a_short_dash():
    """A line plot draws no lone point: one epoch's validation value gets a level dash ending at it."""
    batch = {"kind": "batch", "epoch": 1, "step": 10, "steps": 10, "accuracy": 0.7, "loss": 0.9}
    epoch = {"kind": "epoch", "epoch": 1, "val_accuracy": 0.8, "val_loss": 0.5}
    acc, loss = figures.curve_frames([batch, epoch])
    val = acc[acc.series == "validation"].sort_values("epoch")
    assert val.epoch.tolist() == [1 - figures.DASH, 1.0] and val.accuracy.tolist() == [0.8, 0.8]
    assert loss[loss.series == "validation"].loss.tolist() == [0.5, 0.5]
    two = figures.curve_frames([batch, epoch, {**epoch, "epoch": 2, "val_accuracy": 0.9}])[0]
    assert two[two.series == "validation"].epoch.tolist() == [1.0, 2.0]  # a real line: no dash


def test_a_one_epoch_heat_map_has_one_whole_epoch_tick():
    points = [{"kind": "epoch", "epoch": 1, "val_per_class": [0.5, 1.0, 0.25]}]
    fig = figures.per_class_figure(points, NAMES, epochs=1)
    ax = fig.axes[0]
    shown = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert shown and all(float(t).is_integer() for t in shown), shown
