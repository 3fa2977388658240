"""storage.py: round trips, missing files, crashes in the middle of a save, and safe_mode."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from classifier.models.storage import (
    META_FILE,
    MODEL_FILE,
    load_model,
    read_metadata,
    save_model,
)

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (6, 6, 1)


def tiny_model(seed: int):
    import keras

    from classifier.models.registry import build_model
    keras.utils.set_random_seed(seed)
    return build_model("mlp", SHAPE, 3)


def images(n: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, *SHAPE)).astype(np.uint8)


def predictions(model) -> np.ndarray:
    return np.asarray(model.predict_on_batch(images()))


def saved_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- round trip --------------------------------------------------------------------------

def test_save_then_load_round_trip(tmp_path):
    import keras
    model = tiny_model(0)
    folder = tmp_path / "runs" / "first"  # parents are made
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    meta_in = {"class_names": ["a", "b", "c"], "style": "plain", "mean": np.float32(0.5),
               "shape": np.array(SHAPE)}
    assert save_model(model, folder, meta_in) == folder
    after = dt.datetime.now(dt.timezone.utc)
    assert saved_files(folder) == [META_FILE, MODEL_FILE]

    again, meta = load_model(folder)
    assert set(meta) == {"class_names", "style", "mean", "shape", "saved_at", "keras_version",
                         "parameters"}
    assert meta["class_names"] == ["a", "b", "c"] and meta["style"] == "plain"
    assert meta["mean"] == 0.5 and meta["shape"] == list(SHAPE)  # numpy values stored as JSON
    assert meta["parameters"] == model.count_params() == again.count_params()
    assert meta["keras_version"] == keras.__version__
    saved_at = dt.datetime.fromisoformat(meta["saved_at"])
    assert saved_at.utcoffset() == dt.timedelta(0) and before <= saved_at <= after
    assert read_metadata(folder) == meta
    np.testing.assert_allclose(predictions(again), predictions(model), rtol=1e-6, atol=1e-7)
    assert again.optimizer is not None  # compiled, ready to evaluate or train on


def test_saving_again_replaces_the_previous_save(tmp_path):
    first, second = tiny_model(0), tiny_model(1)
    save_model(first, tmp_path, {"name": "first"})
    save_model(second, tmp_path, {"name": "second"})
    loaded, meta = load_model(tmp_path)
    assert meta["name"] == "second" and saved_files(tmp_path) == [META_FILE, MODEL_FILE]
    np.testing.assert_allclose(predictions(loaded), predictions(second), rtol=1e-6, atol=1e-7)


# --- not a saved model -------------------------------------------------------------------

def test_folder_without_metadata(tmp_path):
    save_model(tiny_model(0), tmp_path, {})
    (tmp_path / META_FILE).unlink()
    with pytest.raises(ValueError, match=f"is not a saved model: it has no {META_FILE}"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match=f"it has no {META_FILE}"):
        load_model(tmp_path / "missing")


def test_folder_without_model_file(tmp_path):
    (tmp_path / META_FILE).write_text(json.dumps({"class_names": ["a", "b"]}))
    with pytest.raises(ValueError, match=f"is not a saved model: it has no {MODEL_FILE}"):
        load_model(tmp_path)


# --- a crash in the middle of a save -----------------------------------------------------

def test_failed_save_leaves_the_previous_model(tmp_path, monkeypatch):
    model_a, model_b = tiny_model(0), tiny_model(1)
    save_model(model_a, tmp_path, {"name": "A"})
    expected = predictions(model_a)
    assert not np.allclose(predictions(model_b), expected)
    real_save = model_b.save

    def crash_half_way(path, *args, **kwargs):  # the disk fills up half-way through the zip
        real_save(path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_b, "save", crash_half_way)
    with pytest.raises(OSError, match="No space left"):
        save_model(model_b, tmp_path, {"name": "B"})

    assert saved_files(tmp_path) == [META_FILE, MODEL_FILE]  # the half file was removed
    loaded, meta = load_model(tmp_path)
    assert meta["name"] == "A"
    np.testing.assert_allclose(predictions(loaded), expected, rtol=1e-6, atol=1e-7)


CRASHING_SAVE = """
import os, signal, sys
from pathlib import Path
import keras
from classifier.models.registry import build_model
from classifier.models.storage import save_model

keras.utils.set_random_seed(1)
model = build_model("mlp", (6, 6, 1), 3)
real_save = model.save

def killed_half_way(path, *args, **kwargs):  # the power goes off half-way through the zip
    real_save(path, *args, **kwargs)
    data = Path(path).read_bytes()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)

model.save = killed_half_way
save_model(model, sys.argv[1], {"name": "B"})
print("not killed")
"""


def test_process_killed_while_saving_leaves_the_previous_model(tmp_path):
    model_a = tiny_model(0)
    save_model(model_a, tmp_path, {"name": "A"})
    expected = predictions(model_a)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASHING_SAVE), str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert "not killed" not in done.stdout

    leftovers = [name for name in saved_files(tmp_path) if name not in (META_FILE, MODEL_FILE)]
    # only hidden temporary files are left beside the intact previous save
    assert leftovers and all(name.startswith((".model.", ".metadata.")) for name in leftovers)
    loaded, meta = load_model(tmp_path)
    assert meta["name"] == "A"
    np.testing.assert_allclose(predictions(loaded), expected, rtol=1e-6, atol=1e-7)
    save_model(model_a, tmp_path, {"name": "A again"})  # the next save sweeps them away
    assert sorted(saved_files(tmp_path)) == sorted([META_FILE, MODEL_FILE])


# --- safe_mode ---------------------------------------------------------------------------

def test_lambda_layer_is_refused_and_never_runs(tmp_path):
    import keras
    marker = tmp_path / "lambda_ran"
    path_text = str(marker)
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Lambda(lambda x: (open(path_text, "a").close(), x * 2)[1])])
    folder = tmp_path / "untrusted"
    folder.mkdir()
    model.save(folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps({"class_names": ["a", "b", "c"]}))
    marker.unlink(missing_ok=True)  # building the model ran the lambda once

    with pytest.raises(ValueError, match=r"refusing to load .*model\.keras: it contains Python "
                                         r"code \(a Lambda layer\)") as refused:
        load_model(folder)
    assert "safe_mode" in str(refused.value.__cause__)  # Keras' own refusal, kept as the cause
    assert not marker.exists()  # the lambda was never executed

    # the marker does work: loading without safe_mode runs the lambda
    keras.saving.load_model(folder / MODEL_FILE, safe_mode=False)
    assert marker.exists()
