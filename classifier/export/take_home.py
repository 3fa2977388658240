"""Take a run home: a standalone Keras script that reproduces it, and its metrics as JSON.

The script's model is written out layer by layer from the trained model's own config (a model
whose layers do not form one chain is embedded as its Keras JSON instead), so it is the run's
architecture by construction. It imports only keras, numpy and the standard library.
"""
from __future__ import annotations

import ast
import inspect
import json
import math
import re
from pathlib import Path

import numpy as np

from ..core.settings import TrainSettings
from ..models.registry import MODELS, build_model
from ..training.loop import initial_learning_rate, targets_for
from ..training.run import Run, model_settings

FORMAT_VERSION = 1
KERAS_DATASETS = ("fashion_mnist", "mnist")  # keras.datasets.<key>.load_data()
_MOBILENET = re.compile(r"mobilenetv2_1\.00_\d+")  # keras.applications.MobileNetV2's own name
_CALL_KWARGS = {"training", "mask"}  # recorded by Keras while tracing; not part of the recipe

_SCRIPT = '''{header}
import argparse
import math

import keras
import numpy as np
import tensorflow as tf

SEED = {seed}
EPOCHS = {epochs}
BATCH_SIZE = {batch_size}
VALIDATION_SPLIT = {validation_split}  # share of train held out for validation
LEARNING_RATE = {learning_rate}
COSINE_DECAY = {cosine}  # the app's "cosine" schedule: the rate decays to 0 over the run
WARMUP = {warmup}  # share of the run's steps warming the rate up from 0 (cosine schedule)
SCHEDULE_STEPS = {schedule_steps}  # the app's schedule length in steps; None: the epochs' steps
FLIP = {flip}  # also train on each training image's mirror image
DATA_SHARE = {data_share}  # the lab: train on this share of the training images
WRONG_LABELS = {wrong_labels}  # the lab: this share of the training labels made wrong
ONE_HOT = {one_hot}  # one-hot labels, for categorical cross-entropy; else class indices
CLASS_NAMES = {class_names}

{load_data}

def hold_out(y, share, seed):
    \"\"\"(kept, held) indices: a random `share` of each class held out, as the app splits.\"\"\"
    if share == 0:
        return np.arange(len(y)), np.arange(0)
    rng, held = np.random.default_rng(seed), []
    for c in range(len(CLASS_NAMES)):
        idx = np.flatnonzero(y == c)
        n = min(max(int(round(len(idx) * share)), 1), len(idx) - 1) if len(idx) > 1 else 0
        held.append(rng.choice(idx, size=n, replace=False))
    held = np.sort(np.concatenate(held)).astype("int64")
    return np.setdiff1d(np.arange(len(y)), held), held


def lab(x, y, total):
    """The lab's share of the training images (each class in proportion, exactly
    DATA_SHARE x total of them) and its wrong labels, drawn as the app draws them."""
    if DATA_SHARE < 1 and len(y):
        want = min(len(y), max(1, int(round(DATA_SHARE * total))))
        classes, counts = np.unique(y, return_counts=True)
        quota = want * counts / len(y)
        n = np.floor(quota).astype(int)
        n[np.argsort(n - quota)[:want - n.sum()]] += 1
        n = np.clip(n, 1, counts)
        rng = np.random.default_rng(SEED + 1)
        keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), size=k, replace=False)
                                       for c, k in zip(classes, n)]))
        x, y = x[keep], y[keep]
    wrong = int(round(WRONG_LABELS * len(y)))
    if wrong:
        y, rng = np.array(y, copy=True), np.random.default_rng(SEED + 2)
        idx = rng.choice(len(y), size=wrong, replace=False)
        y[idx] = (y[idx] + rng.integers(1, len(CLASS_NAMES), size=wrong)) % len(CLASS_NAMES)
    return x, y


def build_model():
    \"\"\"The run's architecture, untrained.\"\"\"
{build}


def compile_model(model, train_steps):
    \"\"\"Compile as the app does; train_steps (batches in all epochs) sets the decay.\"\"\"
    total = max(SCHEDULE_STEPS or train_steps, 1)
    warm = min(int(round(total * WARMUP)), total - 1)
    rate = LEARNING_RATE
    if COSINE_DECAY and warm > 0:  # linear warm-up to LEARNING_RATE, then cosine to 0
        rate = keras.optimizers.schedules.CosineDecay(0.0, total - warm, warmup_steps=warm,
                                                      warmup_target=LEARNING_RATE)
    elif COSINE_DECAY:
        rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=total)
    model.compile(optimizer={optimizer},
                  loss={loss},
                  metrics=["accuracy"], steps_per_execution={steps})


def targets(y):
    \"\"\"Labels as the loss wants them.\"\"\"
    return np.eye(len(CLASS_NAMES), dtype="float32")[y] if ONE_HOT else y


def batches(x, y, shuffle=False):
    \"\"\"(images, labels) in batches of BATCH_SIZE, shuffled into a new order at each epoch,
    as the app feeds them (Keras' own `fit(x, y, shuffle=True)` repeats one order when seeded).\"\"\"
    order = tf.data.Dataset.range(len(x))
    if shuffle:
        order = order.shuffle(len(x), seed=SEED, reshuffle_each_iteration=True)
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(targets(y))
    return order.batch(BATCH_SIZE).map(lambda i: (tf.gather(x, i), tf.gather(y, i))).prefetch(2)


def train(model, x_train, y_train, val, epochs):
    \"\"\"Compile, then fit: `epochs` passes over the training images in batches, each pass
    checked on the validation images (the Train tab's two curves).\"\"\"
    compile_model(model, epochs * math.ceil(len(x_train) / BATCH_SIZE))
    return model.fit(batches(x_train, y_train, shuffle=True), epochs=epochs, shuffle=False,
                     validation_data=batches(*val) if len(val[0]) else None, verbose=2)


# Looking at the data and the model, as the app's tabs do

def class_counts(y):
    \"\"\"Images of each class, and chance: how often always guessing the commonest is right.\"\"\"
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    return dict(zip(CLASS_NAMES, counts.tolist())), counts.max() / len(y)


def logits(model, images):
    \"\"\"The last layer's numbers before softmax, one per class: what it reads times its
    weights, plus its bias.\"\"\"
    reads = keras.Model(model.inputs, model.layers[-1].input)(images)
    weights, bias = model.layers[-1].get_weights()
    return np.asarray(reads) @ weights + bias


def softmax(z):
    \"\"\"Scores that are all positive and add up to 1: e to each number, over their sum.\"\"\"
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # (the same, without overflow)
    return e / e.sum(axis=-1, keepdims=True)


def predict(model, image):
    \"\"\"The model's answer for one image (H, W, C) and its softmax score.\"\"\"
    scores = softmax(logits(model, image[None]))[0]
    return CLASS_NAMES[scores.argmax()], float(scores.max())


def confusion_matrix(model, x, y):
    \"\"\"counts[i, j]: the images of class i that the model called class j.\"\"\"
    answers = model.predict(x, batch_size=1024, verbose=0).argmax(axis=-1)
    return tf.math.confusion_matrix(y, answers, num_classes=len(CLASS_NAMES)).numpy()


def shifted(images, right=0, down=0):
    \"\"\"Images (N, H, W, C) moved whole pixels right and down; what they uncover is black.\"\"\"
    out, (h, w) = np.zeros_like(images), images.shape[1:3]
    out[:, max(down, 0):h + min(down, 0), max(right, 0):w + min(right, 0)] = \\
        images[:, max(-down, 0):h - max(down, 0), max(-right, 0):w - max(right, 0)]
    return out


def layer_outputs(model, images):
    \"\"\"What every layer makes of the images: {{layer name: its output}}.\"\"\"
    layers = model.layers[1:]  # after the input
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    return dict(zip([layer.name for layer in layers], probe.predict(images, verbose=0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="default: %(default)s")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use only the first N training and N test images (a quick check)")
    parser.add_argument("--output", default="model.keras", help="default: %(default)s"){data_arg}
    args = parser.parse_args()
    x_train, y_train, x_test, y_test, val = load_data(args)
    if args.limit:
        x_train, y_train, x_test, y_test = (a[:args.limit]
                                            for a in (x_train, y_train, x_test, y_test))
        val = val and tuple(a[:args.limit] for a in val)
    keras.utils.set_random_seed(SEED)
    model = build_model()
    keras.utils.set_random_seed(SEED)  # the app seeds again before it trains
    total = len(x_train)
    if val is None:
        kept, held = hold_out(y_train, VALIDATION_SPLIT, SEED)
        x_train, y_train, val = x_train[kept], y_train[kept], (x_train[held], y_train[held])
    x_train, y_train = lab(x_train, y_train, total)
    if FLIP:
        x_train, y_train = np.concatenate([x_train, x_train[:, :, ::-1]]), np.concatenate([y_train, y_train])
    train(model, x_train, y_train, val, args.epochs)
    loss, accuracy = model.evaluate(x_test, targets(y_test), batch_size=1024, verbose=0)
    print(f"test accuracy: {{accuracy:.4f}} (test loss {{loss:.4f}}, {{len(x_test):,}} images)")
    print("confusion matrix (a row a true class, a column the model's answer):")
    print(confusion_matrix(model, x_test, y_test))
    name, score = predict(model, x_test[0])
    print(f"the first test image ({{CLASS_NAMES[y_test[0]]}}): {{name}} {{score:.1%}}")
    model.save(args.output)
    print(f"saved {{args.output}}")


if __name__ == "__main__":
    main()
'''
_LOAD_KERAS = '''
def load_data(args):
    \"\"\"Train and test images (N, 28, 28, 1) as uint8, int labels, and no own validation set.\"\"\"
    (x_train, y_train), (x_test, y_test) = keras.datasets.{key}.load_data()
    y_train, y_test = y_train.astype("int64"), y_test.astype("int64")
    return x_train[..., None], y_train, x_test[..., None], y_test, None
'''
_LOAD_FOLDER = '''
def load_images(folder):
    \"\"\"Every image in folder/<class name>/, resized, as uint8 (N, H, W, C), in a seeded order.\"\"\"
    data = keras.utils.image_dataset_from_directory(
        folder, class_names=CLASS_NAMES, color_mode={color}, image_size={size},
        batch_size=None, shuffle=False)
    x, y = (np.stack(a) for a in zip(*data.as_numpy_iterator()))
    order = np.random.default_rng(0).permutation(len(y))
    return np.clip(np.round(x[order]), 0, 255).astype("uint8"), y[order].astype("int64")


def load_data(args):
    \"\"\"Train and test images with int labels, and the own validation set (or None).\"\"\"
'''
_SPLIT_FOLDER = '''    x, y = load_images(args.data)
    train, test = hold_out(y, 0.2, 0)  # the app tests on a fifth of each class
    return x[train], y[train], x[test], y[test], None
'''
_SPLIT_CATS = '''    x_train, y_train = load_images(f"{args.data}/train")
    x, y = load_images(f"{args.data}/validation")
    val, test = hold_out(y, 0.2, 0)  # as the tutorial: a fifth of validation/ is the test set
    return x_train, y_train, x[test], y[test], (x[val], y[val])
'''


