"""Save and load a trained model: `DIR/model.keras` plus `DIR/metadata.json`, written atomically."""
from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

MODEL_FILE = "model.keras"
META_FILE = "metadata.json"


def temp_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a saved model is an ordinary file
    return Path(tmp)


def save_model(model, folder: str | Path, metadata: dict) -> Path:
    """Save model and metadata into `folder`. Both are written to temporary files first and
    renamed into place only when both are complete, so a crash mid-save leaves the previous
    save intact."""
    import keras
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {**metadata, "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "keras_version": keras.__version__, "parameters": int(model.count_params())}
    text = json.dumps(meta, indent=2, default=_jsonable)  # fails before anything is written
    for pattern in (".model.*.keras", ".metadata.*.json"):  # left by a save that was killed
        for stale in folder.glob(pattern):
            stale.unlink(missing_ok=True)
    temps = [temp_beside(folder / MODEL_FILE), temp_beside(folder / META_FILE)]
    try:
        model.save(temps[0])
        temps[1].write_text(text)
        os.replace(temps[0], folder / MODEL_FILE)
        os.replace(temps[1], folder / META_FILE)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return folder


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in metadata")


def read_metadata(folder: str | Path) -> dict:
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ValueError(f"{folder} is not a saved model: it has no {META_FILE}")
    return json.loads(path.read_text())


def update_metadata(folder: str | Path, **fields) -> dict:
    """Add or replace `fields` in a saved model's metadata (written beside, then renamed)."""
    path = Path(folder) / META_FILE
    meta = {**read_metadata(folder), **fields}
    tmp = temp_beside(path)
    try:
        tmp.write_text(json.dumps(meta, indent=2, default=_jsonable) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return meta


def load_model(folder: str | Path):
    """Load (model, metadata) from a folder written by `save_model`, with Keras' safe_mode on."""
    import keras
    folder = Path(folder)
    meta = read_metadata(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ValueError(f"{folder} is not a saved model: it has no {MODEL_FILE}")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=True)
    except ValueError as err:
        if "safe_mode=False" not in str(err):  # Keras' safe-mode refusals all say this
            raise
        what = "a Lambda layer" if "Lambda" in str(err) else "a Python function"
        raise ValueError(f"refusing to load {path}: it contains Python code ({what}), which "
                         "could run anything on this computer; only models without Lambda "
                         "layers or custom Python functions can be loaded") from err
    return model, meta
