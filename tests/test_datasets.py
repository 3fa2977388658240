"""The real datasets load with the right shapes; unavailable ones say why and how to fix it."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.data import datasets
from classifier.data.datasets import (
    FASHION_CLASSES,
    fashion_mnist_source,
    load_cats_vs_dogs,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)


def test_real_fashion_mnist():
    d = load_fashion_mnist()
    assert d.x_train.shape == (60_000, 28, 28, 1) and d.x_test.shape == (10_000, 28, 28, 1)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert d.y_train.min() == 0 and d.y_train.max() == 9
    assert np.bincount(d.y_train).tolist() == [6000] * 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10
    assert d.class_names == FASHION_CLASSES and d.class_names[9] == "Ankle boot"
    assert d.style == "fashion" and "60,000 train / 10,000 test" in d.summary()
    assert "Debian package" in d.source or "Keras cache" in d.source
    # Fashion-MNIST items are light on a black background: borders are dark
    assert d.x_train[:100, :, 0, 0].mean() < 10 and d.x_train[:100].mean() > 50


def test_mnist_offline_is_the_real_subset_and_says_so():
    d = load_mnist()
    assert len(d.x_train) == 4000 and len(d.x_test) == 1000
    assert np.bincount(d.y_test).tolist() == [100] * 10
    assert "MNIST subset, 4,000 train / 1,000 test, offline" in d.summary()
    assert d.style == "mnist" and d.x_train.max() == 255
    # train and test are disjoint images
    train_rows = {x.tobytes() for x in d.x_train}
    assert not any(x.tobytes() in train_rows for x in d.x_test)


def test_fashion_mnist_missing_everywhere_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "nothing")
    assert fashion_mnist_source().where is None
    load_fashion_mnist.cache_clear()
    try:
        with pytest.raises(ValueError, match="dataset-fashion-mnist"):
            load_fashion_mnist()
    finally:
        load_fashion_mnist.cache_clear()


def test_cats_vs_dogs_offline_says_it_needs_the_internet_and_where_a_copy_goes(tmp_path):
    where = f"train/ and validation/ folders, at {tmp_path / 'missing'} on the machine"
    with pytest.raises(ValueError, match=f"needs the internet, or a local copy.*{where}"):
        load_cats_vs_dogs(tmp_path / "missing")


def _no_network(monkeypatch):
    import keras

    def fail(fname, origin, **_):  # what Keras raises when the host cannot be reached
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure "
                        "in name resolution")
    monkeypatch.delenv("CLASSIFIER_OFFLINE")
    monkeypatch.setattr(keras.utils, "get_file", fail)


def test_a_failed_download_is_a_clear_value_error(monkeypatch, tmp_path):
    _no_network(monkeypatch)
    with pytest.raises(ValueError, match="Cats vs dogs could not be downloaded: could not download "
                                         "cats_and_dogs.zip .*URL fetch failure.*"
                                         "needs the internet, or a local copy"):
        load_cats_vs_dogs(tmp_path / "missing")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "nothing")
    load_fashion_mnist.cache_clear()
    try:
        with pytest.raises(ValueError, match="Fashion-MNIST could not be downloaded.*"
                                             "URL fetch failure.*dataset-fashion-mnist"):
            load_fashion_mnist()
    finally:
        load_fashion_mnist.cache_clear()


def test_dataset_sources_name_no_server_paths(tmp_path):
    """The Dataset tab shows `source`: where the data came from, not the server's folders."""
    assert fashion_mnist_source().description == "the Debian package dataset-fashion-mnist"
    _photo_folder(tmp_path / "cd" / "train", 2)
    _photo_folder(tmp_path / "cd" / "validation", 2)
    assert str(tmp_path) not in load_cats_vs_dogs(tmp_path / "cd").summary()


def _photo_folder(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for cls, colour in (("cats", (200, 120, 40)), ("dogs", (40, 80, 200))):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            a = (rng.normal(size=(60 + i, 80, 3)) * 20 + colour).clip(0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / cls / f"{cls}.{i}.jpg")


def test_cats_vs_dogs_from_a_local_copy(tmp_path):
    _photo_folder(tmp_path / "cd" / "train", 6)
    _photo_folder(tmp_path / "cd" / "validation", 5)
    d = load_cats_vs_dogs(tmp_path / "cd")
    assert d.class_names == ["cats", "dogs"] and d.image_shape == (160, 160, 3)
    assert len(d.x_train) == 12 and len(d.x_val) + len(d.x_test) == 10 and len(d.x_test) == 2
    x_tr, _, x_val, _ = d.split_validation(0.5)
    assert len(x_tr) == 12 and len(x_val) == len(d.x_val)  # its own validation split is used


def test_read_idx_rejects_truncated_files(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(100))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_load_dataset_by_key_or_folder(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_dataset("nope")
    _photo_folder(tmp_path / "pets", 4)
    d = load_dataset(str(tmp_path / "pets"))
    assert d.class_names == ["cats", "dogs"] and d.key == "folder"
