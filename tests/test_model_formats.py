"""TFLite (float32, int8) and ONNX exports, run in their own runtimes against the Keras model."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier.data.datasets import load_dataset
from classifier.export import formats as mf
from classifier.models.storage import load_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models"
N = 300  # test images per check


def keras_probabilities(model, images: np.ndarray) -> np.ndarray:
    """The reference: the Keras model itself, one batch, as the app's Predictor runs it."""
    return np.asarray(model.predict_on_batch(images.astype(np.float32)), np.float64)


def shipped(name: str) -> tuple:
    """(model, the first N test images of its dataset, their labels)."""
    model, meta = load_model(SHIPPED / name)
    data = load_dataset(meta["dataset"])
    return model, data.x_test[:N], data.y_test[:N]


@pytest.fixture(scope="module")
def mlp_exports(tmp_path_factory):
    """The shipped Fashion-MNIST MLP in every format, through `export_folder`."""
    folder = tmp_path_factory.mktemp("mlp_exports")
    return {fmt: mf.export_folder(SHIPPED / "fashion_mlp", fmt,
                                  folder / f"mlp-{fmt}{mf.FORMATS[fmt]}", images=N)
            for fmt in mf.FORMATS}


def run_snippet(report, monkeypatch, capsys, code: str | None = None, **names) -> dict:
    """Execute the report's loading snippet (or `code`) beside its file, as a user would."""
    monkeypatch.chdir(report.path.parent)
    scope = dict(names)
    exec(compile(code or report.snippet, "snippet", "exec"), scope)
    scope["printed"] = capsys.readouterr().out.strip()
    return scope


@pytest.mark.parametrize("name", ["fashion_mlp", "fashion_cnn_bn"])
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_float_exports_match_keras(name, fmt, tmp_path, monkeypatch, capsys):
    report = mf.export_folder(SHIPPED / name, fmt, tmp_path / f"m{mf.FORMATS[fmt]}", images=N)
    assert report.images == N and report.max_prob_diff <= 1e-4 and report.top1_agreement == 1
    assert report.bytes == report.path.stat().st_size > 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [report.path.name]  # no temp left
    model, x, _ = shipped(name)
    got = mf.runtime_probabilities(report.path, fmt, x)
    np.testing.assert_allclose(got, keras_probabilities(model, x), atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)
    scope = run_snippet(report, monkeypatch, capsys)
    blank = np.zeros((1, 28, 28, 1), np.uint8)
    np.testing.assert_allclose(scope["probabilities"], keras_probabilities(model, blank),
                               atol=1e-4, rtol=0)
    assert scope["printed"] == scope["classes"][int(keras_probabilities(model, blank).argmax())]


@pytest.mark.parametrize("name", ["fashion_mlp", "mnist_cnn"])
def test_int8_export_agrees_at_a_quarter_of_the_size(name, tmp_path, mlp_exports, monkeypatch,
                                                    capsys):
    report = (mlp_exports["tflite-int8"] if name == "fashion_mlp" else
              mf.export_folder(SHIPPED / name, "tflite-int8", tmp_path / "q.tflite", images=N))
    model, x, y = shipped(name)
    assert report.top1_agreement >= 0.99 and report.bytes < 0.3 * 4 * model.count_params()
    # raw uint8 pixels in (scale 1, zero point 0), probabilities out in steps of 1/256
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=str(report.path)).get_signature_runner()
    assert runner.get_input_details()["pixels"]["quantization"] == (1.0, 0)
    assert runner.get_input_details()["pixels"]["dtype"] == np.uint8
    q = runner(pixels=x)["output_0"]
    assert q.dtype == np.uint8
    got = mf.runtime_probabilities(report.path, "tflite-int8", x)
    np.testing.assert_array_equal(got, q / 256)
    keras = keras_probabilities(model, x)
    assert np.mean(got.argmax(1) == keras.argmax(1)) >= 0.99
    assert abs(np.mean(got.argmax(1) == y) - np.mean(keras.argmax(1) == y)) <= 0.01
    scope = run_snippet(report, monkeypatch, capsys)
    np.testing.assert_array_equal(scope["probabilities"],
                                  mf.runtime_probabilities(report.path, "tflite-int8",
                                                           np.zeros((1, 28, 28, 1), np.uint8)))


