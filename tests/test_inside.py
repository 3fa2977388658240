"""Inside the network: layer views checked against Keras sub-models, filters against the weights,
and the picture's click map against its own boxes."""
import numpy as np
import pytest

from classifier.core.settings import TrainSettings
from classifier.models.registry import MODELS, build_model, probability_model
from classifier.views.inside import first_layer_filters, layer_views
from classifier.views.network_pictures import (
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
        assert header[4].startswith(view.name + " · ")
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
    assert isinstance(fig, Figure) and "channel 5" in fig.axes[0].get_title()
    assert len(fig.axes) == 2                               # the map and its colour bar
    fig = feature_map_figure(views[-1], 1, ["a", "b", "c"])
    assert "b" in fig.axes[0].get_title()
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
