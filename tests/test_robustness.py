"""What breaks it: transforms checked against numpy references, sweeps against direct predictions."""
import math

import numpy as np
import pytest

from classifier.views import robustness as rb


def picture(shape=(28, 28), seed=0) -> np.ndarray:
    """A random image with a black frame, so nothing bright is at the border."""
    img = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    img[:3], img[-3:], img[:, :3], img[:, -3:] = 0, 0, 0, 0
    return img


def rolled(img: np.ndarray, down: int, right: int) -> np.ndarray:
    """np.roll with what wraps around set to 0."""
    out = np.roll(img, (down, right), axis=(0, 1))
    if down:
        out[(slice(None, down) if down > 0 else slice(down, None))] = 0
    if right:
        out[:, (slice(None, right) if right > 0 else slice(right, None))] = 0
    return out


WEIGHTS = np.random.default_rng(1).normal(size=(28 * 28, 4))


def linear_model(batch: np.ndarray) -> np.ndarray:
    """A deterministic 4-class softmax model; checks it gets what Predictor.probabilities gets."""
    assert batch.dtype == np.uint8 and batch.shape[1:] == (28, 28, 1)
    logits = batch.reshape(len(batch), -1) / 255.0 @ WEIGHTS
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["shift_right", "rotate", "blur"])
def test_sweep_points_equal_direct_predictions_from_one_batch(kind):
    img, calls = picture(), []
    s = rb.sweep(lambda b: calls.append(len(b)) or linear_model(b), img, kind)
    assert calls == [len(s.values) + 1]  # the untouched image and every value, one batch
    assert s.values.tolist() == rb.TRANSFORMS[kind].sweep_values().tolist()
    assert s.class_index == int(np.argmax(linear_model(img[None, :, :, None])[0]))
    for v, conf, top in zip(s.values, s.confidence, s.top):
        p = linear_model(rb.transform(img, kind, v)[None, :, :, None])[0]
        assert conf == pytest.approx(p[s.class_index], abs=1e-12) and top == np.argmax(p)
    followed = rb.sweep(linear_model, img, kind, values=[3, 0], class_index=2)
    assert followed.class_index == 2 and followed.values.tolist() == [0, 3]


def test_sweep_through_a_keras_mlp():
    from classifier.core.settings import TrainSettings
    from classifier.models.registry import build_model
    model = build_model("mlp", (28, 28, 1), 3, TrainSettings(pretrained=False))
    predict = lambda b: np.asarray(model.predict_on_batch(b.astype(np.float32)), np.float64)
    img = picture()
    s = rb.sweep(predict, img, "shift_down")
    direct = predict(np.stack([rb.transform(img, "shift_down", v) for v in s.values])[..., None])
    assert np.allclose(s.confidence, direct[:, s.class_index], atol=1e-6)
    assert (s.top == direct.argmax(axis=1)).all()


@pytest.mark.parametrize("k", [-3, 1, 5])
def test_whole_pixel_shifts_are_zero_filled_rolls(k):
    img = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    assert (rb.transform(img, "shift_right", k) == rolled(img, 0, k)).all()
    assert (rb.transform(img, "shift_down", k) == rolled(img, k, 0)).all()
    assert (rb.apply(img, shift_right=k, shift_down=-2) == rolled(img, -2, k)).all()


def test_neutral_amounts_are_the_identity():
    img = np.random.default_rng(3).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    for kind, t in rb.TRANSFORMS.items():
        assert (rb.transform(img, kind, t.neutral) == img).all(), kind
    assert (rb.apply(img) == img).all() and rb.apply(img) is not img


def test_quarter_turns_match_rot90_and_positive_is_anticlockwise():
    img = picture(seed=4)
    for degrees, k in [(90, 1), (-90, -1), (180, 2)]:
        turned = rb.transform(img, "rotate", degrees).astype(int)
        diff = np.abs(turned - np.rot90(img, k))[1:-1, 1:-1]
        assert diff.max() <= 1, degrees


def test_scale_is_about_the_centre_with_a_black_fill():
    white = np.full((28, 28), 255, np.uint8)
    half = rb.transform(white, "scale", 0.5)
    assert (half[8:20, 8:20] == 255).all()
    assert half[:6].max() == 0 and half[-6:].max() == 0 and half[:, :6].max() == 0
    assert (rb.transform(white, "scale", 1.5) == 255).all()


def test_blur_is_gaussian_and_keeps_the_total_away_from_the_border():
    dot = np.zeros((28, 28), np.uint8)
    dot[14, 14] = 255
    out = rb.transform(dot, "blur", 1.0).astype(float)
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    assert out[14, 13:16] == pytest.approx(np.rint(255 * np.outer(g, g)[3, 2:5] / g.sum() ** 2))
    assert abs(out.sum() - 255) < 12 and (out == out.T).all()


