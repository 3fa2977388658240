"""Saliency maps checked against models whose answer depends only on known pixels."""
import matplotlib
import numpy as np
import pytest

from classifier.core.settings import TrainSettings
from classifier.inference.saliency import overlay, saliency
from classifier.models.registry import MODELS, build_model, probability_model

# Two 6x6 patches, placed so that a transposed map would miss both.
PATCH_A = (slice(4, 10), slice(16, 22))
PATCH_B = (slice(18, 24), slice(2, 8))
# Two quadrants: top-right and its transpose, bottom-left.
TOP_RIGHT = (slice(0, 14), slice(14, 28))
BOTTOM_LEFT = (slice(14, 28), slice(0, 14))


def share_inside(heat, region) -> float:
    """The part of the heat map's mass that lies inside `region`."""
    return float(heat[region].sum() / heat.sum())


def argmax_inside(heat, region) -> bool:
    r, c = np.unravel_index(np.argmax(heat), heat.shape)
    return region[0].start <= r < region[0].stop and region[1].start <= c < region[1].stop


def bright_noise(seed=0, shape=(1, 28, 28, 1)):
    """Pixels 50-255 everywhere, so only the model can make a region matter."""
    return np.random.default_rng(seed).integers(50, 256, size=shape).astype(np.uint8)


def patch_mlp(kind: str):
    """Flatten -> Dense(10): class 0 reads only PATCH_A, class 1 (a little weaker) PATCH_B.
    The logits are close, so a map of the probability's gradient would spread over both."""
    import keras
    mask = np.zeros((28, 28), np.float32)
    kernel = np.zeros((28 * 28, 10), np.float32)
    for cls, patch, weight in ((0, PATCH_A, 1.0), (1, PATCH_B, 0.9)):
        mask[:] = 0
        mask[patch] = weight
        kernel[:, cls] = mask.ravel()
    dense = keras.layers.Dense(10, activation="softmax" if kind == "softmax" else None)
    if kind == "softmax":   # a Sequential ending in Dense(softmax)
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Flatten(), dense])
    else:                   # logits, wrapped as the Predictor does
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
        model = probability_model(keras.Model(inputs, dense(x)))
    dense.set_weights([kernel, np.zeros(10, np.float32)])
    return model


@pytest.mark.parametrize("kind", ["softmax", "logits"])
def test_gradient_x_input_lies_on_the_pixels_the_class_reads(kind):
    model, batch = patch_mlp(kind), bright_noise()
    top = saliency(model, batch)
    assert top.method == "gradient x input" and top.layer is None and top.class_index == 0
    assert top.heat.shape == (28, 28) and top.heat.dtype == np.float32 and top.heat.max() == 1
    assert share_inside(top.heat, PATCH_A) > 0.95 and argmax_inside(top.heat, PATCH_A)
    other = saliency(model, batch, class_index=1)
    assert other.class_index == 1
    assert share_inside(other.heat, PATCH_B) > 0.95 and argmax_inside(other.heat, PATCH_B)


def test_class_index_out_of_range_says_what_it_got():
    with pytest.raises(ValueError, match=r"between 0 and 9, got 10"):
        saliency(patch_mlp("softmax"), bright_noise(), class_index=10)
    with pytest.raises(ValueError, match=r"batch of one image"):
        saliency(patch_mlp("softmax"), bright_noise(shape=(2, 28, 28, 1)))


def fixed(layer, *weights):
    layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return layer


def test_grad_cam_follows_the_region_a_sequential_model_reads():
    """Input masked to the top-right quadrant -> Conv2D(ones) -> mean -> class 0."""
    import keras
    mask = np.zeros((28, 28, 1), np.float32)
    mask[TOP_RIGHT] = 1
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="only_conv")
    dense = keras.layers.Dense(3, activation="softmax")
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Lambda(lambda t: t * mask), conv,
                              keras.layers.GlobalAveragePooling2D(), dense])
    fixed(conv, np.full((3, 3, 1, 4), 1 / 9), np.zeros(4))
    fixed(dense, [[1, 0, 0]] * 4, [0, 0, 0])
    result = saliency(model, bright_noise(1))
    assert (result.method, result.layer, result.class_index) == ("Grad-CAM", "only_conv", 0)
    assert share_inside(result.heat, TOP_RIGHT) > 0.8 and argmax_inside(result.heat, TOP_RIGHT)


