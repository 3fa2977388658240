"""evaluation.py checked against numbers worked out by hand from made-up probabilities."""
import math

import numpy as np
import pytest
from conftest import make_dataset

from classifier.inference.evaluation import Evaluation, evaluate, predict_probabilities

NAMES = ["cat", "dog", "bird"]
# index: true class, probabilities -> predicted class (confidence), right or wrong
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
PROBS = np.array([
    [0.70, 0.20, 0.10],  # 0: cat  -> cat  (0.7) right
    [0.10, 0.70, 0.20],  # 1: cat  -> dog  (0.7) wrong
    [0.05, 0.90, 0.05],  # 2: dog  -> dog  (0.9) right
    [0.80, 0.10, 0.10],  # 3: dog  -> cat  (0.8) wrong
    [0.20, 0.30, 0.50],  # 4: bird -> bird (0.5) right
    [0.25, 0.70, 0.05],  # 5: bird -> dog  (0.7) wrong
    [0.10, 0.10, 0.80],  # 6: bird -> bird (0.8) right
])


@pytest.fixture
def ev():
    return Evaluation(list(NAMES), Y_TRUE.copy(), PROBS.copy())


def test_predictions_and_confidence(ev):
    assert ev.y_pred.tolist() == [0, 1, 1, 0, 2, 1, 2]
    np.testing.assert_allclose(ev.confidence, [0.7, 0.7, 0.9, 0.8, 0.5, 0.7, 0.8])


def test_accuracy_is_the_share_right(ev):
    assert ev.accuracy == pytest.approx(4 / 7)  # 0, 2, 4 and 6


def test_loss_is_mean_negative_log_of_the_true_class(ev):
    p_true = [0.70, 0.10, 0.90, 0.10, 0.50, 0.05, 0.80]
    assert ev.loss == pytest.approx(-sum(math.log(p) for p in p_true) / 7)


def test_loss_of_a_zero_probability_is_clipped_not_infinite():
    ev = Evaluation(["a", "b"], np.array([0, 1]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert ev.loss == pytest.approx(-math.log(1e-7) / 2)  # -log(1e-7) for the first, 0 for the second


def test_confusion_matrix_rows_true_columns_predicted(ev):
    cm = ev.confusion_matrix()
    assert cm.tolist() == [[1, 1, 0],   # cats: 1 called cat, 1 called dog
                           [1, 1, 0],   # dogs: 1 called cat, 1 called dog
                           [0, 1, 2]]   # birds: 1 called dog, 2 called bird
    assert cm.sum() == len(Y_TRUE) and np.trace(cm) == 4


def test_per_class_accuracy(ev):
    assert ev.per_class_accuracy() == pytest.approx({"cat": 1 / 2, "dog": 1 / 2, "bird": 2 / 3})


def test_per_class_accuracy_of_a_class_with_no_test_images_is_nan():
    ev = Evaluation(["a", "b", "c"], np.array([0, 1]), np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1]]))
    acc = ev.per_class_accuracy()
    assert acc["a"] == 1.0 and acc["b"] == 0.0 and math.isnan(acc["c"])
    assert ev.confusion_matrix().tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_mistakes_most_confident_first(ev):
    # wrong: 3 (0.8), 1 (0.7), 5 (0.7); equal confidence keeps index order
    assert ev.mistakes().tolist() == [3, 1, 5]
    assert ev.mistakes(2).tolist() == [3, 1]
    assert ev.mistakes(0).tolist() == []


def test_no_mistakes():
    ev = Evaluation(["a", "b"], np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert ev.mistakes().tolist() == [] and ev.accuracy == 1.0


def test_pair_sorted_by_confidence(ev):
    assert ev.pair(2, 2).tolist() == [6, 4]  # 0.8 before 0.5, though 4 comes first
    assert ev.pair(0, 1).tolist() == [1]
    assert ev.pair(1, 0).tolist() == [3]
    assert ev.pair(2, 1).tolist() == [5]
    assert ev.pair(0, 2).tolist() == []
    everything = sorted(i for t in range(3) for p in range(3) for i in ev.pair(t, p))
    assert everything == list(range(len(Y_TRUE)))


def test_sample_size_uniqueness_and_determinism():
    n = 100
    ev = Evaluation(["a", "b"], np.arange(n) % 2, np.tile([0.6, 0.4], (n, 1)))
    picked = ev.sample(25, seed=3)
    assert len(picked) == 25 and len(set(picked.tolist())) == 25
    assert ((0 <= picked) & (picked < n)).all()
    assert ev.sample(25, seed=3).tolist() == picked.tolist()
    assert ev.sample(25, seed=4).tolist() != picked.tolist()
    assert sorted(ev.sample(500).tolist()) == list(range(n))  # k above N: every index once


def test_small_sample(ev):
    assert sorted(ev.sample(25).tolist()) == list(range(7))
    assert len(ev.sample(3)) == 3


def test_summary(ev):
    s = ev.summary()
    assert s["test_accuracy"] == ev.accuracy and s["test_loss"] == ev.loss
    assert s["per_class_accuracy"] == ev.per_class_accuracy()


# --- a real (tiny) model ----------------------------------------------------------------

def test_evaluate_a_logits_model_gives_probabilities():
    import keras

    from classifier.models.registry import build_model, outputs_logits
    keras.utils.set_random_seed(0)
    data = make_dataset(n_train=8, n_test=12, shape=(8, 8, 1), classes=3)
    model = build_model("mlp_logits", data.image_shape, 3)
    scores = model.layers[-1]
    scores.bias.assign(np.array([3.0, 1.0, 0.0], np.float32))  # logits far from summing to 1
    assert outputs_logits(model)
    logits = np.asarray(model.predict_on_batch(data.x_test))
    assert not np.allclose(logits.sum(axis=1), 1.0, atol=0.1)

    ev = evaluate(model, data)
    assert ev.class_names == data.class_names and ev.y_true.dtype == np.int64
    np.testing.assert_array_equal(ev.y_true, data.y_test)
    assert ev.probabilities.shape == (12, 3)
    assert (ev.probabilities >= 0).all()
    np.testing.assert_allclose(ev.probabilities.sum(axis=1), 1.0, atol=1e-5)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ev.probabilities, softmax, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(ev.y_pred, logits.argmax(axis=1))
    assert 0.0 <= ev.accuracy <= 1.0 and np.isfinite(ev.loss)
    assert predict_probabilities(model, data.x_test[:0]).shape == (0, 3)


def test_empty_test_set_gives_nan_without_warnings():
    import warnings
    ev = Evaluation(["a", "b"], np.zeros(0, np.int64), np.zeros((0, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(ev.accuracy) and np.isnan(ev.loss)