def test_int8_quantises_inputs_that_do_not_span_0_to_255(tmp_path, monkeypatch, capsys):
    """Calibrated on pixels 64-191, the input scale is 191/255 (ranges include 0): both the
    check and the snippet quantise raw pixels with it, as a hand computation does."""
    model, x, _ = shipped("fashion_mlp")
    data = load_dataset("fashion_mnist")
    dim = x // 2 + 64
    report = mf.export_model(model, "tflite-int8", tmp_path / "dim.tflite", check_images=dim,
                             representative=data.x_train[:N] // 2 + 64)
    assert report.top1_agreement >= 0.99
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_path=str(report.path)).get_signature_runner()
    scale, zero = runner.get_input_details()["pixels"]["quantization"]
    assert zero == 0 and scale == pytest.approx(191 / 255, abs=1e-6)
    by_hand = runner(pixels=np.clip(np.round(dim / scale), 0, 255).astype(np.uint8))
    got = mf.runtime_probabilities(report.path, "tflite-int8", dim)
    np.testing.assert_array_equal(got, by_hand["output_0"] / 256)
    assert "np.zeros((1, 28, 28, 1)) / 0.749" in report.snippet
    code = report.snippet.replace("np.zeros((1, 28, 28, 1))", "image")  # a real image
    scope = run_snippet(report, monkeypatch, capsys, code, image=dim[:1].astype(np.float64))
    np.testing.assert_array_equal(scope["probabilities"], got[:1])


