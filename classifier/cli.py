"""`python -m classifier datasets | models | train | evaluate | predict`: the app without a browser.

Every command prints readable lines, or JSON with --json. Errors are one line on stderr and exit
status 2, never a traceback. TensorFlow's own log lines are not shown (see `quiet_tensorflow`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np


def _print(obj, as_json: bool, text: str) -> None:
    print(json.dumps(obj) if as_json else text, flush=True)


def cmd_datasets(args) -> None:
    from .data.datasets import DATASETS
    for key, (_, source, description) in DATASETS.items():
        src = source()
        _print({"dataset": key, "description": description, "source": src.description,
                "available": src.where is not None}, args.json,
               f"{key:14} {description}\n{'':14} loads from {src.description}")


def cmd_models(args) -> None:
    from .models.registry import MODELS
    for spec in MODELS.values():
        _print({"model": spec.key, "title": spec.title, "description": spec.description,
                "default_epochs": spec.default_epochs, "datasets": list(spec.datasets)},
               args.json, f"{spec.key:12} {spec.title}: {spec.description} "
                          f"(default {spec.default_epochs} epochs; for {', '.join(spec.datasets)})")


def _load_dataset(key: str, args):
    from .data.datasets import load_dataset
    dataset = load_dataset(key)
    return dataset.subset(args.limit) if getattr(args, "limit", None) else dataset


def _epoch_line(p: dict) -> str:
    val = (f"  val_loss {p['val_loss']:.4f}  val_accuracy {p['val_accuracy']:.4f}"
           if "val_accuracy" in p else "")
    eta = f"  ETA {p['eta']:.0f}s" if not math.isnan(p["eta"]) else ""
    return (f"epoch {p['epoch']}/{p['epochs']}  loss {p['loss']:.4f}  accuracy {p['accuracy']:.4f}"
            f"{val}  {p['epoch_seconds']:.1f}s{eta}")


def _back_end():
    """This process, unless the environment names a back end (backends/choice.py): a Ray
    cluster, say."""
    from .backends.choice import trainer
    from .backends.inline import InlineTrainer
    if os.environ.get("CLASSIFIER_TRAINER") or os.environ.get("RAY_ADDRESS"):
        return trainer()
    return InlineTrainer()


def cmd_train(args) -> None:
    from .backends.choice import train_stream
    from .core.settings import TrainSettings
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                             learning_rate=args.lr, validation_split=args.validation_split,
                             seed=args.seed, lr_schedule=args.schedule,
                             tensorboard_dir=args.tensorboard, pretrained=not args.random_weights,
                             max_seconds=args.max_seconds, seconds=args.seconds,
                             augment="flip" if args.flip else args.augment,
                             data_share=args.data_share,
                             label_noise=args.label_noise, dropout=args.dropout,
                             weight_decay=args.weight_decay)
    dataset = _load_dataset(args.dataset, args)
    if not args.json:
        print(dataset.summary(), flush=True)

    def on_metrics(p: dict) -> None:
        if p["kind"] == "epoch":
            _print({k: v for k, v in p.items() if k != "kind"}, args.json, _epoch_line(p))

    run = None
    for item in train_stream(dataset, args.model, settings, threading.Event(),
                             back_end=_back_end()):
        if isinstance(item, list):
            for point in item:
                on_metrics(point)
        else:
            run = item
    folder = run.save(args.out)
    ev = run.evaluation
    _print({"final": True, "test_accuracy": ev.accuracy, "test_loss": ev.loss,
            "epochs_done": run.result.epochs_done, "train_seconds": run.result.seconds,
            "stopped": run.result.stopped, "saved": str(folder)}, args.json,
           f"test accuracy {ev.accuracy:.4f}  test loss {ev.loss:.4f}  "
           f"({run.result.seconds:.1f}s training)  saved to {folder}")


def saved_model(folder: str) -> str:
    """`folder` if it holds a saved model; else a one-line ValueError saying how to get one:
    train it, or use a model shipped in assets/models (the app's "(shipped)" models)."""
    from .models.storage import META_FILE
    from .serving.session import ASSETS, SHIPPED
    if (Path(folder) / META_FILE).is_file():
        return folder
    shipped = [_shown(ASSETS / "models" / f) for f in SHIPPED.values()
               if (ASSETS / "models" / f).is_dir()]
    hint = f"train one first (python -m classifier train --out {folder})"
    if shipped:
        hint += f", or use a shipped one: --model {shipped[0]}"
        hint += f" (or {', '.join(shipped[1:])})" if shipped[1:] else ""
    where = "does not exist" if not Path(folder).exists() else f"has no {META_FILE}"
    raise ValueError(f"{folder} is not a saved model (it {where}): {hint}")


def _shown(path: Path) -> str:
    """`path` as a user would type it here: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_evaluate(args) -> None:
    from .inference.evaluation import evaluate
    from .models.storage import load_model
    model, meta = load_model(saved_model(args.model))
    dataset = _load_dataset(args.dataset or meta["dataset"], args)
    if list(dataset.class_names) != list(meta["class_names"]):
        raise ValueError(f"the model knows classes {meta['class_names']} but the dataset has "
                         f"{dataset.class_names}: pass the dataset it was trained on (--dataset)")
    ev = evaluate(model, dataset)
    per_class = ev.per_class_accuracy()
    lines = [f"test accuracy {ev.accuracy:.4f}  test loss {ev.loss:.4f}  on {len(ev.y_true):,} "
             f"test images of {dataset.title}"]
    lines += [f"  {name:14} {acc:.3f}" for name, acc in per_class.items()]
    _print({**ev.summary(), "confusion_matrix": ev.confusion_matrix().tolist()}, args.json,
           "\n".join(lines))


def cmd_predict(args) -> None:
    from .inference.predict import Predictor
    predictor = Predictor.from_folder(saved_model(args.model))
    failed = 0
    for path in args.images:
        try:
            pred = predictor.predict(path)
        except ValueError as exc:
            failed += 1
            _print({"file": path, "error": str(exc)}, args.json, f"{path}: error: {exc}")
            continue
        top = ", ".join(f"{name} {p:.1%}" for name, p in pred.top(args.top))
        unsure = " (I am not sure: it does not look like what I was trained on)" if pred.unsure else ""
        _print({"file": path, "label": pred.label, "probabilities": pred.probabilities,
                "unsure": pred.unsure}, args.json, f"{path}: {top}{unsure}")
    if failed:
        raise SystemExit(2)


OTHER_DATASET = {"mnist": "fashion_mnist", "fashion_mnist": "mnist"}  # unlike anything it knows
ASSETS_NOVELTY = Path(__file__).resolve().parents[1] / "assets" / "novelty"
OTHER_IMAGES = 500  # of them, through the app's clean-up, to count "I am not sure"


def cmd_calibrate(args) -> None:
    """Measure when the model should say "I am not sure" (classifier/inference/calibration.py) on its
    validation images, save it in its metadata, and report how often it would say so."""
    from dataclasses import asdict

    from .core.settings import TrainSettings
    from .data.datasets import load_dataset
    from .inference.calibration import calibrate, ink_range, ink_share, unsure_rates
    from .inference.evaluation import predict_probabilities
    from .inference.novelty import for_dataset
    from .inference.predict import Predictor
    from .models.storage import load_model, update_metadata
    model, meta = load_model(saved_model(args.model))
    data = _load_dataset(meta["dataset"], args)
    s = TrainSettings.from_dict(meta.get("settings") or {})
    if s.validation_split or data.x_val is not None:
        _, _, x_held, y_held = data.split_validation(s.validation_split, s.seed)
        where = f"{len(y_held):,} validation images of {data.title}, held out of its training"
    else:  # it trained on every training image: the test set is all that it never saw
        x_held, y_held = data.x_test, data.y_test
        where = f"the {len(y_held):,} test images of {data.title} (it trained on all the others)"
    inked = data.style != "plain"  # 28x28 digits or garments: their ink share is checked too
    gate = for_dataset(data.key) if inked else None  # and the dataset's gate (novelty.py)
    flagged = None  # held-out images that the ink share or the gate already call unsure
    if inked:
        low, high = ink_range(data.x_train)
        flagged = (ink_share(x_held) < low) | (ink_share(x_held) > high)
        flagged |= gate.unlike(x_held) if gate else False
    cal = calibrate(predict_probabilities(model, x_held), y_held, where,
                    train_images=data.x_train if inked else None, flagged=flagged)
    rates = {"test images": unsure_rates(cal, predict_probabilities(model, data.x_test), data.y_test,
                                         data.x_test if inked else None, gate)}
    other = OTHER_DATASET.get(data.key)
    if other:  # another dataset's test images through the app's own path (the clean-up)
        predictor = Predictor(model, data.class_names, data.style, {**meta, "calibration": cal.to_dict()})
        images = load_dataset(other).x_test[:OTHER_IMAGES]
        rates[f"{other} images"] = {"all": float(np.mean([predictor.predict(i[..., 0]).unsure
                                                          for i in images]))}
    update_metadata(args.model, calibration=cal.to_dict(), unsure_rates=rates,
                    gate=asdict(gate.info) if gate else None)
    lines = [f"temperature {cal.temperature:.3f}; 'I am not sure' below {cal.unsure_below:.3f} "
             f"(calibrated top probability), which {cal.kept:.1%} of the right answers on "
             f"{cal.measured_on} reach"]
    lines += [f"  'not sure' on {where}: " + ", ".join(f"{k} {v:.1%}" for k, v in r.items())
              for where, r in rates.items()]
    if gate:
        lines.append(f"  counting the gate of {data.title} (assets/novelty/{data.key}): "
                     f"'not sure' for what is unlike its images")
    _print({"calibration": cal.to_dict(), "unsure_rates": rates}, args.json, "\n".join(lines))


def cmd_gate(args) -> None:
    """Train the dataset's gate (classifier/training/novelty.py) against crops of the pictures
    that packages ship, and the other small dataset; save it, and say how often it stops the
    test images, the other dataset and the check set's photos (assets/own_photos)."""
    from .data.datasets import load_dataset
    from .training.novelty import RECIPES, outlier_images, source_files, train_gate
    if args.dataset not in OTHER_DATASET:
        raise ValueError(f"a gate is for a dataset of the clean-up's 28x28 images: "
                         f"{' or '.join(OTHER_DATASET)}, not {args.dataset!r}")
    data = load_dataset(args.dataset)
    photos = _own_photos()
    recipe = RECIPES[data.key]
    files = source_files(excluded=[r["source"] for r in _rows(photos)] if photos else [],
                         diagrams=recipe["diagrams"])
    if not files:
        raise ValueError("no pictures to learn from: apt-get install opencv-doc mate-backgrounds "
                         "plasma-workspace-wallpapers dde-account-faces")
    outliers = outlier_images(files, data.style, n=args.crops or recipe["crops"], seed=args.seed)
    others = load_dataset(OTHER_DATASET[data.key]).x_train[::recipe["others_every"]]
    log = (lambda line: None) if args.json else print
    log(f"{len(files)} pictures, {len(outliers):,} crops through the clean-up, "
        f"{len(others):,} images of {OTHER_DATASET[data.key]}")
    gate = train_gate(data, outliers, others, epochs=args.epochs or recipe["epochs"], seed=args.seed,
                      log=log)
    rates = {"test images": float(gate.unlike(data.x_test).mean()),
             f"{OTHER_DATASET[data.key]} test images":
                 float(gate.unlike(load_dataset(OTHER_DATASET[data.key]).x_test).mean())}
    if photos:
        seen = [x for r in _rows(photos)
                if (x := _cleaned_or_none(photos.parent / r["file"], data.style)) is not None]
        rates["photos (assets/own_photos) through the clean-up"] = (
            float(gate.unlike(np.stack(seen)).mean()) if seen else float("nan"))
    gate.info.rates = rates
    folder = gate.save(args.out or ASSETS_NOVELTY / data.key)
    _print({"gate": str(folder), "threshold": gate.info.threshold, "rates": rates}, args.json,
           f"saved to {folder}; threshold {gate.info.threshold:.4f}, which {gate.info.kept:.1%} "
           f"of {gate.info.measured_on} reach\n"
           + "\n".join(f"  unlike {data.title}'s images: {v:.1%} of {k}" for k, v in rates.items()))


def _own_photos() -> Path | None:
    from .serving.session import ASSETS
    path = ASSETS / "own_photos" / "labels.csv"
    return path if path.is_file() else None


def _rows(path: Path) -> list[dict]:
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _cleaned_or_none(path: Path, style: str):
    """The clean-up's 28x28 of the photo, or None (blank, or not here: no question for the gate)."""
    from .images.preprocess import prepare
    try:
        return prepare(path, (28, 28, 1), style).seen
    except ValueError:
        return None


def cmd_export(args) -> None:
    """Write a saved model as TFLite (float32 or int8) or ONNX, checked in its own runtime
    against the Keras model on test images (classifier/export/formats.py)."""
    from .export.formats import export_folder
    report = export_folder(saved_model(args.model), args.format, args.out, images=args.images)
    _print(report.to_dict(), args.json, f"{report.summary()}\nto load it:\n{report.snippet}")


def parser() -> argparse.ArgumentParser:
    from .core.settings import OPTIMIZERS
    from .models.registry import MODELS
    p = argparse.ArgumentParser(prog="python -m classifier", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, fn, helptext in (("datasets", cmd_datasets, "list datasets and where they load from"),
                               ("models", cmd_models, "list the models"),
                               ("train", cmd_train, "train a model and save it"),
                               ("evaluate", cmd_evaluate, "evaluate a saved model on its test set"),
                               ("predict", cmd_predict, "classify image files"),
                               ("calibrate", cmd_calibrate, "measure when a saved model should "
                                                            "say it is not sure"),
                               ("export", cmd_export, "write a saved model as TFLite or ONNX, "
                                                      "checked against it"),
                               ("gate", cmd_gate, "train the gate that says 'not sure' for "
                                                  "what is unlike a dataset's images")):
        sp = sub.add_parser(name, help=helptext)
        sp.set_defaults(fn=fn)
        sp.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "train":
            sp.add_argument("--dataset", default="fashion_mnist", help="dataset key or image folder")
            sp.add_argument("--model", default="mlp", choices=list(MODELS))
            sp.add_argument("--epochs", type=int, help="default: the model's own")
            sp.add_argument("--out", required=True, help="folder to save the model in")
            sp.add_argument("--batch-size", type=int, help="default: the model's own")
            sp.add_argument("--lr", type=float, help="learning rate; default: the model's own")
            sp.add_argument("--optimizer", choices=OPTIMIZERS)
            sp.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
            sp.add_argument("--validation-split", type=float, default=0.1)
            sp.add_argument("--seed", type=int, default=0)
            sp.add_argument("--seconds", type=float,
                            help="train for this long (a time budget): the learning rate is sized "
                                 "to reach 0 then, and the run ends there (instead of --epochs)")
            sp.add_argument("--max-seconds", type=float,
                            help="a safety limit: stop training after this long, wherever the "
                                 "schedule is")
            sp.add_argument("--flip", action="store_true",
                            help="also train on each image's mirror image (garments, photos; "
                                 "never digits)")
            sp.add_argument("--augment", choices=("shift", "flip_shift", "digits", "garments"),
                            help="random changes each epoch: moves of up to 2 px, and for "
                                 "flip_shift mirror images too; digits: rotations, scale, shear, "
                                 "stroke width, never mirrors; garments: flip_shift, and some items' "
                                 "shading evened out as in a photo (classifier/training/augment.py)")
            sp.add_argument("--data-share", type=float, default=1.0,
                            help="the lab: train on this share of the training images (0.01: "
                                 "600 of Fashion-MNIST's, to see overfitting)")
            sp.add_argument("--label-noise", type=float, default=0.0,
                            help="the lab: make this share of the training labels wrong")
            sp.add_argument("--dropout", type=float,
                            help="the lab: every dropout layer's rate (one is added before the "
                                 "output if the model has none); default: the recipe's")
            sp.add_argument("--weight-decay", type=float, default=0.0,
                            help="the lab: the optimizer's decoupled weight decay")
            sp.add_argument("--tensorboard", help="write TensorBoard logs to this folder")
            sp.add_argument("--random-weights", action="store_true",
                            help="MobileNetV2 without ImageNet weights (offline)")
        if name in ("train", "evaluate"):
            sp.add_argument("--limit", type=int, help="use only the first N training images "
                                                      "and N/5 test images (quick tries)")
        if name == "evaluate":
            sp.add_argument("--model", required=True, help="folder of a saved model")
            sp.add_argument("--dataset", help="default: the one the model was trained on")
        if name == "calibrate":
            sp.add_argument("--model", required=True, help="folder of a saved model (its "
                                                           "metadata gets the calibration)")
        if name == "export":
            from .export.formats import CHECK_IMAGES, FORMATS
            sp.add_argument("--model", required=True, help="folder of a saved model")
            sp.add_argument("--format", required=True, choices=list(FORMATS),
                            help="tflite: float32; tflite-int8: quantised from 300 training "
                                 "images; onnx: float32")
            sp.add_argument("--out", required=True, help="file to write (.tflite or .onnx)")
            sp.add_argument("--images", type=int, default=CHECK_IMAGES,
                            help="check on this many of its dataset's test images")
        if name == "gate":
            sp.add_argument("--dataset", required=True, choices=list(OTHER_DATASET))
            sp.add_argument("--out", help="default: assets/novelty/DATASET (what the app uses)")
            sp.add_argument("--epochs", type=int, help="default: the dataset's recipe's "
                                                       "(classifier/training/novelty.py)")
            sp.add_argument("--crops", type=int,
                            help="random crops of each picture, besides the whole; default: "
                                 "the dataset's recipe's")
            sp.add_argument("--seed", type=int, default=0)
        if name == "predict":
            sp.add_argument("--model", required=True, help="folder of a saved model")
            sp.add_argument("--top", type=int, default=3)
            sp.add_argument("images", nargs="+")
    return p


# TensorFlow's lines that bypass TF_CPP_MIN_LOG_LEVEL, written straight to stderr by its C++:
# absl's lines (I/W/E, not F: a fatal one stays), the note absl prints first, LiteRT's
# "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", the int8 converter's settings line
# and the second line of the CPU-instructions note
TF_LINE = re.compile(r"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
                     r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] "
                     r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                     r"|INFO: Created TensorFlow Lite"
                     r"|fully_quantize: \d"
                     r"|To enable the following instructions: .* rebuild TensorFlow")


def quiet_python_logs() -> None:
    """TensorFlow's and absl's Python loggers say only errors (before TensorFlow is imported,
    TF_CPP_MIN_LOG_LEVEL=3 does the same for its C++ logging, unless already set)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - TensorFlow installs absl-py
        pass


@contextlib.contextmanager
def quiet_tensorflow():
    """The process's stderr (file descriptor 2) goes to a temporary file while the block runs,
    and Python's sys.stderr to the real one: the command's own messages show at once (a
    traceback, as ever, at the end); what C++ libraries wrote is shown after the block, less
    TensorFlow's lines (TF_LINE), some of which no setting silences (LiteRT's, the int8
    converter's). For `python -m classifier` only: a process of its own."""
    sys.stderr.flush()
    real = os.dup(2)
    caught = tempfile.TemporaryFile()
    os.dup2(caught.fileno(), 2)
    python_stderr = sys.stderr
    sys.stderr = open(real, "w", buffering=1, encoding=python_stderr.encoding,
                      errors="backslashreplace", closefd=False)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        sys.stderr.close()
        sys.stderr = python_stderr
        os.close(real)
        caught.seek(0)
        for line in caught.read().decode("utf-8", "replace").splitlines():
            if line.strip() and not TF_LINE.match(line):
                print(line, file=sys.stderr)
        caught.close()
        sys.stderr.flush()


def program() -> int:
    """`python -m classifier`: `main` with TensorFlow's log lines left out, unless
    TF_CPP_MIN_LOG_LEVEL asks for them (0: all, 1: warnings and errors)."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1"):
        return main()
    with quiet_tensorflow():
        return main()


def main(argv: list[str] | None = None) -> int:
    quiet_python_logs()
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
