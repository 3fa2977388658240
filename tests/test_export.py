"""Take it home: the metrics JSON holds the run's numbers, the script rebuilds each recipe exactly
(same layers, same initial weights, same compile), and a generated script really trains."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_dataset

from classifier.core.settings import TrainSettings
from classifier.data.datasets import (
    DEBIAN_FASHION_DIR,
    FASHION_FILES,
    load_fashion_mnist,
)
from classifier.export.take_home import metrics_json, reproduce_script, write_take_home
from classifier.inference.evaluation import Evaluation, evaluate
from classifier.models.registry import MODELS, build_model
from classifier.training.loop import TrainResult, targets_for
from classifier.training.run import Run, run_training


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def tiny_run(request):
    return run_training(make_dataset(), request.param, TrainSettings(epochs=1, batch_size=16))


def _untrained_run(key, data, settings):
    """A Run of a freshly built (seeded) model: enough to export, no training needed."""
    import keras
    keras.utils.set_random_seed(settings.seed)
    model = build_model(key, data.image_shape, data.num_classes, settings, data.x_train)
    return Run(key, data, settings, model, TrainResult({}, [], 0, 0.0), evaluate(model, data))


def _script_namespace(source):
    namespace = {"__name__": "take_home"}  # not "__main__": defines the functions, runs nothing
    exec(compile(source, "train.py", "exec"), namespace)
    return namespace


def _layers(model):
    """Each layer's type and config without its (automatic) name; nested models layer by layer."""
    import keras
    found = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        if isinstance(layer, keras.Model):
            config = (layer.trainable, _layers(layer))
        found.append((type(layer).__name__, config))
    return found


def test_metrics_json_holds_the_runs_numbers(tiny_run):
    data = json.loads(metrics_json(tiny_run))
    ev, result = tiny_run.evaluation, tiny_run.result
    assert data["format_version"] == 1 and data["model"] == tiny_run.model_key
    assert data["dataset"] == "tiny" and data["class_names"] == ["class 0", "class 1", "class 2"]
    assert data["test_accuracy"] == ev.accuracy and data["test_loss"] == ev.loss
    assert data["per_class_accuracy"] == ev.per_class_accuracy()
    assert data["confusion_matrix"] == ev.confusion_matrix().tolist()
    assert sum(map(sum, data["confusion_matrix"])) == 16
    assert data["parameters"] == tiny_run.model.count_params()
    assert data["history"] == result.history and len(data["history"]["val_accuracy"]) == 1
    assert set(data["history"]) >= {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert data["epochs_done"] == 1 and data["stopped"] is None
    assert data["settings"] == {**tiny_run.settings.to_dict(), "epochs": 1, "batch_size": 16}
    assert data["epoch_seconds"] == [round(s, 2) for s in result.epoch_seconds]


def test_metrics_json_writes_nan_as_null(tiny_run):
    ev = tiny_run.evaluation
    keep = ev.y_true != 2  # class 2 without test images: its accuracy is NaN
    run = replace(tiny_run, evaluation=Evaluation(ev.class_names, ev.y_true[keep],
                                                  ev.probabilities[keep]))
    text = metrics_json(run)
    assert "NaN" not in text and json.loads(text)["per_class_accuracy"]["class 2"] is None
    empty = replace(tiny_run, evaluation=Evaluation(ev.class_names, ev.y_true[:0],
                                                    ev.probabilities[:0]))
    data = json.loads(metrics_json(empty))
    assert data["test_accuracy"] is None and data["test_loss"] is None


def test_script_is_standalone_and_says_what_it_reproduces(tiny_run):
    source = reproduce_script(tiny_run)
    tree = ast.parse(source)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert "classifier" not in imported
    assert imported <= {"keras", "numpy", "tensorflow"} | set(sys.stdlib_module_names)  # tf.data feeds it
    assert MODELS[tiny_run.model_key].title in source.splitlines()[0]
    assert f"test accuracy {tiny_run.evaluation.accuracy:.4f}" in source
    assert "differ slightly" in source and "'lr_schedule': 'cosine'" in source
    assert re.search(r"^EPOCHS = 1\n", source, re.M) and "\nBATCH_SIZE = 16\n" in source
    assert 'parser.add_argument("--data", required=True' in source  # "tiny" is no Keras dataset


def test_user_text_stays_in_comments_and_literals():
    """An upload's title and class names come from a user: they must not become code."""
    bad = 'x"""\nimport os; os.system("echo owned")\r\u2028#'
    data = replace(make_dataset(), key="folder", title=bad, class_names=[bad, "b", "c\n"])
    source = reproduce_script(_untrained_run("mlp", data, TrainSettings()))
    tree = ast.parse(source)  # still valid Python
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "os.system" not in calls and not any(
        isinstance(n, ast.Import) and n.names[0].name == "os" for n in ast.walk(tree))
    assert _script_namespace(source)["CLASS_NAMES"] == [bad, "b", "c\n"]


def test_write_take_home(tiny_run, tmp_path):
    script, metrics = write_take_home(tiny_run, tmp_path / "home")
    assert script == tmp_path / "home" / f"train_{tiny_run.model_key}_tiny.py"
    assert script.read_text() == reproduce_script(tiny_run)
    assert metrics.name == "metrics.json"
    assert json.loads(metrics.read_text()) == json.loads(metrics_json(tiny_run))


@pytest.mark.parametrize("key", list(MODELS))
def test_script_rebuilds_the_recipe_exactly(key):
    import keras
    data = make_dataset()
    settings = TrainSettings(pretrained=False, optimizer="rmsprop" if key == "cnn" else None,
                             learning_rate=0.01 if key == "cnn" else None,
                             lr_schedule="constant" if key == "mlp2" else "cosine")
    run = _untrained_run(key, data, settings)
    source = reproduce_script(run)
    assert "model_from_json" not in source  # every recipe is written out layer by layer
    namespace = _script_namespace(source)
    keras.utils.set_random_seed(settings.seed)
    rebuilt = namespace["build_model"]()
    assert _layers(rebuilt) == _layers(run.model)
    assert rebuilt.count_params() == run.model.count_params()
    for mine, theirs in zip(rebuilt.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # same seed, same order: same initial weights
    namespace["compile_model"](rebuilt, 100)
    assert type(rebuilt.optimizer) is type(run.model.optimizer)
    assert float(rebuilt.optimizer.learning_rate) == float(run.model.optimizer.learning_rate)
    schedule = isinstance(rebuilt.optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)
    assert schedule == (settings.lr_schedule == "cosine")
    loss = [m.loss if isinstance(m.loss, str) else (type(m.loss), m.loss.get_config())
            for m in (rebuilt, run.model)]
    assert loss[0] == loss[1]
    y = np.array([0, 2, 1])
    np.testing.assert_array_equal(namespace["targets"](y), targets_for(run.model, y, 3))


def test_other_graphs_are_embedded_as_their_config():
    import keras
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Add()([x, keras.layers.Dense(784)(x)])  # a skip connection: no chain
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x), name="residual")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    run = replace(_untrained_run("mlp", make_dataset(), TrainSettings()), model=model)
    source = reproduce_script(run)
    assert "model_from_json" in source
    assert _layers(_script_namespace(source)["build_model"]()) == _layers(model)


