"""Random augmentation in the training batches (classifier/training/augment.py)."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.data.batches import batches
from classifier.training.augment import SHIFT, mirrored, random_change, shifted
from classifier.training.run import run_training


def test_a_shift_moves_each_image_by_its_own_offset_with_black_coming_in():
    import tensorflow as tf
    x = np.random.default_rng(0).integers(1, 255, (3, 6, 5, 1)).astype(np.uint8)
    offsets = np.array([[SHIFT, SHIFT], [SHIFT + 1, SHIFT], [SHIFT - 2, SHIFT + 2]])  # none, down 1, up 2 right 2
    out = shifted(tf.constant(x), tf.constant(offsets, tf.int32)).numpy()
    assert np.array_equal(out[0], x[0])
    assert np.array_equal(out[1, 1:], x[1, :-1]) and not out[1, 0].any()
    assert np.array_equal(out[2, :-2, 2:], x[2, 2:, :-2]) and not out[2, -2:].any() and not out[2, :, :2].any()


def test_random_changes_are_new_each_epoch_seeded_and_keep_the_pixels():
    x = np.random.default_rng(1).integers(1, 255, (64, 28, 28, 1)).astype(np.uint8)
    y = np.arange(64) % 4
    data = batches(x, y, 64, seed=5, change=random_change("flip_shift", seed=3))
    first, second = (next(iter(data))[0].numpy() for _ in range(2))
    assert first.dtype == np.uint8 and first.shape == x.shape
    assert not np.array_equal(first, second)  # drawn afresh each time the data is read
    moved = sum(not np.array_equal(a, b) for a, b in zip(first, x))
    assert moved > 40  # most images moved or mirrored (1 in 50 stays put by chance)
    for a, b in zip(first, x):  # each one is its image, mirrored or not, moved by <= SHIFT
        candidates = [b, b[:, ::-1]]
        assert any(np.array_equal(a[max(0, dy):28 + min(0, dy), max(0, dx):28 + min(0, dx)],
                                  c[max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)])
                   for c in candidates for dy in range(-SHIFT, SHIFT + 1)
                   for dx in range(-SHIFT, SHIFT + 1))
    again = batches(x, y, 64, seed=5, change=random_change("shift", seed=3))
    one = next(iter(again))[0].numpy()
    two = next(iter(batches(x, y, 64, seed=5, change=random_change("shift", seed=3))))[0].numpy()
    assert np.array_equal(one, two)  # the same seeds: the same changes


def test_no_change_for_none_or_flip_and_mirrors_double_the_set():
    assert random_change(None) is None and random_change("flip") is None
    x, y = np.arange(8).reshape(2, 2, 2, 1), np.array([0, 1])
    mx, my = mirrored(x, y)
    assert len(mx) == 4 and np.array_equal(mx[2], x[0][:, ::-1]) and list(my) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="augment must be one of"):
        random_change("rotate")


def test_a_run_trains_with_random_shifts_and_says_so_in_its_metadata():
    run = run_training(make_dataset(n_train=64, n_test=16), "cnn_quick",
                       TrainSettings(epochs=1, batch_size=16, augment="shift"))
    assert run.metadata()["settings"]["augment"] == "shift" and run.result.train_images > 0
    with pytest.raises(ValueError, match="augment must be one of"):
        TrainSettings(augment="rotate")


def test_the_digits_affine_has_known_answers():
    import tensorflow as tf

    from classifier.training.augment import _affine
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 10:18, 13:15] = 255  # a vertical bar about the centre

    def moved(angle=0.0, scale=1.0, shear=0.0, dx=0.0, dy=0.0):
        args = (tf.constant([v], tf.float32) for v in (angle, scale, shear, dx, dy))
        return _affine(tf.constant(x), *args).numpy()[0, :, :, 0]
    assert np.array_equal(moved(), x[0, :, :, 0])
    assert np.array_equal(moved(dx=3, dy=2)[12:20, 16:18], np.full((8, 2), 255.0))
    ys, xs = np.nonzero(moved(angle=np.pi / 2) > 128)  # a quarter turn: the bar lies flat
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (13, 14, 10, 17)
    assert (moved(scale=0.5) > 128).sum() < (x > 128).sum() / 2


def test_digit_changes_vary_and_keep_the_ink():
    import tensorflow as tf

    from classifier.training.augment import digit_change
    x = np.zeros((16, 28, 28, 1), np.uint8)
    x[:, 8:20, 12:16] = 255
    out = digit_change(tf.constant(x), tf.constant([7, 0], tf.int64)).numpy()
    ink = (out > 128).reshape(16, -1).sum(axis=1)
    assert out.dtype == np.uint8 and len(set(ink)) > 4  # each image its own change
    faint = (out > 64).reshape(16, -1).sum(axis=1)  # a thinned stroke blurred or scanned small is faint
    assert faint.min() > 4 and ink.max() < 4 * 48  # thinner or thicker, never gone or filled


def test_blur_and_low_resolution_soften_a_digit_and_keep_its_ink():
    import tensorflow as tf

    from classifier.training.augment import blurred, low_res
    x = np.zeros((2, 28, 28, 1), np.float32)
    x[:, 4:24, 12:15] = 255  # a '1' 20 px tall, 3 px wide: MNIST's box
    soft = blurred(tf.constant(x), tf.constant([0.5, 1.2])).numpy()
    assert soft.sum(axis=(1, 2, 3)) == pytest.approx(x.sum(axis=(1, 2, 3)), rel=1e-3)  # ink kept
    assert 255 > soft[0].max() > soft[1].max()  # each its own blur: the wider, the fainter its peak
    assert ((soft[1] > 10) & (soft[1] < 245)).sum() > 3 * ((soft[0] > 10) & (soft[0] < 245)).sum() / 2
    small = low_res(tf.constant(x), tf.constant(10)).numpy()  # the '1' scanned 10 px tall
    assert small.shape == x.shape and small.sum() == pytest.approx(x.sum(), rel=0.05)
    assert ((small[0] > 10) & (small[0] < 245)).sum() > 40 and small.max() < 255  # soft edges
    assert np.allclose(low_res(tf.constant(x), tf.constant(20)).numpy(), x)  # at its own size: as it was


def test_digit_changes_blur_some_images_and_scan_some_at_low_resolution(monkeypatch):
    import tensorflow as tf

    from classifier.training import augment
    x = np.zeros((64, 28, 28, 1), np.uint8)
    x[:, 4:24, 12:15] = 255
    key = tf.constant([3, 0], tf.int64)

    def grey(**changes):  # how many pixels of the batch are neither ink nor paper
        monkeypatch.setattr(augment, "DIGITS", {**augment.DIGITS, **changes})
        out = augment.digit_change(tf.constant(x), key).numpy()
        return int(((out > 10) & (out < 245)).sum())
    plain = grey(low_res=0, blur=0)
    assert grey(low_res=1, blur=0) > 3 * plain / 2 and grey(low_res=0, blur=1) > 3 * plain / 2
    assert plain < grey() < grey(low_res=1, blur=1)  # the shipped shares: some images, not all


def test_a_flattened_garment_loses_its_shading_and_keeps_its_silhouette():
    import tensorflow as tf

    from classifier.training.augment import flattened
    x = np.zeros((3, 28, 28, 1), np.float32)
    x[:, 4:24, 8:20] = np.linspace(60, 255, 12)[None, None, :, None]  # shaded from left to right
    x[:, 12, 14] = 0  # a dark seam one pixel wide: closed
    out = flattened(tf.constant(x), tf.constant([0.0, 1.0, 0.5])).numpy()
    item = x[0] > 0
    assert np.all(out[0][4:24, 8:20] == 255) and not out[0][~item & (np.arange(28)[:, None, None] != 12)].any()
    assert np.array_equal(out[1][item], x[1][item])  # keeping all of it: as it was
    half = out[2][4:24, 8:20, 0]  # half its shading, as bright as before
    assert half.max() == pytest.approx(255) and half[:, 0] == pytest.approx(0.5 * (255 + 60))
    assert not out[:, :4].any() and not out[:, :, :8].any()  # black stays black


def test_garment_changes_flatten_a_share_of_the_items_and_mirror_or_move_the_rest(monkeypatch):
    import tensorflow as tf

    from classifier.training import augment
    x = np.zeros((64, 28, 28, 1), np.uint8)
    x[:, 4:24, 8:20] = np.linspace(60, 255, 12).astype(np.uint8)[None, None, :, None]
    shades = set(np.unique(x))

    def changed(share):
        monkeypatch.setattr(augment, "GARMENTS", {**augment.GARMENTS, "flat": share})
        out = random_change("garments", seed=1)(tf.constant(x), tf.constant(5, tf.int64)).numpy()
        assert out.dtype == np.uint8 and out.shape == x.shape
        return out, np.array([not set(np.unique(o)) <= shades for o in out])  # new grey levels
    out, flat = changed(0.5)
    assert 16 <= flat.sum() <= 48  # about half of them
    for o, f in zip(out, flat):  # a flattened item's row is nearly as bright as its brightest
        row = o[14, :, 0].astype(float)
        inside = row[row > 0.3 * row.max()]  # (soft edges left out): the original's 0.65 of it
        assert (inside.mean() / inside.max() > 0.72) == f
        assert 200 <= (o > 0).sum() <= 400  # its 240 pixels still there, edges softened at most
    out, flat = changed(0.0)
    assert not flat.any() and sum(not np.array_equal(o, x[0]) for o in out) > 40  # moved, mirrored