def test_grad_cam_weights_the_feature_maps_of_the_class_asked_for():
    """Channel k sees only its own quadrant; after pooling (14x14 maps, upsampled) class k reads
    channel k. Unweighted maps would cover both quadrants equally; a transposed one, the other."""
    import keras
    mask = np.zeros((28, 28, 2), np.float32)
    mask[TOP_RIGHT + (0,)] = 1
    mask[BOTTOM_LEFT + (1,)] = 1
    first, last = keras.layers.Conv2D(2, 3, padding="same"), keras.layers.Conv2D(2, 1, name="last")
    dense = keras.layers.Dense(2, activation="softmax", name="scores")
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * mask)(first(keras.layers.Rescaling(1 / 255)(inputs)))
    x = keras.layers.GlobalAveragePooling2D()(last(keras.layers.MaxPooling2D()(x)))
    model = keras.Model(inputs, dense(x))
    fixed(first, np.full((3, 3, 1, 2), 1 / 9), np.zeros(2))
    fixed(last, np.eye(2).reshape(1, 1, 2, 2), np.zeros(2))
    fixed(dense, np.eye(2), np.zeros(2))
    batch = bright_noise(2)
    for cls, region in ((0, TOP_RIGHT), (1, BOTTOM_LEFT)):
        result = saliency(model, batch, class_index=cls)
        assert result.layer == "last" and result.heat.shape == (28, 28)
        assert share_inside(result.heat, region) > 0.8 and argmax_inside(result.heat, region)
    top = int(np.argmax(model.predict_on_batch(batch.astype(np.float32))[0]))
    assert saliency(model, batch).class_index == top


CASES = [(k, (28, 28, 1), 10) for k in MODELS if k != "mobilenetv2"] + [
    ("mobilenetv2", (32, 32, 3), 3)]


@pytest.mark.parametrize("key,shape,classes", CASES)
def test_every_registry_model_gets_a_map(key, shape, classes):
    sample = bright_noise(3, (8, *shape))
    model = build_model(key, shape, classes, TrainSettings(pretrained=False), sample)
    predictor_model = probability_model(model)
    result = saliency(predictor_model, sample[:1])
    heat = result.heat
    assert heat.shape == shape[:2] and heat.dtype == np.float32 and np.isfinite(heat).all()
    assert heat.min() >= 0 and (heat.max() == 1 or not heat.any())
    assert result.method == ("gradient x input" if key.startswith("mlp") else "Grad-CAM")
    assert (result.layer is None) == key.startswith("mlp")
    probabilities = predictor_model.predict_on_batch(sample[:1].astype(np.float32))[0]
    # the top class (untrained MobileNetV2's features are ~1e-11: its probabilities tie)
    assert probabilities[result.class_index] == pytest.approx(probabilities.max(), abs=1e-6)


def test_overlay_blends_the_colour_map_and_stays_sharp():
    seen = np.zeros((28, 28), np.uint8)
    seen[:, 14:] = 255
    heat = np.zeros((28, 28), np.float32)
    heat[:14] = 1.0
    inferno = matplotlib.colormaps["inferno"]
    expected = {(0, 0): 0.5 * np.array(inferno(1.0)[:3]) * 255,               # hot on black
                (27, 27): 127.5 + 0.5 * np.array(inferno(0.0)[:3]) * 255}   # cold on white
    for image in (seen, seen[..., None], np.repeat(seen[..., None], 3, axis=-1)):
        out = overlay(image, heat)
        assert out.shape == (196, 196, 3) and out.dtype == np.uint8
        for (r, c), colour in expected.items():
            block = out[7 * r:7 * r + 7, 7 * c:7 * c + 7]
            assert (block == block[0, 0]).all()
            np.testing.assert_allclose(block[0, 0], colour, atol=1)
    with pytest.raises(ValueError, match=r"\(14, 14\) must match the image \(28, 28\)"):
        overlay(seen, heat[:14, :14])