def test_a_sequential_model_is_written_out_layer_by_layer():
    import keras
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")], name="seq")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    run = replace(_untrained_run("mlp", make_dataset(), TrainSettings()), model=model)
    source = reproduce_script(run)
    assert "x = keras.layers.Dense(3, activation=\"softmax\")(x)" in source
    assert "keras.optimizers.SGD(learning_rate=rate, momentum=0.9)" in source
    rebuilt = _script_namespace(source)["build_model"]()  # functional: its Input is a layer
    assert _layers(rebuilt)[1:] == _layers(model) and rebuilt.input_shape == model.input_shape


def _write_images(folder, x, y, names):
    from PIL import Image
    for i, (image, label) in enumerate(zip(x, y)):
        (folder / names[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.squeeze()).save(folder / names[label] / f"{i}.png")


@pytest.mark.parametrize("key, shape, model_key", [("folder", (28, 28, 1), "mlp"),
                                                   ("cats_vs_dogs", (32, 32, 3), "mlp")])
def test_folder_script_trains_on_the_named_folder(key, shape, model_key, tmp_path, monkeypatch,
                                                   capsys):
    import keras
    data = replace(make_dataset(n_train=30, n_test=12, shape=shape), key=key)
    run = _untrained_run(model_key, data, TrainSettings(epochs=1))
    source = reproduce_script(run)
    assert f"image_size={shape[:2]}" in source
    assert f'color_mode="{"rgb" if shape[2] == 3 else "grayscale"}"' in source
    root = tmp_path / "images"
    if key == "cats_vs_dogs":  # train/ and validation/, a fifth of validation/ tests
        _write_images(root / "train", data.x_train, data.y_train, data.class_names)
        _write_images(root / "validation", data.x_test, data.y_test, data.class_names)
    else:
        _write_images(root, data.x_train, data.y_train, data.class_names)
    out = tmp_path / "model.keras"
    monkeypatch.setattr(sys, "argv", ["train.py", "--data", str(root), "--output", str(out)])
    _script_namespace(source)["main"]()
    n_test = 3 if key == "cats_vs_dogs" else 6  # 12 or 30 images in 3 classes, a fifth of each
    assert re.search(rf"test accuracy: \d\.\d{{4}} .*{n_test} images", capsys.readouterr().out)
    assert _layers(keras.saving.load_model(out)) == _layers(run.model)


@pytest.mark.skipif(not all((DEBIAN_FASHION_DIR / f).is_file() for f in FASHION_FILES),
                    reason="needs the Debian package dataset-fashion-mnist")
def test_generated_script_reproduces_a_fashion_mnist_run_offline(tmp_path):
    import keras
    run = run_training(load_fashion_mnist().subset(512, 512), "cnn", TrainSettings(epochs=1))
    script, _ = write_take_home(run, tmp_path)
    cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"  # where load_data() looks
    cache.mkdir(parents=True)
    for name in FASHION_FILES:
        shutil.copy(DEBIAN_FASHION_DIR / name, cache / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no `classifier` to import
    env.update(KERAS_HOME=str(tmp_path / "keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(script), "--epochs", "1", "--limit", "512"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"test accuracy: (\d\.\d+) \(test loss (\d+\.\d+), 512 images", done.stdout)
    assert found, done.stdout
    # The same 512 images, split, seed, initial weights and recipe as the app's run: the same
    # result on this machine (a constant learning rate instead of the cosine decay, for one,
    # moves the loss by ~0.09 and the accuracy by ~0.17).
    assert float(found.group(1)) == pytest.approx(run.evaluation.accuracy, abs=0.01)
    assert float(found.group(2)) == pytest.approx(run.evaluation.loss, abs=0.01)
    saved = keras.saving.load_model(work / "model.keras")
    assert [type(layer) for layer in saved.layers] == [type(layer) for layer in run.model.layers]
