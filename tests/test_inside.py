"""Inside the network: layer views checked against Keras sub-models, filters against the weights,
the picture's click map against its own boxes, and every layer named in words on the screen."""
import re

import numpy as np
import pytest

from classifier.core.settings import TrainSettings
from classifier.models.registry import MODELS, build_model, probability_model
from classifier.views.inside import first_layer_filters, layer_views
from classifier.views.network_pictures import (
    FONT,
    LINE,
    TITLE_PT,
    feature_map_figure,
    filters_picture,
    network_picture,
)

SHAPES = {"mobilenetv2": (32, 32, 3)}  # resized to 96x96 inside the model
KINDS = {"input", "conv", "pool", "activation", "norm", "dense", "scores", "other"}


def built(key, classes=3):
    shape = SHAPES.get(key, (28, 28, 1))
    return build_model(key, shape, classes, TrainSettings(pretrained=False)), shape


def pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(1, *shape)).astype(np.uint8)


def keras_output(model, name, batch):
    import keras
    sub = keras.Model(model.inputs, model.get_layer(name).output)
    return np.asarray(sub([batch.astype(np.float32)], training=False))[0]


def layers_by_name(model):
    """Every layer, those of a nested base too."""
    import keras
    out = {}
    for layer in model.layers:
        out[layer.name] = layer
        if isinstance(layer, keras.Model):
            out.update(layers_by_name(layer))
    return out


@pytest.mark.parametrize("key,names", [("cnn_bn", ["conv2d", "re_lu", "scores"]),
                                       ("mlp", ["dense", "scores"])])
