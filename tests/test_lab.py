"""The Train tab's lab: a share of the data, wrong labels, dropout and weight decay."""
import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.models.registry import MODELS, build_model
from classifier.training import lab
from classifier.training.run import run_training


def test_training_share_keeps_each_class_in_proportion_and_is_seeded():
    y = np.repeat(np.arange(4), [100, 200, 300, 400])
    x = np.arange(len(y))
    xs, ys = lab.training_share(x, y, 0.1, total=1000, seed=3)
    assert len(xs) == 100 and np.array_equal(np.bincount(ys), [10, 20, 30, 40])
    assert np.array_equal(y[xs], ys)  # images keep their own labels
    again, _ = lab.training_share(x, y, 0.1, total=1000, seed=3)
    other, _ = lab.training_share(x, y, 0.1, total=1000, seed=4)
    assert np.array_equal(xs, again) and not np.array_equal(xs, other)
    assert lab.training_share(x, y, 1.0, total=1000)[0] is x


def test_training_share_counts_against_the_whole_training_set():
    """1% of Fashion-MNIST is 600 images: a share of the dataset's 60,000, not of the 54,000
    left once validation was held out."""
    y = np.arange(54_000) % 10
    xs, _ = lab.training_share(y, y, 0.01, total=60_000)
    assert len(xs) == 600
    tiny, ty = lab.training_share(y[:30], y[:30], 0.01, total=30)  # never below one a class
    assert len(tiny) >= 1 and set(ty) <= set(range(10))


def test_wrong_labels_makes_exactly_that_share_wrong():
    y = np.arange(1000) % 10
    noisy = lab.wrong_labels(y, 0.2, 10, seed=0)
    assert (noisy != y).sum() == 200
    assert noisy.min() >= 0 and noisy.max() <= 9 and noisy is not y
    assert np.array_equal(lab.wrong_labels(y, 0.0, 10), y)
    assert np.array_equal(noisy, lab.wrong_labels(y, 0.2, 10, seed=0))
    with pytest.raises(ValueError, match="wrong labels"):
        lab.wrong_labels(y, 1.0, 10)


@pytest.mark.parametrize("key", ["mlp", "cnn_bn"])
def test_dropout_is_set_or_added_and_weight_decay_reaches_the_optimizer(key):
    import keras
    s = TrainSettings(dropout=0.5, weight_decay=0.1, pretrained=False)
    model = build_model(key, (28, 28, 1), 10, s)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert drops and all(d.rate == 0.5 for d in drops)
    assert model.optimizer.weight_decay == 0.1
    assert model.optimizer.get_config()["weight_decay"] == 0.1  # so the take-home script has it
    plain = build_model(key, (28, 28, 1), 10, TrainSettings(pretrained=False))
    assert model.count_params() == plain.count_params()
    x = np.random.default_rng(0).integers(0, 255, (4, 28, 28, 1)).astype("float32")
    assert model.predict_on_batch(x).shape == (4, 10)


def test_no_dropout_turns_the_recipes_off():
    import keras
    model = build_model("cnn_bn", (28, 28, 1), 10, TrainSettings(dropout=0.0))
    assert all(d.rate == 0 for d in model.layers if isinstance(d, keras.layers.Dropout))
    mlp = build_model("mlp", (28, 28, 1), 10, TrainSettings(dropout=0.0))
    assert not any(isinstance(d, keras.layers.Dropout) for d in mlp.layers)


@pytest.mark.parametrize("key", sorted(k for k in MODELS if k != "mobilenetv2"))
def test_every_small_model_takes_the_lab(key):
    model = build_model(key, (28, 28, 1), 3, TrainSettings(dropout=0.2, weight_decay=0.01))
    model.fit(np.zeros((8, 28, 28, 1), "float32"), lab.np.zeros(8, "int64")
              if model.loss != "categorical_crossentropy" else np.eye(3, dtype="float32")[np.zeros(8, int)],
              epochs=1, verbose=0)


def test_a_one_percent_run_records_fewer_training_images_and_says_so_in_its_name():
    from classifier.serving.session import Session
    data = make_dataset(n_train=400, n_test=20)
    full = run_training(data, "mlp", TrainSettings(epochs=1, validation_split=0.1))
    small = run_training(data, "mlp", TrainSettings(epochs=1, validation_split=0.1,
                                                    data_share=0.05, label_noise=0.2, dropout=0.0))
    left = len(data.split_validation(0.1, 0)[0])  # what validation leaves: 361
    assert full.metadata()["train_images"] == left
    assert small.metadata()["train_images"] == 20  # 5% of the 400, from those left to train on
    assert small.metadata()["settings"]["data_share"] == 0.05
    session = Session()
    try:
        name = session.add_run(small, take_home=False)
        assert "5% of the data, 20% wrong labels, no dropout" in name
        assert "of the data" not in session.add_run(full, take_home=False)
    finally:
        session.close()


def test_lab_words_name_only_what_changed():
    assert lab.lab_words(TrainSettings()) == ""
    assert lab.lab_words(TrainSettings(data_share=0.01, weight_decay=0.1, dropout=0.5)) == \
        "1% of the data, dropout 0.5, weight decay 0.1"


@pytest.mark.parametrize("field, value", [("data_share", 0), ("data_share", 1.5),
                                          ("label_noise", 1), ("dropout", -0.1),
                                          ("weight_decay", 2)])
def test_settings_refuse_lab_values_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        TrainSettings(**{field: value})


def test_the_take_home_script_draws_the_same_share_and_wrong_labels(tmp_path):
    """The script is standalone (no `classifier` to import), so it carries its own copy of
    the lab's draws: they must pick the very images and labels the app trained on."""
    import importlib.util

    from classifier.export.take_home import write_take_home
    data = make_dataset(n_train=300, n_test=20)
    s = TrainSettings(epochs=1, data_share=0.1, label_noise=0.3, seed=5)
    run = run_training(data, "mlp", s)
    script, _ = write_take_home(run, tmp_path)
    spec = importlib.util.spec_from_file_location("take_home", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x, y, *_ = data.split_validation(s.validation_split, s.seed)
    xs, ys = module.lab(x, y, len(data.x_train))
    want_x, want_y = lab.training_share(x, y, 0.1, len(data.x_train), seed=5)
    assert np.array_equal(xs, want_x) and len(xs) == run.result.train_images == 30
    assert np.array_equal(ys, lab.wrong_labels(want_y, 0.3, data.num_classes, seed=5))


def test_the_share_holds_for_transfer_learning_on_cached_features():
    data = make_dataset(n_train=40, n_test=8, shape=(32, 32, 3), classes=2)
    run = run_training(data, "mobilenetv2", TrainSettings(epochs=1, batch_size=8, data_share=0.5,
                                                          validation_split=0.2, pretrained=False))
    assert run.result.train_images == 20
