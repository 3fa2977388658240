"""Arrays fed to Keras by `classifier.batches` (issue 10): every epoch a new order, each image
once, the same orders for the same seed."""
import keras
import numpy as np
import pytest

from classifier.data.batches import batches


def epochs_of(data, n):
    """What `n` passes over `data` deal, as lists of index batches (Keras starts one per epoch)."""
    return [[np.asarray(b[0] if isinstance(b, tuple) else b).ravel().tolist() for b in data]
            for _ in range(n)]


def test_each_epoch_deals_every_image_once_in_a_new_order():
    keras.utils.set_random_seed(3)
    x = np.arange(100).reshape(100, 1)
    passes = epochs_of(batches(x, x * 10, batch_size=8, shuffle=True), 3)
    for dealt in passes:
        assert [len(b) for b in dealt] == [8] * 12 + [4]  # the last batch short
        assert sorted(sum(dealt, [])) == list(range(100))
    assert passes[0] != passes[1] != passes[2]  # Keras' own array feeding repeats its order


def test_the_same_seed_deals_the_same_orders():
    x = np.arange(50).reshape(50, 1)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        runs.append(epochs_of(batches(x, batch_size=5, shuffle=True), 2))
    assert runs[0] == runs[1]


def test_labels_travel_with_their_images_and_order_is_kept_without_shuffle():
    x = np.arange(30, dtype=np.uint8).reshape(30, 1, 1)
    y = np.arange(30) * 2
    dealt = list(batches(x, y, batch_size=7, shuffle=True))
    for xb, yb in dealt:
        assert np.array_equal(np.asarray(xb).ravel() * 2, np.asarray(yb))
        assert np.asarray(xb).dtype == np.uint8
    in_order = [np.asarray(b).ravel().tolist() for b in batches(x, batch_size=7)]
    assert sum(in_order, []) == list(range(30))


@pytest.mark.parametrize("key", ["mlp", "cnn_quick"])
def test_a_model_scores_batches_as_it_scores_the_arrays(key):
    from conftest import make_dataset

    from classifier.inference.evaluation import predict_probabilities
    from classifier.models.registry import build_model
    data = make_dataset(n_train=20, n_test=37)
    model = build_model(key, data.image_shape, data.num_classes)
    direct = np.asarray(model(data.x_test, training=False))
    assert np.allclose(predict_probabilities(model, data.x_test, batch_size=8), direct, atol=1e-5)
