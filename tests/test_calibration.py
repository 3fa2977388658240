"""Saying "I am not sure" (classifier/inference/calibration.py) and where it shows."""
import json

import numpy as np
import pytest

from classifier.cli import main
from classifier.images.errors import BlankImage
from classifier.inference import calibration
from classifier.inference.predict import Predictor


def overconfident(n=2000, seed=0):
    """Probabilities of a model right 80% of the time yet 99% sure of every answer."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    answers = np.where(rng.random(n) < 0.8, labels, (labels + 1) % 4)
    p = np.full((n, 4), 0.01 / 3)
    p[np.arange(n), answers] = 0.99
    return p, labels


def test_temperature_scaling_makes_an_overconfident_model_honest():
    p, y = overconfident()
    t = calibration.fit_temperature(p, y)
    assert t > 1  # flatter
    assert calibration.scaled(p, t).max(axis=1).mean() == pytest.approx(0.8, abs=0.02)
    assert np.array_equal(calibration.scaled(p, t).argmax(1), p.argmax(1))  # same answers
    assert calibration.fit_temperature(calibration.scaled(p, t), y) == pytest.approx(1, rel=0.03)


def test_the_threshold_keeps_the_asked_share_of_right_answers_sure():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 500)
    p = rng.dirichlet([1, 1, 1], 500)
    p[np.arange(500), y] += 1.5
    p /= p.sum(1, keepdims=True)
    cal = calibration.calibrate(p, y, "the test", keep=0.95)
    right = p.argmax(1) == y
    sure = ~cal.unsure(p)
    assert sure[right].mean() >= 0.95 and cal.kept >= 0.95
    assert sure[right].mean() < 0.97  # not a threshold of 0
    rates = calibration.unsure_rates(cal, p, y)
    assert rates["right"] == pytest.approx(1 - sure[right].mean())
    assert calibration.Calibration.from_dict(cal.to_dict()) == cal


def test_the_digits_model_says_so_for_garments_and_not_for_its_test_digits(tmp_path, capsys):
    """The shipped MNIST model, calibrated on a copy: the command's own rates, then the answers."""
    import shutil
    folder = tmp_path / "mnist_cnn"
    shutil.copytree("assets/models/mnist_cnn", folder)
    assert main(["calibrate", "--model", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["unsure_rates"]["test images"]["right"] < 0.03
    assert out["unsure_rates"]["fashion_mnist images"]["all"] > 0.3
    predictor = Predictor.from_folder(folder)
    assert predictor.calibration.temperature == out["calibration"]["temperature"]
    from classifier.data.datasets import load_dataset
    digits = load_dataset("mnist")
    sure = [not predictor.predict(x[..., 0]).unsure for x in digits.x_test[:50]]
    assert np.mean(sure) >= 0.9


def test_the_answer_says_it_is_not_sure():
    from classifier.inference.predict import Prediction
    from classifier.ui import words
    p = Prediction({"0": 0.4, "1": 0.35, "2": 0.25}, np.zeros((28, 28)), False, unsure=True)
    assert "**I am not sure**: this does not look like the digits" in words.top_line(p, 0.5, "mnist")
    p.unsure = False
    assert "Low confidence" in words.top_line(p, 0.5, "mnist")


def test_a_model_that_trained_on_every_image_is_calibrated_on_the_test_set(tmp_path, capsys):
    from conftest import make_dataset

    from classifier.core.settings import TrainSettings
    from classifier.data import datasets
    from classifier.training.run import run_training
    data = make_dataset(n_train=60, n_test=30)
    run = run_training(data, "mlp", TrainSettings(epochs=3, validation_split=0.0))
    folder = run.save(tmp_path / "all")
    import unittest.mock as mock
    with mock.patch.object(datasets, "load_dataset", lambda key: data):
        assert main(["calibrate", "--model", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["calibration"]["measured_on"].startswith("the 30 test images")


def test_ink_share_and_the_training_range():
    images = np.zeros((4, 28, 28, 1), np.uint8)
    images[1, :7] = 255  # a quarter of the pixels
    images[2, :14] = 26  # half, just above the ink level
    images[3, :14] = 25  # at the level: not ink
    np.testing.assert_allclose(calibration.ink_share(images), [0, 0.25, 0.5, 0])
    assert calibration.ink_share(images[1, ..., 0]) == 0.25
    low, high = calibration.ink_range(np.repeat(images[1:3], 500, axis=0))
    assert low == pytest.approx(0.25) and high == pytest.approx(0.5)


def test_an_input_unlike_the_training_images_is_unsure_even_when_the_softmax_is_sure():
    p, y = overconfident()
    train = np.zeros((100, 28, 28), np.uint8)
    train[:, 10:18, 10:18] = 255  # 8% ink, every one
    cal = calibration.calibrate(p, y, "the test", train_images=train)
    assert cal.ink_range == pytest.approx([64 / 784, 64 / 784])
    full = np.full((28, 28), 128, np.uint8)  # noise after the clean-up: a grey square
    assert cal.unlike_training(full) and not cal.unlike_training(train[0])
    assert calibration.Calibration.from_dict(cal.to_dict()) == cal
    old = calibration.Calibration.from_dict({k: v for k, v in cal.to_dict().items() if k != "ink_range"})
    assert old.ink_range is None and not old.unlike_training(full)  # metadata from before: not checked
    rates = calibration.unsure_rates(cal, p[:2], y[:2], np.stack([full, train[0]]))
    assert rates["all"] == 0.5


@pytest.mark.parametrize("folder", ["mnist_cnn", "fashion_cnn_bn"])
def test_the_shipped_models_are_unsure_of_uniform_noise(folder):
    predictor = Predictor.from_folder(f"assets/models/{folder}")
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (280, 280, 3), dtype=np.uint8) for _ in range(5)]
    for n in noise:  # "not sure", or nothing to read: the garments' clean-up finds no item in it
        try:
            assert predictor.predict(n).unsure
        except BlankImage:
            assert folder == "fashion_cnn_bn"
