"""The test-set map: features, PCA, t-SNE placement, the clickable picture, checked against
references computed here (Keras sub-models, numpy's SVD, brute-force neighbours, pixels)."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.models.registry import build_model, probability_model
from classifier.views import test_map as tm

NAMES = ["Ankle boot", "Bag", "Coat"]


@pytest.fixture(scope="module")
def data():
    return make_dataset(n_train=16, n_test=300)


@pytest.fixture(scope="module")
def models():
    import keras
    keras.utils.set_random_seed(0)
    return {key: build_model(key, (28, 28, 1), 3, TrainSettings(pretrained=False))
            for key in ("mlp", "mlp_logits", "cnn_quick")}


@pytest.fixture(scope="module")
def maps(models, data):
    return {key: tm.test_map(models[key], data, n=200) for key in ("mlp", "cnn_quick")}


def hand_map(points, labels, predicted=None, method="PCA") -> tm.TestMap:
    """A map built by hand: points placed where a test wants them."""
    points = np.asarray(points, np.float32)
    labels = np.asarray(labels)
    n = len(points)
    return tm.TestMap(points, np.arange(n) + 7, labels,
                      labels if predicted is None else np.asarray(predicted), np.full(n, 0.71),
                      method, np.array([0.6, 0.3]) if method == "PCA" else None,
                      points.copy(), np.zeros(2, np.float32), np.eye(2, dtype=np.float32))


@pytest.mark.parametrize("key", ["mlp", "cnn_quick"])
def test_features_are_the_last_layers_input(models, data, key):
    import keras
    model = models[key]
    x = data.x_test[:50]
    reference = keras.Model(model.inputs, model.layers[-1].input).predict_on_batch(
        x.astype(np.float32))
    features = tm.penultimate_features(model, x, batch_size=16)  # short last chunk too
    assert features.dtype == np.float32 and features.shape == reference.shape
    np.testing.assert_allclose(features, reference, rtol=1e-5, atol=1e-5)


def test_features_follow_training_and_unwrap_probability_models(data):
    model = build_model("mlp_logits", (28, 28, 1), 3, TrainSettings(pretrained=False))
    before = tm.penultimate_features(probability_model(model), data.x_test[:8])
    np.testing.assert_allclose(tm.penultimate_features(model, data.x_test[:8]), before, atol=1e-6)
    hidden = model.layers[-2]
    hidden.kernel.assign(np.zeros(hidden.kernel.shape, np.float32))
    hidden.bias.assign(np.full(hidden.bias.shape, 0.5, np.float32))
    np.testing.assert_allclose(tm.penultimate_features(model, data.x_test[:8]), 0.5)  # relu(0.5)


@pytest.mark.parametrize("key", ["mlp", "mlp_logits"])
def test_answers_equal_the_probability_model(models, data, key):
    tmap = tm.test_map(models[key], data, n=120)
    probs = np.asarray(probability_model(models[key]).predict_on_batch(
        data.x_test[tmap.indices].astype(np.float32)))
    np.testing.assert_allclose(tmap.confidence, probs.max(axis=1), rtol=1e-5, atol=1e-6)
    ranked = np.sort(probs, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] > 1e-4  # no near-tie that rounding could flip
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(tmap.predicted[clear], probs.argmax(axis=1)[clear])
    np.testing.assert_array_equal(tmap.labels, data.y_test[tmap.indices])


def test_pca_points_match_numpys_svd(maps, models, data):
    tmap = maps["cnn_quick"]
    features = tm.penultimate_features(models["cnn_quick"], data.x_test[tmap.indices])
    np.testing.assert_allclose(tmap.features, features, atol=1e-5)
    centred = features.astype(np.float64) - features.astype(np.float64).mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2] * np.sign(vt[:2][[0, 1], np.abs(vt[:2]).argmax(axis=1)])[:, None]
    scale = np.abs(centred @ axes.T).max()
    np.testing.assert_allclose(tmap.points, centred @ axes.T, atol=1e-4 * scale)
    np.testing.assert_allclose(tmap.explained, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-4)
    assert 0 < tmap.explained[1] <= tmap.explained[0] <= 1
    assert tmap.method == "PCA" and tmap.explained.sum() <= 1


def test_project_gives_back_the_points(maps):
    for tmap in maps.values():
        np.testing.assert_allclose(tmap.project(tmap.features), tmap.points,
                                   atol=1e-4 * np.abs(tmap.points).max())


def test_sample_is_stratified_and_seeded():
    labels = np.array([0] * 900 + [1] * 100)
    picked = tm.sample_indices(labels, 200, seed=3)
    assert len(np.unique(picked)) == 200 and np.all(np.diff(picked) > 0)
    assert np.bincount(labels[picked]).tolist() == [180, 20]
    np.testing.assert_array_equal(picked, tm.sample_indices(labels, 200, seed=3))
    assert not np.array_equal(picked, tm.sample_indices(labels, 200, seed=4))
    np.testing.assert_array_equal(tm.sample_indices(labels, 5000), np.arange(1000))


def test_tsne_is_seeded_and_places_new_images_by_neighbours(models, data):
    a = tm.test_map(models["mlp"], data, method="t-SNE", seed=1)
    b = tm.test_map(models["mlp"], data, method="tsne", seed=1)
    assert a.method == "t-SNE" and a.explained is None and "nearest" in a.note
    assert a.points.shape == (300, 2)
    np.testing.assert_array_equal(a.points, b.points)
    new = tm.penultimate_features(models["mlp"], data.x_test[:2]) + 0.01
    distances = np.linalg.norm(a.features[None] - new[:, None], axis=2)
    expected = a.points[np.argsort(distances, axis=1)[:, :tm.NEIGHBOURS]].mean(axis=1)
    np.testing.assert_allclose(a.project(new), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="'pca' or 'tsne'.*'umap'"):
        tm.test_map(models["mlp"], data, method="umap")


def test_separation_known_answers():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [20, 0], [0, 20]])
    labels = np.repeat([0, 1, 2], 100)
    points = centres[labels] + rng.normal(size=(300, 2))
    assert tm.separation(hand_map(points, labels)) == 1.0
    assert tm.separation(hand_map(points, rng.integers(0, 3, 300))) < 0.5
    pairs = hand_map([[0, 0], [0, 1], [10, 10], [10, 11]], [0, 0, 1, 0])
    assert tm.separation(pairs) == 0.5


def test_describe_point():
    tmap = hand_map([[0, 0], [1, 1]], [0, 2], predicted=[1, 2])
    wrong = "Test image 7: an Ankle boot, answered Bag (71%) ✗"
    assert tm.describe_point(tmap, 0, NAMES) == wrong
    assert tm.describe_point(tmap, 1, NAMES) == "Test image 8: a Coat, answered Coat (71%) ✓"


def drawn_at(picture, box, colour) -> np.ndarray:
    """Where a dot of `colour` (alpha 0.75 on white) was drawn inside `box`: its pixels' centre."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    crop = picture.image[y0:y1, x0:x1].astype(int)
    ys, xs = np.nonzero(np.abs(crop - (0.75 * rgb + 0.25 * 255)).max(axis=2) < 12)
    assert len(xs), f"no dot of {colour} drawn"
    return np.array([x0 + xs.mean(), y0 + ys.mean()])