def _one_line(text: object) -> str:
    """Text safe inside a # comment: no line breaks or other unprintable characters."""
    return "".join(c if c.isprintable() else " " for c in str(text))


def _literal(value) -> str:
    """Python source for a config value; 1 / 255 rather than 0.00392156862745098."""
    if isinstance(value, float) and 0 < value < 1 and 1 / round(1 / value) == value:
        return f"1 / {round(1 / value)}"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _call(prefix: str, cls, config: dict, **fixed: str) -> str:
    """`prefix.Class(required, ..., arg=value)` with only the arguments that differ from the
    class's defaults; `fixed` arguments are written as given."""
    params = inspect.signature(cls.__init__).parameters.values()
    required = [p.name for p in params if p.default is p.empty and p.name != "self"
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        default = cls(**{k: config[k] for k in required}).get_config()
    except Exception:  # an unusual class: keep every argument
        default = {}
    args = {k: v for k, v in config.items() if k not in required and k not in fixed
            and (k not in default or default[k] != v)}
    name = args.pop("name", None)
    if name is not None and re.sub(r"_\d+$", "", str(name)) != re.sub(
            r"_\d+$", "", str(default.get("name"))):
        args["name"] = name  # not an automatic name such as dense_3
    text = ([_literal(config[k]) for k in required] + [f"{k}={v}" for k, v in fixed.items()]
            + [f"{k}={_literal(v)}" for k, v in args.items()])
    return f"{prefix}.{cls.__name__}({', '.join(text)})"


def _chain_code(model, pretrained: bool) -> list[str] | None:
    """`x = Layer(...)(x)` lines when every layer reads only the one before it (so the last
    is the output), else None."""
    import keras
    first, *rest = model.get_config().get("layers", [{}])
    if first.get("class_name") != "InputLayer":
        return None
    c = first["config"]
    dtype = f", dtype={_literal(c['dtype'])}" if c.get("dtype") != "float32" else ""
    lines = [f"inputs = keras.Input(shape={tuple(c['batch_shape'][1:])}, "
             f"name={_literal(c['name'])}{dtype})", "x = inputs"]
    previous = c["name"]
    for entry in rest:
        chain = [{"args": [{"config": {"keras_history": [previous]}}]}]  # Sequential: no nodes
        nodes = entry.get("inbound_nodes", chain)
        node = nodes[0] if len(nodes) == 1 else {}
        args = node.get("args", [])
        tensors = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        sources = [t.get("config", {}).get("keras_history", [None])[0]
                   for t in tensors if isinstance(t, dict)]
        if (len(args) != 1 or not tensors or sources != [previous] * len(tensors)
                or set(node.get("kwargs", {})) - _CALL_KWARGS):
            return None
        x = f"[{', '.join(['x'] * len(tensors))}]" if tensors is not args else "x"
        layer = model.get_layer(entry["config"]["name"])
        if isinstance(layer, keras.Model) and _MOBILENET.fullmatch(layer.name):
            weights = '"imagenet"' if pretrained else "None"
            lines += [f"base = keras.applications.MobileNetV2(input_shape="
                      f"{tuple(layer.inputs[0].shape[1:])}, include_top=False, weights={weights})",
                      f"base.trainable = {layer.trainable}", f"x = base({x}, training=False)"]
        elif (entry.get("module") == "keras.layers" and entry.get("registered_name") is None
              and hasattr(keras.layers, entry["class_name"])):
            layer_cls = getattr(keras.layers, entry["class_name"])
            lines.append(f"x = {_call('keras.layers', layer_cls, entry['config'])}({x})")
        else:
            return None
        previous = layer.name
    return lines + [f"return keras.Model(inputs, x, name={_literal(model.name)})"]


def _json_code(model) -> list[str]:
    """The model as its Keras JSON config (weights start fresh, pretrained ones too)."""
    config = {k: v for k, v in json.loads(model.to_json()).items() if k != "compile_config"}
    text = json.dumps(config)
    chunks = [f"    {text[i:i + 88]!r}" for i in range(0, len(text), 88)]
    return ["config = (", *chunks, ")", "return keras.models.model_from_json(config)"]


def _compile_args(model, num_classes: int) -> dict:
    """Learning rate, optimizer, loss and labels as the run's model was compiled with them."""
    config = model.optimizer.get_config()
    config.pop("learning_rate")
    rate = initial_learning_rate(model)  # a schedule's peak
    loss = (_literal(model.loss) if isinstance(model.loss, str)
            else _call("keras.losses", type(model.loss), model.loss.get_config()))
    optimizer = _call("keras.optimizers", type(model.optimizer), config, learning_rate="rate")
    return {"learning_rate": repr(float(f"{rate:.6g}")), "loss": loss, "optimizer": optimizer,
            "one_hot": np.ndim(targets_for(model, np.zeros(1, np.int64), num_classes)) == 2,
            "steps": model.get_compile_config().get("steps_per_execution", 1)}


def _schedule_steps(run: Run) -> int | None:
    """A time-budget run's schedule length in steps (what its budget allowed); None otherwise."""
    if not run.settings.seconds or run.settings.lr_schedule != "cosine":
        return None
    from ..training.schedule import schedule_steps
    return schedule_steps(run.model.optimizer._learning_rate)


def reproduce_script(run: Run) -> str:
    """A standalone Python script (keras + numpy) that repeats `run` and saves model.keras."""
    s, spec, ev = run.settings, MODELS[run.model_key], run.evaluation
    accuracy = "n/a" if math.isnan(ev.accuracy) else f"{ev.accuracy:.4f}"
    stopped = f" (stopped early: {run.result.stopped})" if run.result.stopped else ""
    header = [
        f'"""Train {spec.title} on {_what(run.dataset)} with plain Keras, as the image-classifier app did."""',
        f"# Reproduces the app's run of {spec.title} ({run.model_key}) on {run.dataset.summary()}",
        f"# Settings: {s.to_dict()}",
        f"# The app's result: test accuracy {accuracy} on {len(run.dataset.y_test):,} test images after "
        f"{run.result.epochs_done} epoch(s){stopped}, {run.result.seconds:.1f} s of training.",
        *([f"# The app's run was a {s.seconds:g} s time budget: this script trains the epochs it "
           "began, with the schedule its budget set."] if s.seconds else []),
    ]
    epochs = len(run.result.history.get("loss", [])) if s.seconds else s.epochs or spec.default_epochs
    return _script(run.model, run.dataset, s, header, epochs, s.batch_size or spec.batch_size,
                   _schedule_steps(run))


def plan_script(dataset, model_key: str, settings: TrainSettings | None = None) -> str:
    """The script for a run not trained yet: what the app runs for `model_key` on `dataset`
    with `settings` (the walk-through shows its parts, `script_parts`). Builds the model."""
    s, spec = model_settings(model_key, settings), MODELS[model_key]
    model = build_model(model_key, dataset.image_shape, dataset.num_classes, s, dataset.x_train)
    header = [
        f'"""Train {spec.title} on {_what(dataset)} with plain Keras, as the image-classifier app does."""',
        f"# What the app runs for {spec.title} ({model_key}) on {dataset.summary()}",
        f"# Settings: {s.to_dict()}",
        *([f"# The app trains for {s.seconds:g} s; this script trains {s.epochs} epoch(s)."]
          if s.seconds else []),
    ]
    return _script(model, dataset, s, header, s.epochs, s.batch_size, None)


def _what(data) -> str:
    return ("cats vs dogs" if data.key == "cats_vs_dogs" else data.title
            if data.key in KERAS_DATASETS else "an image folder")


def _script(model, data, s: TrainSettings, header: list[str], epochs: int, batch_size: int,
            schedule_steps: int | None) -> str:
    """The take-home script: `header` lines, then the data, model, training and looking."""
    folder, cats = data.key not in KERAS_DATASETS, data.key == "cats_vs_dogs"
    header = header + [
        *([f"# The app's run moved its images at random each epoch (augment={s.augment!r}, "
           "classifier/training/augment.py); this script does not."] if s.augment not in (None, "flip") else []),
        "# Results differ slightly from run to run and machine to machine (threads, CPU or GPU",
        "# kernels, library versions), even with the same seed.",
    ]
    load, data_arg = _LOAD_KERAS.format(key=data.key), ""
    if folder:
        header += ["# The app reads images with its own loader and splits folders its own way,",
                   "# so pixels and splits differ a little from the app's."]
        h, w, c = data.image_shape
        load = _LOAD_FOLDER.format(color='"rgb"' if c == 3 else '"grayscale"', size=(h, w)) + (
            _SPLIT_CATS if cats else _SPLIT_FOLDER)
        where = ("the cats_and_dogs_filtered folder (with train/ and validation/)" if cats
                 else "a folder with one sub-folder of images per class")
        data_arg = f'\n    parser.add_argument("--data", required=True, help="{where}")'
    body = _chain_code(model, s.pretrained) or _json_code(model)
    return _SCRIPT.format(
        header="\n".join(map(_one_line, header)), seed=s.seed, epochs=epochs,
        batch_size=batch_size,
        validation_split=s.validation_split, cosine=s.lr_schedule == "cosine",
        warmup=s.warmup or 0.0, schedule_steps=schedule_steps, flip=s.augment == "flip",
        data_share=s.data_share, wrong_labels=s.label_noise,
        class_names=json.dumps(data.class_names), build="\n".join("    " + b for b in body),
        load_data=load, data_arg=data_arg, **_compile_args(model, data.num_classes))


def script_parts(source: str) -> dict[str, str]:
    """A script's top-level functions and constants by name, each as its source lines (a
    constant's line keeps its comment): what the walk-through shows of a step."""
    lines, parts = source.splitlines(), {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            parts[node.name] = "\n".join(lines[node.lineno - 1:node.end_lineno])
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            parts[node.targets[0].id] = "\n".join(lines[node.lineno - 1:node.end_lineno])
    return parts


def _plain(value):
    """JSON-ready: numpy values as Python ones, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def metrics_json(run: Run) -> str:
    """The run's settings, history and test results as JSON (indent 2, NaN as null)."""
    import keras
    data = {"format": "image-classifier metrics", "format_version": FORMAT_VERSION,
            **run.metadata(), "parameters": int(run.model.count_params()),
            "confusion_matrix": run.evaluation.confusion_matrix(),
            "keras_version": keras.__version__}
    return json.dumps(_plain(data), indent=2, allow_nan=False)


def write_take_home(run: Run, folder: str | Path) -> tuple[Path, Path]:
    """Write train_<model>_<dataset>.py and metrics.json into folder; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", f"train_{run.model_key}_{run.dataset.key}")
    script, metrics = folder / f"{name}.py", folder / "metrics.json"
    script.write_text(reproduce_script(run))
    metrics.write_text(metrics_json(run) + "\n")
    return script, metrics