def test_views_equal_a_keras_sub_model_of_each_layer(key, names):
    model, shape = built(key)
    batch = pixels(shape)
    views = layer_views(model, batch)
    for prefix in names:  # the first view whose layer name starts so (Keras numbers names)
        view = next(v for v in views if v.name.startswith(prefix))
        expected = keras_output(model, view.name, batch)
        assert view.values.dtype == np.float32 and view.shape == expected.shape
        np.testing.assert_allclose(view.values, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", ["mlp_logits", "cnn"])
def test_scores_are_the_probability_models_answer(key):
    model, shape = built(key)
    batch = pixels(shape, seed=1)
    scores = layer_views(model, batch)[-1]
    expected = np.asarray(probability_model(model).predict_on_batch(batch.astype(np.float32)))[0]
    assert scores.kind == "scores" and scores.name == "scores"
    assert abs(float(scores.values.sum()) - 1) < 1e-5 and scores.values.min() >= 0
    np.testing.assert_allclose(scores.values, expected, rtol=1e-5, atol=1e-6)


def test_filters_are_the_first_layers_weights():
    cnn, _ = built("cnn_bn")
    conv = next(layer for layer in cnn.layers if type(layer).__name__ == "Conv2D")
    kernel = conv.get_weights()[0]                       # (3, 3, 1, 32)
    filters = first_layer_filters(cnn)
    assert filters.layer == conv.name and filters.images.shape == (32, 3, 3, 1)
    for k in range(32):
        assert np.array_equal(filters.images[k], kernel[..., k])
    mlp, _ = built("mlp")
    first = next(layer for layer in mlp.layers if type(layer).__name__ == "Dense")
    dense = first.get_weights()[0]                       # (784, 128)
    filters = first_layer_filters(mlp)
    assert filters.images.shape == (128, 28, 28, 1) and "128 neurons" in filters.caption
    for k in (0, 77, 127):
        assert np.array_equal(filters.images[k], dense[:, k].reshape(28, 28, 1))
    tiles = filters_picture(filters)
    assert tiles.dtype == np.uint8 and tiles.ndim == 3 and tiles.shape[1] <= 1000


@pytest.mark.parametrize("key", list(MODELS))
def test_every_registry_model_shows_its_layers_strongest_first(key):
    model, shape = built(key)
    views = layer_views(model, pixels(shape))
    layers = layers_by_name(model)
    assert views[0].kind == "input" and views[-1].kind == "scores" and views[-1].shape == (3,)
    assert {v.kind for v in views} <= KINDS and len(views) >= 3
    for view in views[1:]:
        kind = type(layers[view.name]).__name__
        assert "Dropout" not in kind and kind not in ("Flatten", "Reshape", "InputLayer")
        assert not kind.startswith("Random")
        assert sorted(view.order.tolist()) == list(range(view.values.shape[-1]))
        strength = np.abs(view.values) if (view.values < 0).any() else view.values
        strength = strength.mean(axis=(0, 1)) if strength.ndim == 3 else strength
        assert np.all(np.diff(strength[view.order]) <= 0)
    if key == "mobilenetv2":  # a few of the base's first layers, then the base's output
        base = next(layer for layer in model.layers if hasattr(layer, "layers"))
        inside = [v for v in views if v.name in layers_by_name(base)]
        assert 1 <= len(inside) <= 6 and views[1 + len(inside)].name == base.name
        kernel = base.get_layer("Conv1").get_weights()[0]
        assert np.array_equal(first_layer_filters(model).images, kernel.transpose(3, 0, 1, 2))


def test_picture_clicks_map_back_to_view_and_channel():
    model, shape = built("cnn_bn")
    views = layer_views(model, pixels(shape))
    picture = network_picture(views, ["shirt", "shoe", "bag"], max_channels=8)
    height, width, _ = picture.image.shape
    assert picture.image.dtype == np.uint8 and 900 <= width <= 1000
    assert len(picture.headers) == len(views)
    for view, header in zip(views, picture.headers):
        assert header[4].startswith(view.title + " · ") and not raw(header[4])
        x0, y0, x1, y1 = header[:4]
        assert picture.at((x0 + x1) / 2, (y0 + y1) / 2) is None
    assert "+88 more" in picture.headers[-2][4]           # 96 maps, 8 shown
    for x0, y0, x1, y1, view, channel in picture.boxes:
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert picture.at((x0 + x1) // 2, (y0 + y1) // 2) == (view, channel)
    for index, view in enumerate(views):
        shown = [c for _, _, _, _, v, c in picture.boxes if v == index]
        expected = list(range(3)) if view.kind == "scores" else view.order[:8].tolist()
        assert shown == expected
    assert picture.at(-5, -5) is None and picture.at(width + 1, 10) is None


def test_feature_map_figure_for_a_map_and_a_unit():
    from matplotlib.figure import Figure
    model, shape = built("cnn")
    views = layer_views(model, pixels(shape))
    conv = next(v for v in views if v.kind == "conv")
    fig = feature_map_figure(conv, 5)
    title = fig.axes[0].title
    assert isinstance(fig, Figure) and "channel 5" in title.get_text()
    assert title.get_text().startswith("1st block: convolution\n") and not raw(title.get_text())
    assert title.get_fontsize() >= TITLE_PT >= 14                # read from the back of a room
    assert len(fig.axes) == 2                               # the map and its colour bar
    fig = feature_map_figure(views[-1], 1, ["a", "b", "c"])
    assert fig.axes[0].get_title() == "Scores (softmax)\nb: " + f"{views[-1].values[1]:.3g}"
    assert fig.axes[0].title.get_fontsize() >= 14
    with pytest.raises(ValueError, match="channel must be between 0 and 15"):
        feature_map_figure(conv, 16)


def test_views_follow_new_weights():
    model, shape = built("cnn_quick")
    batch = pixels(shape, seed=2)
    before = layer_views(model, batch)
    other, _ = built("cnn_quick")
    model.set_weights([w * 1.5 + 0.01 for w in other.get_weights()])
    after = layer_views(model, batch)
    stem = next(i for i, v in enumerate(after) if v.name == "stem")
    assert not np.allclose(before[stem].values, after[stem].values)
    np.testing.assert_allclose(after[stem].values, keras_output(model, "stem", batch),
                               rtol=1e-4, atol=1e-5)
    expected = np.asarray(model.predict_on_batch(batch.astype(np.float32)))[0]
    np.testing.assert_allclose(after[-1].values, expected, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- names in words (issue 26, 11)
RAW = re.compile(r"\w_\w|conv2d|re_?lu_|dense|pooling2d|batch_normalization|Conv1|expanded|"
                 r"mobilenetv2_|Functional", re.IGNORECASE)


def raw(text: str) -> bool:
    """True when `text` holds a Keras layer name ("re_lu_5", "conv2d_3", "dense_1", "Conv1")."""
    return bool(RAW.search(text))


def test_raw_spots_keras_names():
    for name in ("re_lu_5", "conv2d_3", "dense_1", "max_pooling2d_2", "batch_normalization_4",
                 "Conv1_relu", "expanded_conv_project_BN", "mobilenetv2_1.00_96", "dense"):
        assert raw(name), name
    assert not raw("2nd block: after batch norm and ReLU · 7x7x64 · maps, strongest first")


TITLES = {
    "mlp": ["Input", "Hidden layer (128 neurons)", "Scores (softmax)"],
    "mlp2": ["Input", "1st hidden layer (128 neurons)", "2nd hidden layer (128 neurons)",
             "Scores (softmax)"],
    "cnn_bn": ["Input", "1st block: convolution", "1st block: max pooling",
               "1st block: after batch norm and ReLU", "2nd block: convolution",
               "2nd block: max pooling", "2nd block: after batch norm and ReLU",
               "3rd block: convolution", "3rd block: max pooling",
               "3rd block: after batch norm and ReLU", "Scores (softmax)"],
    "cnn_aug": ["Input", "1st block: convolution", "1st block: max pooling",
                "2nd block: convolution", "2nd block: max pooling", "Hidden layer (64 neurons)",
                "Scores (softmax)"],
    "mobilenetv2": ["Input", "MobileNetV2, 1st block: convolution",  # weights=None, 32x32 input
                    "MobileNetV2, 1st block: after batch norm and ReLU6",
                    "MobileNetV2, 2nd block: depthwise convolution",
                    "MobileNetV2, 2nd block: after batch norm and ReLU6",
                    "MobileNetV2, 2nd block: 1x1 convolution", "MobileNetV2, 2nd block: batch norm",
                    "MobileNetV2's output", "Global max pooling", "Hidden layer (64 neurons)",
                    "Scores (softmax)"],
}


@pytest.mark.parametrize("key", sorted(TITLES))
def test_layers_are_named_in_words_by_kind_and_block(key):
    model, shape = built(key)
    views = layer_views(model, pixels(shape))
    assert [v.title for v in views] == TITLES[key]
    layers = layers_by_name(model)
    assert all(v.name in layers or v.kind == "input" for v in views)  # the Keras name, for code


@pytest.mark.parametrize("key", list(MODELS))
def test_no_keras_name_is_shown_for_any_model(key):
    """Every registry model (those trained on webcam classes too): the picture's headings, the
    enlarged maps' titles and the filters' caption hold words, no Keras name."""
    model, shape = built(key, classes=2)
    views = layer_views(model, pixels(shape))
    picture = network_picture(views, ["me", "my cup"])
    shown = [h[4] for h in picture.headers] + [first_layer_filters(model).caption]
    for index, view in enumerate(views):
        channel = next(c for *_, v, c in picture.boxes if v == index)
        shown.append(feature_map_figure(view, channel, ["me", "my cup"]).axes[0].get_title())
    assert not [text for text in shown if raw(text)]
    assert len({v.title for v in views}) == len(views)  # no two rows alike


def test_a_hand_made_model_is_named_too():
    """A Sequential of layers the registry does not use: its own names ("stem", "logits") are
    not shown either; logits before a Softmax layer are said so."""
    import keras
    L = keras.layers
    model = keras.Sequential([keras.Input((12, 12, 1)), L.Rescaling(1 / 255),
                              L.Conv2D(4, 3, name="stem"), L.LeakyReLU(),
                              L.AveragePooling2D(2), L.Conv2D(4, 1, activation="relu"),
                              L.GlobalAveragePooling2D(), L.Dense(8, activation="relu"),
                              L.Dense(3, name="logits"), L.Softmax(name="probs")])
    views = layer_views(model, pixels((12, 12, 1)))
    assert [v.title for v in views] == [
        "Input", "1st block: convolution", "1st block: after leaky ReLU",
        "1st block: average pooling", "2nd block: 1x1 convolution", "Global average pooling",
        "Hidden layer (8 neurons)", "Scores before softmax (logits)", "Scores (softmax)"]


def test_headings_are_large_enough_to_read_and_wrap_rather_than_overflow():
    from classifier.views.inside import LayerView
    from classifier.views.network_pictures import WIDTH, _font
    assert FONT >= 20 and LINE > FONT  # 0.72x on a 1280 px page: 14 px (test_browser_inside)
    model, shape = built("mobilenetv2")
    picture = network_picture(layer_views(model, pixels(shape)), ["cat", "dog"])
    for x0, y0, x1, y1, text in picture.headers:
        for line in text.split("\n"):
            assert _font().getlength(line) <= WIDTH
    long = LayerView("x", "pool", (2, 2, 1), np.zeros((2, 2, 1), np.float32), np.arange(1),
                     "a note long enough to need a line of its own " * 2, "A title " * 8)
    picture = network_picture([long], [])
    assert picture.headers[0][3] - picture.headers[0][1] >= 2 * LINE  # two lines, none cut
    assert picture.headers[0][4].count("\n") >= 1
