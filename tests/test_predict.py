"""Predicting with the weights of an earlier epoch, beside the live model."""
import threading

import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.inference.predict import Predictor
from classifier.models.registry import build_model
from classifier.training.loop import train


def _train(key: str):
    """A model trained 2 epochs on tiny data, its result and an image to ask it about."""
    import keras
    data = make_dataset(n_train=48, n_test=4, classes=3, style="plain")
    settings = TrainSettings(epochs=2, batch_size=16)
    keras.utils.set_random_seed(0)
    model = build_model(key, data.image_shape, data.num_classes, settings)
    return model, train(model, data, settings), data.x_test[0]


@pytest.fixture(scope="module")
def mlp_run():
    return _train("mlp")


def _predictor(model) -> Predictor:
    return Predictor(model, ["class 0", "class 1", "class 2"], "plain")


def _probabilities(prediction) -> np.ndarray:
    return np.array(list(prediction.probabilities.values()))


@pytest.mark.parametrize("key", ["mlp", "mlp_logits"])
def test_last_epoch_weights_answer_as_the_model_does_and_the_first_do_not(key, mlp_run):
    model, result, image = mlp_run if key == "mlp" else _train(key)
    predictor = _predictor(model)
    live = _probabilities(predictor.predict(image))
    first, last = result.epoch_weights
    np.testing.assert_allclose(_probabilities(predictor.predict_with_weights(image, last)), live,
                               atol=1e-6)
    at_first = _probabilities(predictor.predict_with_weights(image, first))
    assert at_first.sum() == pytest.approx(1.0) and not np.allclose(at_first, live, atol=1e-4)
    np.testing.assert_array_equal(_probabilities(predictor.predict(image)), live)  # untouched
    for a, b in zip(predictor.trained.get_weights(), last):
        np.testing.assert_array_equal(a, b)


def test_the_model_is_copied_once(monkeypatch, mlp_run):
    import keras
    model, result, image = mlp_run
    predictor = _predictor(model)
    clones = []
    real_clone = keras.models.clone_model
    monkeypatch.setattr(keras.models, "clone_model", lambda m: clones.append(m) or real_clone(m))
    for weights in [*result.epoch_weights, *result.epoch_weights]:
        predictor.predict_with_weights(image, weights)
    assert len(clones) == 1


def test_threads_get_the_weights_they_asked_for(mlp_run):
    model, result, image = mlp_run
    predictor = _predictor(model)
    expected = [_probabilities(predictor.predict_with_weights(image, w))
                for w in result.epoch_weights]
    wrong = []

    def ask(k: int) -> None:
        for _ in range(5):
            got = _probabilities(predictor.predict_with_weights(image, result.epoch_weights[k]))
            wrong.extend([] if np.allclose(got, expected[k], atol=1e-6) else [k])
    threads = [threading.Thread(target=ask, args=(k % 2,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_weights_of_another_model_are_refused(mlp_run):
    model, result, image = mlp_run
    predictor = _predictor(model)
    with pytest.raises(ValueError, match="got 2 weight arrays, but model 'mlp' has 4"):
        predictor.predict_with_weights(image, result.epoch_weights[0][:2])


def test_an_answer_reads_and_cleans_its_image_once(monkeypatch):
    """Issue 23, item 4: the Predict tab's answer, its saliency and its merely-shrunk answer come
    from one decoding of the file and one clean-up."""
    from classifier.images import cleanup, preprocess
    from classifier.serving.session import shipped_predictor
    predictor = shipped_predictor("Fashion-MNIST: MLP (shipped)")
    counts = {"read": 0, "garment": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        return call
    monkeypatch.setattr(preprocess, "_read", counted("read", preprocess._read))
    monkeypatch.setattr(cleanup, "garment", counted("garment", cleanup.garment))
    answer = predictor.answer("assets/examples/fashion-sneaker.png")
    assert counts == {"read": 1, "garment": 1}
    assert answer.prediction.label == "Sneaker" and answer.why.heat.shape[:2] == (28, 28)
    assert answer.shrunk.seen.shape[:2] == (28, 28)
    np.testing.assert_allclose(list(answer.prediction.probabilities.values()),
                               list(predictor.predict("assets/examples/fashion-sneaker.png").probabilities.values()),
                               atol=1e-5)


def test_a_digits_answer_that_changes_for_the_picture_smaller_is_not_sure(monkeypatch):
    """Issue 27: a digit on paper is the same digit from further away, while the digits'
    clean-up finds other strokes in a photo at another size: an answer that does not hold for
    the picture shrunk to each of STEADY_AT (or finds nothing there) is "not sure"."""
    from PIL import Image

    from classifier.images.errors import BLANK, BlankImage
    from classifier.inference import predict
    from classifier.serving.session import shipped_predictor
    predictor = shipped_predictor("MNIST digits: CNN (shipped)")
    three, six = (Image.open(f"assets/examples/digit-{d}.png").convert("L").resize((200, 200))
                  for d in (3, 6))
    real, asked = predict.prepare, []

    def seen_as(picture, at: float):  # the picture shrunk to `at` cleaned up as `picture`, or nothing
        def prepare(source, *args):
            if isinstance(source, Image.Image) and source.size not in ((200, 200), (28, 28)):
                asked.append(source.size)
                if source.size == (round(200 * at),) * 2:
                    if picture is None:
                        raise BlankImage(BLANK)
                    return real(picture, *args)
            return real(source, *args)
        return prepare
    monkeypatch.setattr(predict, "prepare", seen_as(None, 0))
    assert predictor.predict(three).label == "3" and not predictor.predict(three).unsure
    assert predictor.answer(three).prediction.unsure is False
    assert sorted(set(asked)) == sorted((round(200 * s),) * 2 for s in predict.STEADY_AT["mnist"])
    asked.clear()
    small = predictor.predict("assets/examples/digit-3.png")  # 28x28: no smaller picture to read
    assert small.label == "3" and not small.unsure and asked == []
    for picture in (six, None):
        for at in predict.STEADY_AT["mnist"]:
            monkeypatch.setattr(predict, "prepare", seen_as(picture, at))
            assert predictor.predict(three).label == "3" and predictor.predict(three).unsure
            answer = predictor.answer(three)
            assert answer.prediction.label == "3" and answer.prediction.unsure
            assert not answer.shrunk.unsure  # the merely shrunk answer is not checked
    monkeypatch.setattr(predict, "STEADY_AT", {})  # the check, and only it, made them unsure
    assert not predictor.predict(three).unsure


@pytest.mark.parametrize("mode", ["1", "P", "PA", "LA", "RGBA", "CMYK", "F"])
def test_a_digit_in_any_image_mode_stays_the_same_sure_digit_further_away(mode):
    """Shrinking a palette picture blends its indices, not its colours (a 'PA' digit came out
    blank at every smaller size and was called "not sure")."""
    from PIL import Image

    from classifier.serving.session import shipped_predictor
    predictor = shipped_predictor("MNIST digits: CNN (shipped)")
    dark_on_white = Image.eval(Image.open("assets/examples/digit-3.png").convert("L").resize((200, 200)),
                               lambda v: 255 - v)
    answer = predictor.predict(dark_on_white.convert(mode))
    assert answer.label == "3" and not answer.unsure
