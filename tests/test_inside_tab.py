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


def value(update):
    """The value an output update carries (a picture's update also shows or hides it)."""
    return update["value"] if isinstance(update, dict) else update


def test_the_filters_change_with_the_epoch_slider_and_are_that_epochs_weights(trained):
    first = inside_tab.show_inside(trained, "test", 1)
    last = inside_tab.show_inside(trained, "test", 3)
    assert "weights after epoch 1 of 3," in first[0] and "after epoch 1" not in last[0]
    assert "weights after the last epoch (3)," in last[0]
    assert not np.array_equal(value(first[3]), value(last[3]))
    kernel = trained.epoch_weights(trained.active_model)[0][0]  # the stem's kernel, epoch 1
    shown = inside_tab.screen(trained).network[0]
    predictor = trained.predictor(trained.active_model)
    at_one = predictor.using(trained.weights_at(trained.active_model, 1), inside.first_layer_filters)
    assert np.array_equal(at_one.images, np.transpose(kernel, (3, 0, 1, 2)))
    assert shown[-1].kind == "scores" and shown[-1].values.sum() == pytest.approx(1, abs=1e-5)


def test_a_drawing_is_seen_as_predict_sees_it(trained):
    s = Session()
    s.active_model, s.last_image = "Fashion-MNIST: our CNN (shipped)", SNEAKER
    text, picture, enlarged, filters, caption, network_hint, enlarged_hint = \
        inside_tab.show_inside(s, "drawing", 0)
    views = inside_tab.screen(s).network[0]
    predictor = s.predictor(s.active_model)
    seen = predictor.prepare(SNEAKER).batch
    assert np.allclose(views[-1].values, predictor.probabilities(seen)[0], atol=1e-5)
    assert "Sneaker" in text and "weights" not in text  # a shipped model: no epochs to name
    assert value(picture).shape[1] > 900 and picture["visible"]
    assert enlarged == {"__type__": "update", "value": None, "visible": False}
    assert "3x3" in caption and value(filters).ndim == 3 and filters["visible"]
    assert network_hint["visible"] is False and enlarged_hint["visible"] is True


def test_a_click_on_a_map_enlarges_that_map(trained):
    inside_tab.show_inside(trained, "test", 0)
    views, picture, _ = inside_tab.screen(trained).network
    x0, y0, x1, y1, view, channel = next(b for b in picture.boxes if views[b[4]].kind == "conv")
    event = type("Select", (), {"index": [(x0 + x1) / 2, (y0 + y1) / 2]})()
    figure, hint = inside_tab.enlarge_map(trained, event)
    title = value(figure).axes[0].get_title()
    assert title.startswith(f"{views[view].title}\nchannel {channel}: ")
    assert views[view].title == "1st block: convolution" and views[view].name not in title
    assert figure["visible"] and hint == {"__type__": "update", "visible": False}
    assert figure["label"] == f"Enlarged: 1st block: convolution, channel {channel}"
    for index in ([5, 2], None, ["a", "b"], [1e12, 1e12], [1, 2, 3]):  # a heading, garbage
        unchanged = inside_tab.enlarge_map(trained, type("Select", (), {"index": index})())
        assert unchanged == ({"__type__": "update"}, {"__type__": "update"})


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
    picture, point, text, hint = inside_tab.show_map(s, "Fashion-MNIST: our CNN (shipped)", "pca", 0)
    picture = value(picture)
    assert picture.shape[1] >= 1000 and "Click a dot" in text and "weights" not in text
    assert point["visible"] is False and hint["visible"] is False
    shown, maps = inside_tab.screen(s).map
    (_, first), (_, second) = maps
    assert len(first.points) == len(second.points) == 2000
    x, y = shown.panels[1].to_pixels(second.points[7:8])[0]
    image, words = inside_tab.show_map_point(s, type("Select", (), {"index": [x, y]})())
    data = s.dataset_of("Fashion-MNIST: MLP (shipped)")
    i = second.indices[7]
    assert np.array_equal(value(image), upscale(data.x_test[i], 196)) and image["visible"]
    assert f"Test image {i:,}" in words and "our CNN" in words
    assert value(inside_tab.show_map(s, None, "pca", 0)[0]).shape[1] < picture.shape[1]  # one panel, kept map
    with pytest.raises(gr.Error, match="projection must be one of"):
        inside_tab.show_map(s, None, "umap", 0)


def test_the_map_says_which_epochs_weights_it_uses_and_uses_them(trained, monkeypatch):
    """Issue 26, 4: the run's name says "3 epochs"; at the slider's epoch 1 the map's caption and
    its panel's title say epoch 1, and the map is that epoch's (its test answers are)."""
    from classifier.views import test_map
    drawn, real = [], test_map.map_picture
    monkeypatch.setattr(test_map, "map_picture", lambda maps, *a, **k:
                        drawn.append([title for title, _ in maps]) or real(maps, *a, **k))
    name = trained.active_model
    assert ", 3 epochs," in name
    _, _, text, _ = inside_tab.show_map(trained, None, "pca", 1)
    assert "weights after epoch 1 of 3 (the epoch slider above)" in text
    assert drawn[-1] == [inside_tab.short_name(name) + "\nweights after epoch 1 of 3"]
    at_one = inside_tab.screen(trained).map[1][0][1]
    predictor, data = trained.predictor(name), trained.dataset_of(name)
    expected = predictor.using(trained.weights_at(name, 1), lambda model: test_map.test_map(
        model, data, 2000, "pca"))
    np.testing.assert_array_equal(at_one.predicted, expected.predicted)
    np.testing.assert_allclose(at_one.points, expected.points, rtol=1e-4, atol=1e-4)
    _, _, text, _ = inside_tab.show_map(trained, None, "pca", 3)
    assert "weights after the last epoch (3)" in text and "epoch 1" not in text
    assert drawn[-1] == [inside_tab.short_name(name) + "\nweights after the last epoch (3)"]
    at_three = inside_tab.screen(trained).map[1][0][1]
    assert not np.allclose(at_one.points, at_three.points)



def test_each_picture_is_hidden_behind_a_sentence_until_it_exists():
    """Issue 26, 5: before a map is clicked its place says so; no empty figure box."""
    with gr.Blocks():
        ins = inside_tab.create()
    pictures = [ins.network, ins.enlarged, ins.map_image, ins.point[0], *ins.outputs[3:4]]
    assert all(p.visible is False for p in pictures)
    hints = {m.value for m in [*ins.outputs[4:], ins.map_outputs[3], ins.point[1]]}
    assert {inside_tab.NETWORK_HINT, inside_tab.ENLARGE_HINT, inside_tab.FILTERS_HINT,
            inside_tab.MAP_HINT, inside_tab.POINT_HINT} <= hints
    assert "Click a map" in inside_tab.ENLARGE_HINT and "enlarged here" in inside_tab.ENLARGE_HINT
    s = Session()
    s.active_model = "Fashion-MNIST: MLP (shipped)"
    message = inside_tab.show_inside(s, "drawing", 0)  # nothing drawn: hints, no boxes
    assert [m["visible"] for m in message[1:4]] == [False, False, False]
    assert message[4] == inside_tab.FILTERS_HINT and message[5]["visible"] and message[6]["visible"]
