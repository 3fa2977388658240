"""Every registry model builds, trains a step, saves, reloads and predicts the same numbers."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.inference.predict import Predictor
from classifier.models.registry import (
    MODELS,
    build_model,
    outputs_logits,
    probability_model,
)
from classifier.models.storage import load_model, save_model
from classifier.training.loop import train

SHAPES = {"mobilenetv2": [(28, 28, 1), (32, 32, 3)]}


@pytest.mark.parametrize("key,shape", [(k, s) for k in MODELS for s in SHAPES.get(k, [(28, 28, 1)])])
def test_build_train_save_reload_predict(key, shape, tmp_path):
    data = make_dataset(n_train=16, n_test=8, shape=shape, classes=3)
    settings = TrainSettings(epochs=1, batch_size=8, pretrained=False, steps_per_execution=2)
    model = build_model(key, shape, 3, settings, data.x_train)
    result = train(model, data, settings)
    assert result.epochs_done == 1 and np.isfinite(result.history["loss"][0])
    save_model(model, tmp_path / "m", {"class_names": data.class_names, "style": "plain"})
    again, meta = load_model(tmp_path / "m")
    assert meta["class_names"] == data.class_names and meta["parameters"] == model.count_params()
    x = data.x_test.astype(np.float32)
    before = np.asarray(probability_model(model).predict_on_batch(x))
    after = np.asarray(probability_model(again).predict_on_batch(x))
    np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(before.sum(axis=1), 1.0, atol=1e-5)
    assert before.shape == (8, 3)


def test_registry_describes_every_model():
    for spec in MODELS.values():
        assert spec.title and spec.description and spec.default_epochs >= 1 and spec.datasets
    assert set(MODELS) == {"mlp", "mlp_logits", "mlp2", "cnn", "cnn_aug", "cnn_pre",
                           "mobilenetv2", "cnn_bn", "cnn_quick"}
    assert all(0 <= spec.warmup < 1 for spec in MODELS.values())


def test_recipes_have_the_tutorial_layers():
    mlp = build_model("mlp", (28, 28, 1), 10)
    assert [type(l).__name__ for l in mlp.layers] == ["InputLayer", "Rescaling", "Flatten", "Dense", "Dense"]
    assert mlp.layers[-2].units == 128 and mlp.count_params() == 101_770
    cnn = build_model("cnn", (28, 28, 1), 10)
    convs = [l.filters for l in cnn.layers if type(l).__name__ == "Conv2D"]
    assert convs == [16, 32] and cnn.layers[-1].activation.__name__ == "softmax"
    assert any(type(l).__name__ == "Dropout" and l.rate == 0.3 for l in cnn.layers)
    aug = build_model("cnn_aug", (28, 28, 1), 10)
    assert {"RandomFlip", "RandomRotation"} <= {type(l).__name__ for l in aug.layers}
    assert build_model("cnn_bn", (28, 28, 1), 10).count_params() < 100_000


def test_logits_model_gets_a_softmax_for_predictions():
    model = build_model("mlp_logits", (28, 28, 1), 4)
    assert outputs_logits(model) and not outputs_logits(build_model("mlp", (28, 28, 1), 4))
    x = np.random.default_rng(0).integers(0, 255, (5, 28, 28, 1)).astype(np.float32)
    logits = np.asarray(model.predict_on_batch(x))
    probs = np.asarray(probability_model(model).predict_on_batch(x))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-5)


def test_mlp2_standardises_with_training_statistics():
    x = np.full((10, 28, 28, 1), 100, np.uint8)
    x[:5] = 50
    model = build_model("mlp2", (28, 28, 1), 10, x_train=x)
    norm = model.get_layer("standardise")
    out = np.asarray(norm(np.array([[75.0]], np.float32)))
    assert abs(float(out.ravel()[0])) < 1e-4  # the mean maps to 0
    assert model.loss == "categorical_crossentropy"


def test_unknown_model_and_bad_class_count_are_clear():
    with pytest.raises(ValueError, match="unknown model 'nope'.*mlp"):
        build_model("nope", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model("mlp", (28, 28, 1), 1)


def test_mobilenet_offline_says_so(monkeypatch):
    import keras

    def no_network(*a, **k):
        raise Exception("URL fetch failure")
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.applications.mobilenet_v2.file_utils.get_file", no_network)
    with pytest.raises(ValueError, match="ImageNet weights.*random"):
        build_model("mobilenetv2", (32, 32, 3), 2, TrainSettings(pretrained=True))


def test_predictor_from_saved_folder(tmp_path):
    data = make_dataset(n_train=16, n_test=4)
    model = build_model("mlp", (28, 28, 1), 3)
    save_model(model, tmp_path / "m", {"class_names": data.class_names, "style": "fashion"})
    pred = Predictor.from_folder(tmp_path / "m").predict(data.x_test[0][..., 0] * 0 + np.eye(28, dtype=np.uint8) * 255)
    assert list(pred.probabilities) == data.class_names
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-9
    assert pred.seen.shape == (28, 28) and pred.seen.dtype == np.uint8


def test_the_quick_cnn_halves_the_image_first_and_keeps_a_7x7_map():
    """cnn_quick: a 5x5 stride-2 stem (28 -> 14), one pool-first block (14 -> 7), BN everywhere,
    a Dense(64) head: what its docstring says each part buys."""
    model = build_model("cnn_quick", (28, 28, 1), 10)
    stem = model.get_layer("stem")
    assert stem.kernel_size == (5, 5) and stem.strides == (2, 2) and stem.output.shape[1:3] == (14, 14)
    names = [type(l).__name__ for l in model.layers]
    second_conv = [i for i, n in enumerate(names) if n == "Conv2D"][1]
    assert names[second_conv:second_conv + 4] == ["Conv2D", "MaxPooling2D", "BatchNormalization",
                                                  "ReLU"]  # pool first
    flat = next(l for l in model.layers if type(l).__name__ == "Flatten")
    assert flat.input.shape[1:] == (7, 7, 32)
    assert [l.units for l in model.layers if type(l).__name__ == "Dense"] == [64, 10]
    assert all(l.momentum == 0.9 for l in model.layers if type(l).__name__ == "BatchNormalization")
