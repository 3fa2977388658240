"""The command line, run as a user runs it: a subprocess, readable lines or JSON, clean errors."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, check=True, as_a_user=False):
    """`python -m classifier ARGS` in a subprocess; `as_a_user`: with the environment a user
    has (no TF_CPP_MIN_LOG_LEVEL set for it)."""
    env = {**os.environ, "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if as_a_user:
        env.pop("TF_CPP_MIN_LOG_LEVEL")
    out = subprocess.run([sys.executable, "-m", "classifier", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_datasets_lists_sources():
    rows = [json.loads(l) for l in cli("datasets", "--json").stdout.splitlines()]
    assert [r["dataset"] for r in rows] == ["fashion_mnist", "mnist", "cats_vs_dogs"]
    assert rows[0]["available"] and "dataset-fashion-mnist" in rows[0]["source"]
    assert not rows[2]["available"] and "internet" in rows[2]["source"]


def test_train_evaluate_predict_json(tmp_path):
    out = cli("train", "--dataset", "mnist", "--model", "mlp", "--epochs", "2", "--limit", "600",
              "--out", str(tmp_path / "m"), "--json").stdout.splitlines()
    rows = [json.loads(l) for l in out]  # every line is JSON: nothing else on stdout
    assert [r["epoch"] for r in rows[:-1]] == [1, 2]
    assert {"loss", "accuracy", "val_accuracy", "epoch_seconds"} <= set(rows[0])
    final = rows[-1]
    assert final["final"] and 0.3 < final["test_accuracy"] <= 1 and Path(final["saved"]).is_dir()

    ev = json.loads(cli("evaluate", "--model", str(tmp_path / "m"), "--limit", "600", "--json").stdout)
    assert len(ev["confusion_matrix"]) == 10 and set(ev["per_class_accuracy"]) == set("0123456789")

    digit = np.zeros((280, 280), np.uint8)
    digit[40:240, 130:150] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "one.png")
    pred = json.loads(cli("predict", "--model", str(tmp_path / "m"), str(tmp_path / "one.png"),
                          "--json").stdout)
    assert pred["file"].endswith("one.png") and set(pred["probabilities"]) == set("0123456789")
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-6
    assert pred["label"] == max(pred["probabilities"], key=pred["probabilities"].get)


def test_errors_are_one_line_without_traceback(tmp_path):
    bad = cli("train", "--dataset", "nope", "--out", str(tmp_path / "m"), check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("error: unknown dataset 'nope'")
    missing = cli("predict", "--model", str(tmp_path / "none"), "x.png", check=False)
    assert missing.returncode == 2 and "is not a saved model" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_predict_without_a_trained_model_says_train_first_and_names_a_shipped_one():
    """The README's `predict --model runs/mlp` before any `train` (issue 26, item 16): one
    line on stderr, exit status 2, saying to train first and naming a shipped model; that
    model then answers the same command."""
    sneaker = "assets/examples/fashion-sneaker.png"
    missing = cli("predict", "--model", "runs/no-such-run", sneaker, check=False, as_a_user=True)
    assert missing.returncode == 2 and missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1, missing.stderr
    line = missing.stderr.strip()
    assert line.startswith("error: runs/no-such-run is not a saved model (it does not exist): "
                           "train one first (python -m classifier train --out "
                           "runs/no-such-run), or use a shipped one: --model assets/models/"), line
    shipped = re.search(r"--model (\S+)", line).group(1)
    answer = cli("predict", "--model", shipped, sneaker, as_a_user=True)
    assert answer.stdout.startswith(f"{sneaker}: ") and answer.stderr == ""


def test_a_command_prints_only_its_own_lines(tmp_path):
    """Without TF_CPP_MIN_LOG_LEVEL in the environment, commands that load TensorFlow print
    nothing of its own logging (absl's "I0000 ..." lines, LiteRT's "INFO: Created TensorFlow
    Lite XNNPACK delegate", the int8 converter's "fully_quantize: ..."): stderr stays empty."""
    model = "assets/models/fashion_mlp"
    runs = [cli("predict", "--model", model, "assets/examples/fashion-bag.png", "--json",
                as_a_user=True)]
    for fmt, out in (("tflite", "m.tflite"), ("tflite-int8", "m-int8.tflite")):
        runs.append(cli("export", "--model", model, "--format", fmt, "--out",
                        str(tmp_path / out), "--images", "20", as_a_user=True))
        assert (tmp_path / out).is_file()
    for run in runs:
        assert run.stderr == "", run.stderr
    assert json.loads(runs[0].stdout)["label"] == "Bag"
    assert all("wrote" in run.stdout for run in runs[1:])
