"""Cached base features: which models qualify, whole runs, and the same weights as end to end."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.models.registry import build_model
from classifier.models.storage import load_model
from classifier.training.loop import train
from classifier.training.run import run_training
from classifier.training.transfer import split_frozen, train_cached

SETTINGS = TrainSettings(epochs=2, batch_size=8, pretrained=False, seed=0, lr_schedule="constant",
                         steps_per_execution=1)


def _build(key, shape, classes=2, settings=SETTINGS):
    import keras
    keras.utils.set_random_seed(settings.seed)
    return build_model(key, shape, classes, settings)


@pytest.mark.parametrize("key", ["cnn", "cnn_aug", "cnn_pre", "mlp"])
def test_models_without_a_frozen_base_are_not_split(key):
    assert split_frozen(_build(key, (28, 28, 1))) is None


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_mobilenet_splits_after_its_base_and_shares_the_head(shape):
    model = _build("mobilenetv2", shape)
    features, head = split_frozen(model)
    assert features.output.shape[1:] == (3, 3, 1280)  # 96x96 inside the model
    head_layers = [type(layer).__name__ for layer in head.layers[1:]]
    assert head_layers == ["GlobalMaxPooling2D", "Dropout", "Dense", "Dense"]
    assert all(a is b for a, b in zip(head.layers[1:], model.layers[-4:]))  # shared, not copied
    x = make_dataset(n_train=4, n_test=1, shape=shape, classes=2).x_train
    np.testing.assert_allclose(head.predict(features.predict(x, verbose=0), verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


def test_mobilenet_with_augmentation_in_front_is_not_split():
    import keras
    model = _build("mobilenetv2", (32, 32, 3))
    inputs = keras.Input((32, 32, 3))
    augmented = keras.Model(inputs, model(keras.layers.RandomFlip()(inputs)))
    assert split_frozen(augmented) is None  # the base is inside `model`, not frozen itself
    assert split_frozen(keras.Sequential([keras.layers.RandomFlip(), *model.layers[1:]])) is None


def test_run_training_caches_features_streams_and_reloads(tmp_path):
    data = make_dataset(n_train=24, n_test=6, shape=(32, 32, 3), classes=2)
    points = []
    run = run_training(data, "mobilenetv2", SETTINGS, on_metrics=points.append)
    epochs = [p for p in points if p["kind"] == "epoch"]
    assert [p["epoch"] for p in epochs] == [1, 2] and run.result.epochs_done == 2
    assert all("val_accuracy" in p for p in epochs)
    assert all(a["seconds"] <= b["seconds"] for a, b in zip(points, points[1:]))
    assert run.result.epoch_seconds[0] == pytest.approx(epochs[0]["epoch_seconds"])
    # the model's own optimizer took the steps: 22 train images / batch 8 = 3 a epoch
    assert int(run.model.optimizer.iterations.numpy()) == 6
    run.save(tmp_path / "m")
    loaded, meta = load_model(tmp_path / "m")
    assert meta["epochs_done"] == 2
    np.testing.assert_array_equal(loaded.predict(data.x_test, verbose=0),
                                  run.model.predict(data.x_test, verbose=0))


def test_cached_training_learns_what_end_to_end_training_learns():
    data = make_dataset(n_train=32, n_test=8, shape=(32, 32, 3), classes=2)
    end_to_end = _build("mobilenetv2", data.image_shape)
    initial = end_to_end.get_weights()
    a = train(end_to_end, data, SETTINGS)
    cached = _build("mobilenetv2", data.image_shape)
    b = train_cached(cached, data, SETTINGS)
    # same seed, same shuffles, same dropout masks: the same weights (bit for bit on this CPU)
    moved = max(np.abs(w0 - w).max() for w0, w in zip(initial, end_to_end.get_weights()))
    assert moved > 1e-4
    for wa, wb in zip(end_to_end.get_weights(), cached.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-7)
    np.testing.assert_allclose(end_to_end.predict(data.x_test, verbose=0),
                               cached.predict(data.x_test, verbose=0), atol=1e-6)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-4)


def test_cached_training_refuses_a_model_it_cannot_split():
    with pytest.raises(ValueError, match="no frozen base.*classifier.training.loop.train"):
        train_cached(_build("cnn", (28, 28, 1)), make_dataset(n_train=8, n_test=2), SETTINGS)


def test_imagenet_weights_are_used_where_they_can_be_had(tmp_path, monkeypatch):
    """Offline and not cached: random weights, said so; in Keras' cache: ImageNet's, said so."""
    from classifier.models import pretrained
    from classifier.ui import words
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("CLASSIFIER_OFFLINE", "1")
    monkeypatch.setattr(pretrained, "_IMAGENET", {})
    assert pretrained.mobilenet_size((28, 28, 1)) == 96 and pretrained.mobilenet_size((160, 160, 3)) == 160
    assert not pretrained.imagenet_weights_ready(96)
    assert "random weights" in words.model_note("mobilenetv2", "own", False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5").write_bytes(b"x")
    assert pretrained.imagenet_weights_ready(96)  # found once it is there, though offline
    assert not pretrained.imagenet_weights_ready(160)
    assert "ImageNet's weights" in words.model_note("mobilenetv2", "own", True)
