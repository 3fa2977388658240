"""The "Inside the network" tab through the app's handlers: layers, filters by epoch, clicks."""
import os

os.environ.setdefault("CLASSIFIER_TRAINER", "inline")

import gradio as gr
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.images.preprocess import upscale
from classifier.serving.session import Session
from classifier.training.run import run_training
from classifier.ui import inside_tab
from classifier.views import inside

SNEAKER = "assets/examples/fashion-sneaker.png"


@pytest.fixture(scope="module")
def trained():
    """A session holding a 3-epoch Quick CNN run of its own (epoch weights kept)."""
    session = Session()
    run = run_training(make_dataset(n_train=96, n_test=12, classes=3), "cnn_quick",
                       TrainSettings(epochs=3, batch_size=16))
    session.add_run(run, take_home=False)
    session.active_model = session.model_names()[0]
    yield session
    session.close()


def test_the_filters_change_with_the_epoch_slider_and_are_that_epochs_weights(trained):
    first = inside_tab.show_inside(trained, "test", 1)
    last = inside_tab.show_inside(trained, "test", 3)
    assert "after epoch 1" in first[0] and "after epoch" not in last[0]
    assert not np.array_equal(first[3], last[3])
    kernel = trained.epoch_weights(trained.active_model)[0][0]  # the stem's kernel, epoch 1
    shown = inside_tab.screen(trained).network[0]
    predictor = trained.predictor(trained.active_model)
    at_one = predictor.using(trained.weights_at(trained.active_model, 1), inside.first_layer_filters)
    assert np.array_equal(at_one.images, np.transpose(kernel, (3, 0, 1, 2)))
    assert shown[-1].kind == "scores" and shown[-1].values.sum() == pytest.approx(1, abs=1e-5)


def test_a_drawing_is_seen_as_predict_sees_it(trained):
    s = Session()
    s.active_model, s.last_image = "Fashion-MNIST: our CNN (shipped)", SNEAKER
    text, picture, enlarged, filters, caption = inside_tab.show_inside(s, "drawing", 0)
    views = inside_tab.screen(s).network[0]
    predictor = s.predictor(s.active_model)
    seen = predictor.prepare(SNEAKER).batch
    assert np.allclose(views[-1].values, predictor.probabilities(seen)[0], atol=1e-5)
    assert "Sneaker" in text and picture.shape[1] > 900 and enlarged is None
    assert "3x3" in caption and filters.ndim == 3


def test_a_click_on_a_map_enlarges_that_map(trained):
    inside_tab.show_inside(trained, "test", 0)
    views, picture, _ = inside_tab.screen(trained).network
    x0, y0, x1, y1, view, channel = next(b for b in picture.boxes if views[b[4]].kind == "conv")
    event = type("Select", (), {"index": [(x0 + x1) / 2, (y0 + y1) / 2]})()
    figure = inside_tab.enlarge_map(trained, event)
    assert f"{views[view].name}, channel {channel}" in figure.axes[0].get_title()
    for index in ([5, 2], None, ["a", "b"], [1e12, 1e12], [1, 2, 3]):  # a heading, garbage
        assert inside_tab.enlarge_map(trained, type("Select", (), {"index": index})()) is None


def test_no_drawing_yet_or_hostile_values_get_a_message():
    s = Session()
    s.active_model = "Fashion-MNIST: MLP (shipped)"
    assert inside_tab.show_inside(s, "drawing", 0)[0].startswith("draw or upload")
    assert "input must be one of" in inside_tab.show_inside(s, "../etc", 0)[0]
    assert "epoch must be" in inside_tab.show_inside(s, "test", "nan")[0]
    s.active_model = "no such model"
    assert "pick a model" in inside_tab.show_inside(s, "test", 0)[0]


def test_another_test_image_moves_on():
    s = Session()
    s.active_model = "Fashion-MNIST: MLP (shipped)"
    before = inside_tab.show_inside(s, "test", 0)[0]
    assert inside_tab.another_test_image(s) == "test"
    assert inside_tab.show_inside(s, "test", 0)[0] != before


def test_the_map_places_the_drawing_and_a_click_names_that_test_image():
    s = Session()
    s.active_model, s.last_image = "Fashion-MNIST: MLP (shipped)", SNEAKER
    picture, _, text = inside_tab.show_map(s, "Fashion-MNIST: our CNN (shipped)", "pca", 0)
    assert picture.shape[1] >= 1000 and "Click a dot" in text
    shown, maps = inside_tab.screen(s).map
    (_, first), (_, second) = maps
    assert len(first.points) == len(second.points) == 2000
    x, y = shown.panels[1].to_pixels(second.points[7:8])[0]
    image, words = inside_tab.show_map_point(s, type("Select", (), {"index": [x, y]})())
    data = s.dataset_of("Fashion-MNIST: MLP (shipped)")
    i = second.indices[7]
    assert np.array_equal(image, upscale(data.x_test[i], 196))
    assert f"Test image {i:,}" in words and "our CNN" in words
    assert inside_tab.show_map(s, None, "pca", 0)[0].shape[1] < picture.shape[1]  # one panel, kept map
    with pytest.raises(gr.Error, match="projection must be one of"):
        inside_tab.show_map(s, None, "umap", 0)