def test_a_click_finds_the_point_drawn_there():
    left = hand_map([[0, 0], [10, 0], [5, 10]], [0, 1, 2])
    right = hand_map([[3, 8], [-4, -2], [1, 1]], [2, 0, 1])
    picture = tm.map_picture([("left", left), ("right", right)], NAMES)
    assert picture.image.dtype == np.uint8 and picture.image.shape[2] == 3
    for k, tmap in enumerate((left, right)):
        box = picture.panels[k].box
        for i, label in enumerate(tmap.labels):
            x, y = drawn_at(picture, box, tm.PALETTE[label])
            assert picture.nearest(int(x), int(y)) == (k, i)
            assert picture.nearest(int(x) + 5, int(y) - 5) == (k, i)
        assert picture.nearest(box[0] + 3, box[1] + 3) is None  # inside, far from every dot
    assert picture.nearest(2, 2) is None  # the margin
    assert picture.nearest(picture.image.shape[1] - 3, picture.image.shape[0] // 2) is None


def test_map_picture_of_real_maps_draws_the_star(maps, models, data):
    stars = [tm.place_image(models[key], maps[key], data.x_test[0]) for key in ("mlp", "cnn_quick")]
    picture = tm.map_picture([("MLP", maps["mlp"]), ("CNN", maps["cnn_quick"])], NAMES, stars)
    assert len(picture.panels) == 2
    for panel, star in zip(picture.panels, stars):
        x, y = panel.to_pixels(star[None])[0]
        assert picture.image[int(y), int(x)].max() < 60  # the star's black centre
    with pytest.raises(ValueError, match="1 or 2 maps"):
        tm.map_picture([], NAMES)