def tamper(path: Path) -> None:
    """Overwrite 4 KB in the middle of the file (its weights) with 0x7f bytes."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = b"\x7f" * 4096
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_a_tampered_file_fails_the_check(fmt, mlp_exports, tmp_path):
    model, x, _ = shipped("fashion_mlp")
    bad = tmp_path / mlp_exports[fmt].path.name
    bad.write_bytes(mlp_exports[fmt].path.read_bytes())
    assert mf.check_export(bad, fmt, model, x)[0] <= 1e-4  # the copy passes
    tamper(bad)
    with pytest.raises(ValueError, match=rf"the {fmt} file's probabilities differ from the "
                                         r"Keras model's by up to .* \(limit 0.0001\)"):
        mf.check_export(bad, fmt, model, x)
    bad.write_bytes(mlp_exports[fmt].path.read_bytes()[:5000])  # cut short
    with pytest.raises(ValueError, match=f"does not load as {fmt} in its runtime"):
        mf.check_export(bad, fmt, model, x)


def test_another_models_file_fails_the_check(mlp_exports):
    cnn, x, _ = shipped("fashion_cnn_bn")
    with pytest.raises(ValueError, match=r"differ from the Keras model's by up to 0\.\d+"):
        mf.check_export(mlp_exports["onnx"].path, "onnx", cnn, x)
    with pytest.raises(ValueError, match=r"picks the Keras model's class on only \d+\.\d\d% of "
                                         r"300 test images \(needs 99%\)"):
        mf.check_export(mlp_exports["tflite-int8"].path, "tflite-int8", load_model(
            SHIPPED / "mnist_cnn")[0], x)


def test_a_failed_check_deletes_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    model, x, _ = shipped("fashion_mlp")
    monkeypatch.setattr(mf, "MAX_PROB_DIFF", 0.0)
    out = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=rf"^{out} not written: the onnx file's probabilities "
                                         r"differ .*\(limit 0\)$"):
        mf.export_model(model, "onnx", out, check_images=x)
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"the previous export")
    with pytest.raises(ValueError, match="not written"):
        mf.export_model(model, "onnx", out, check_images=x)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert out.read_bytes() == b"the previous export"


@pytest.mark.parametrize("build", ["mlp_logits", "cnn_aug"])
def test_logits_and_augmentation_export_as_they_predict(build, tmp_path):
    """Softmax is added to a logits model; RandomFlip/RandomRotation are left out (Keras' own
    ONNX export keeps their ops, which ONNX Runtime cannot load)."""
    from conftest import make_dataset

    from classifier.models import registry as models
    data = make_dataset(n_train=0, n_test=64)
    model = getattr(models, build)((28, 28, 1), 3)
    for fmt in ("onnx", "tflite"):
        report = mf.export_model(model, fmt, tmp_path / f"m{mf.FORMATS[fmt]}",
                                 check_images=data.x_test)
        probs = mf.runtime_probabilities(report.path, fmt, data.x_test)
        np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
        out = keras_probabilities(model, data.x_test)  # no augmentation when predicting
        if build == "mlp_logits":  # softmax by hand
            out = np.exp(out - out.max(1, keepdims=True))
            out /= out.sum(1, keepdims=True)
        np.testing.assert_allclose(probs, out, atol=1e-4, rtol=0)


def test_hostile_arguments(tmp_path):
    model, x, _ = shipped("fashion_mlp")
    cases = [
        (dict(fmt="tflite-fp16"), r"unknown export format 'tflite-fp16': use one of tflite, "
                                  r"tflite-int8, onnx"),
        (dict(out_path=tmp_path / "missing" / "m.onnx"), r"folder .*missing does not exist"),
        (dict(out_path=tmp_path / "m.tflite"), r"the onnx file's name must end in .onnx, got "
                                               r"'.*m.tflite'"),
        (dict(out_path=tmp_path), r"must end in .onnx"),
        (dict(check_images=x[..., 0]), r"check_images must be a non-empty array \(N, 28, 28, "
                                       r"1\) of the model's input images, got \(300, 28, 28\)"),
        (dict(check_images=x[:0]), r"check_images must be a non-empty array"),
        (dict(fmt="tflite-int8", out_path=tmp_path / "q.tflite"), r"representative \(int8 needs"),
    ]
    for change, message in cases:
        kwargs = {"fmt": "onnx", "out_path": tmp_path / "m.onnx", "check_images": x, **change}
        with pytest.raises(ValueError, match=message):
            mf.export_model(model, kwargs.pop("fmt"), kwargs.pop("out_path"), **kwargs)
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        mf.export_model(model, "onnx", tmp_path / "dir.onnx", check_images=x)
    with pytest.raises(ValueError, match="is not a saved model"):
        mf.export_folder(tmp_path / "nothing", "onnx", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="need at least 1 check image"):
        mf.export_folder(SHIPPED / "fashion_mlp", "onnx", tmp_path / "m.onnx", images=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.onnx"]


def cli(*args):
    env = {**os.environ, "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "classifier", "export", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_export_end_to_end(tmp_path):
    out = cli("--model", str(SHIPPED / "fashion_mlp"), "--format", "onnx",
              "--out", str(tmp_path / "mlp.onnx"), "--images", "200", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]  # one JSON line, no noise
    assert row["path"] == str(tmp_path / "mlp.onnx") and row["format"] == "onnx"
    assert row["images"] == 200 and row["max_prob_diff"] <= 1e-4
    assert row["bytes"] == (tmp_path / "mlp.onnx").stat().st_size
    assert 'InferenceSession("mlp.onnx"' in row["snippet"]
    for args, message in (
            (("--format", "onnx", "--out", str(tmp_path / "none" / "m.onnx")), "does not exist"),
            (("--model", str(tmp_path / "nothing"), "--format", "onnx", "--out",
              str(tmp_path / "m.onnx")), "is not a saved model")):
        if "--model" not in args:
            args = ("--model", str(SHIPPED / "fashion_mlp"), *args)
        bad = cli(*args)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        last = bad.stderr.strip().splitlines()[-1]  # TensorFlow may log before it
        assert last.startswith("error:") and message in last
    bad = cli("--model", str(SHIPPED / "fashion_mlp"), "--format", "pb", "--out", "m.pb")
    assert bad.returncode == 2 and "invalid choice: 'pb'" in bad.stderr
