"""What the app draws: curves, score bars, sample grids."""
import numpy as np

from classifier import figures
from conftest import make_dataset


def test_curve_frames_have_both_series_from_the_first_frame():
    batch = {"kind": "batch", "epoch": 1, "step": 5, "steps": 10, "accuracy": 0.5, "loss": 1.2}
    acc, loss = figures.curve_frames([batch])
    assert set(acc.series) == {"training", "validation"}  # the plot's colours are fixed on first draw
    assert acc[acc.series == "validation"].accuracy.isna().all()
    assert acc[acc.series == "training"].epoch.tolist() == [0.5]
    epoch = {"kind": "epoch", "epoch": 1, "val_accuracy": 0.8, "val_loss": 0.5}
    acc, loss = figures.curve_frames([batch, epoch])
    assert acc[acc.series == "validation"].values.tolist() == [[1.0, 0.8, "validation"]]
    assert loss[loss.series == "validation"].loss.tolist() == [0.5]


def test_probability_frame_marks_the_top_class():
    frame = figures.probability_frame({"a": 0.2, "b": 0.7, "c": 0.1})
    assert frame["answer"].tolist() == ["other", "top answer", "other"]
    assert abs(frame.probability.sum() - 1) < 1e-9


def test_upscale_is_nearest_neighbour():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    big = figures.upscale(img, 6)
    assert big.shape == (6, 6) and (big[:3, :3] == 0).all() and (big[3:, 3:] == 3).all()


def test_sample_grid_filters_one_class():
    d = make_dataset(n_train=30, classes=3)
    idx = figures.sample_indices(d, 25, class_index=2)
    assert len(idx) == 10 and (d.y_train[idx] == 2).all()
    assert {caption for _, caption in figures.sample_grid(d, idx)} == {"class 2"}