def test_erase_zeroes_exactly_the_centre_square():
    img = np.full((28, 28, 3), 200, np.uint8)
    out = rb.transform(img, "erase", 6)
    expected = img.copy()
    expected[11:17, 11:17] = 0
    assert (out == expected).all()


def test_noise_is_seeded_and_has_the_asked_std():
    grey = np.full((64, 64), 128, np.uint8)
    a, b = rb.transform(grey, "noise", 30), rb.transform(grey, "noise", 30)
    assert (a == b).all() and not (a == rb.transform(grey, "noise", 30, seed=1)).all()
    assert np.std(a.astype(float) - 128) == pytest.approx(30, rel=0.05)


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (64, 64, 3)])
def test_shape_and_dtype_are_kept(shape):
    img = picture(shape)
    outs = [rb.transform(img, kind, t.high) for kind, t in rb.TRANSFORMS.items()]
    outs.append(rb.apply(img, scale=0.8, rotate=30, shift_right=2.5, blur=1, noise=20, erase=4))
    assert all(o.shape == shape and o.dtype == np.uint8 for o in outs)


def test_holds_is_the_contiguous_range_around_neutral():
    values = np.arange(-3.0, 4.0)
    s = rb.Sweep("shift_right", values, np.full(7, 0.5), np.array([1, 0, 0, 0, 0, 2, 0]), 0)
    assert s.holds() == (-2.0, 1.0)
    assert rb.Sweep("shift_right", values, s.confidence, np.zeros(7, int), 0).holds() == (-3, 3)
    assert rb.Sweep("shift_right", values, s.confidence, np.ones(7, int), 0).holds() is None
    scale = rb.Sweep("scale", np.array([0.5, 0.9, 1.2]), np.ones(3), np.array([1, 0, 0]), 0)
    assert scale.holds() == (0.9, 1.2)  # 0.9 is the value nearest neutral (1)


@pytest.mark.parametrize("kind, amount, message", [
    ("rotate", 200, r"rotate must be a number from -180 to 180 degrees, got 200"),
    ("shift_right", -11, r"from -10 to 10 px, got -11"),
    ("scale", 0.0, r"scale factor must be a number from 0.4x to 1.6x, got 0"),
    ("blur", math.nan, r"got nan"),
    ("noise", math.inf, r"from 0 to 150 grey levels, got inf"),
    ("erase", -math.inf, r"got -inf"),
    ("erase", "big", r"got 'big'"),
    ("twist", 1, r"unknown transform 'twist': use one of shift_right, shift_down, rotate"),
])
def test_bad_kinds_and_amounts_say_what_is_allowed(kind, amount, message):
    img = picture()
    with pytest.raises(ValueError, match=message):
        rb.transform(img, kind, amount)
    with pytest.raises(ValueError, match=message):
        rb.apply(img, **{kind: amount})
    with pytest.raises(ValueError, match=message):
        rb.sweep(linear_model, img, kind, values=[amount])


def test_bad_images_and_class_index_are_refused():
    with pytest.raises(ValueError, match=r"uint8 image .* got float64 array of shape \(28, 28\)"):
        rb.transform(np.zeros((28, 28)), "blur", 1)
    with pytest.raises(ValueError, match=r"class_index must be from 0 to 3, got 4"):
        rb.sweep(linear_model, picture(), "blur", class_index=4)


def test_figure_has_a_line_per_model_and_names_the_class():
    img, names = picture(), ["cat", "dog", "bird", "fish"]
    mlp = rb.sweep(linear_model, img, "shift_right")
    cnn = rb.sweep(lambda b: linear_model(b[:, :, ::-1]), img, "shift_right", class_index=mlp.class_index)
    fig = rb.sweep_figure([("MLP", mlp), ("CNN", cnn)], names)
    ax = fig.axes[0]
    assert len([line for line in ax.get_lines() if line.get_linestyle() == "-"]) == 2
    assert ax.get_title() == f"Confidence in '{names[mlp.class_index]}' as the image shifts right"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    lo, hi = mlp.holds()
    assert legend[0] == f"MLP: holds from {lo:g} to {hi:g} px"
    assert legend[1].startswith("CNN: ")


def test_strip_shows_every_other_value_side_by_side():
    img = picture()
    out = rb.strip(img, "shift_right", size=56)  # 17 values: -8, -6, ..., 8
    assert out.shape == (56, 9 * 56 + 8 * 2) and out.dtype == np.uint8
    first = np.repeat(np.repeat(rb.transform(img, "shift_right", -8), 2, 0), 2, 1)
    assert (out[:, :56] == first).all() and (out[:, 56:58] == 128).all()
    assert rb.strip(picture((64, 64, 3)), "rotate", size=64).shape == (64, 7 * 64 + 6 * 2, 3)
