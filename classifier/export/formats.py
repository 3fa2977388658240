"""TensorFlow Lite (float32, int8) and ONNX copies of a trained model, checked in their runtimes.

Keras' own `model.export` writes them with the tools made for each (the TFLite converter,
tf2onnx). Every file is then loaded by the runtime a user deploys with (LiteRT's interpreter,
ONNX Runtime) and compared with the Keras model on test images before it is kept: float formats
must give every probability within 1e-4 of Keras', int8 must pick the same class on 99% of the
images. A file that fails is deleted and the failure is a ValueError with the figure.

The input stays the Keras model's: raw pixels 0-255, (N, H, W, C), scaled inside the model;
float32 for the float formats, uint8 for int8 (whose calibrated input scale is 1 when the
training images span 0-255, so the pixels go in as they are).
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMATS = {"tflite": ".tflite", "tflite-int8": "-int8.tflite", "onnx": ".onnx"}  # format: how
# its file's name ends (the float and int8 TFLite files apart; both take the suffix .tflite)
TITLES = {"tflite": "TensorFlow Lite, float32", "tflite-int8": "TensorFlow Lite, int8",
          "onnx": "ONNX, float32"}
MAX_PROB_DIFF = 1e-4         # float formats: every probability this close to the Keras model's
MIN_TOP1_AGREEMENT = 0.99    # int8: the same top class as the Keras model on this share
REPRESENTATIVE_IMAGES = 300  # training images that set the int8 value ranges
CHECK_IMAGES = 500           # test images an export is checked on
BATCH = 256


@dataclass
class ExportReport:
    """What was written and how closely it matches the Keras model."""
    path: Path
    format: str
    bytes: int
    images: int               # test images it was checked on
    max_prob_diff: float      # largest |probability - Keras'|, over images and classes
    top1_agreement: float     # share of images where it picks the Keras model's class
    seconds: float            # export and check
    snippet: str              # Python that loads and runs it in its runtime

    def summary(self, name_only: bool = False) -> str:
        """One line for people: the file (its name only, for a web page: no server paths), its
        size and the check's figure."""
        figure = (f"top-1 agreement {self.top1_agreement:.1%} (needs {MIN_TOP1_AGREEMENT:.0%})"
                  if self.format == "tflite-int8" else f"max probability difference "
                  f"{self.max_prob_diff:.1e} (limit {MAX_PROB_DIFF:.0e})")
        return (f"wrote {self.path.name if name_only else self.path} ({TITLES[self.format]}, {self.bytes / 1024:,.0f} KB): "
                f"{figure} against the Keras model on {self.images} test images; "
                f"{self.seconds:.1f}s")

    def to_dict(self) -> dict:
        """JSON-ready fields (the CLI's --json)."""
        return {**asdict(self), "path": str(self.path)}


def _format_suffix(fmt: str) -> str:
    """The file suffix of a known format: ".tflite" or ".onnx"."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    return "." + FORMATS[fmt].rsplit(".", 1)[1]


def _checked_out_path(out_path, fmt: str) -> Path:
    """`out_path` as a Path, if its folder exists and its suffix suits `fmt`."""
    out, suffix = Path(out_path), _format_suffix(fmt)
    if out.suffix.lower() != suffix:
        raise ValueError(f"the {fmt} file's name must end in {suffix}, got {str(out)!r}")
    if out.is_dir():
        raise ValueError(f"{out} is a folder: give the path of the file to write")
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: folder {out.parent} does not exist (create it "
                         "first)")
    return out


def _checked_images(model, images, what: str) -> np.ndarray:
    """`images` if they are a non-empty (N, H, W, C) batch of the model's input shape."""
    shape = tuple(int(d) for d in model.input_shape[1:])
    if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[1:] != shape \
            or len(images) == 0:
        got = images.shape if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"{what} must be a non-empty array (N, {', '.join(map(str, shape))}) "
                         f"of the model's input images, got {got}")
    return images


def _tflite_options(fmt: str, representative: np.ndarray | None) -> dict:
    """TFLite converter settings: builtin ops only (no Flex delegate needed to load it); for
    int8, every op quantised from `representative`'s ranges, uint8 in and out."""
    import tensorflow as tf
    if fmt == "tflite":
        return {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}

    def samples():
        for image in representative:
            yield [image[None].astype(np.float32)]

    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": samples,
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
            "inference_input_type": tf.uint8, "inference_output_type": tf.uint8}


def _inference_model(model):
    """`model` as it predicts, for the exporters to trace: augmentation and dropout off (Keras'
    ONNX export would keep RandomFlip's ops), softmax after logits, one input named "pixels"."""
    import keras

    from ..models.registry import probability_model
    (inp,) = model.inputs
    pixels = keras.Input(inp.shape[1:], dtype=inp.dtype, name="pixels")
    return keras.Model(pixels, probability_model(model)(pixels, training=False), name=model.name)


def _write(model, fmt: str, path: Path, representative: np.ndarray | None) -> None:
    """Write `model` as `fmt` at `path` with Keras' exporter for that format."""
    import tensorflow as tf
    model = _inference_model(model)
    (inp,) = model.inputs  # float32 (None, H, W, C), raw pixels: the Keras model's own input
    signature = [tf.TensorSpec((None, *inp.shape[1:]), inp.dtype, name="pixels")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx numpy patch
            if fmt == "onnx":
                model.export(str(path), format="onnx", verbose=False, input_signature=signature)
            else:
                model.export(str(path), format="litert", verbose=False,
                             input_signature=signature, **_tflite_options(fmt, representative))
    except Exception as exc:  # the converters raise their own error types
        raise ValueError(f"could not convert model {model.name!r} to {fmt}: {exc}") from exc


def _interpreter(path: Path):
    """LiteRT's interpreter (TensorFlow's own `tf.lite.Interpreter` is deprecated)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - requirements.txt pins ai-edge-litert
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path))


def _io(path: Path, fmt: str) -> dict:
    """The file's input and output as its runtime sees them: names, dtype, quantisation."""
    _format_suffix(fmt)
    try:
        if fmt == "onnx":
            import onnxruntime as ort
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            return {"session": session, "input": session.get_inputs()[0].name,
                    "dtype": np.dtype(np.float32), "in_quant": (0.0, 0), "out_quant": (0.0, 0)}
        runner = _interpreter(path).get_signature_runner()
        (name, inp), = runner.get_input_details().items()
        (output, out), = runner.get_output_details().items()
    except Exception as exc:  # a bad file: each runtime raises its own error type
        raise ValueError(f"the file does not load as {fmt} in its runtime: {exc}") from exc
    return {"session": runner, "input": name, "output": output, "dtype": np.dtype(inp["dtype"]),
            "in_quant": inp["quantization"], "out_quant": out["quantization"],
            "out_dtype": np.dtype(out["dtype"])}


def _quantised(images: np.ndarray, dtype: np.dtype, scale: float, zero: int) -> np.ndarray:
    """Images as an int8/uint8 input tensor: round(x / scale + zero point), clipped."""
    info = np.iinfo(dtype)
    q = np.round(images.astype(np.float32) / scale + zero)
    return np.clip(q, info.min, info.max).astype(dtype)


def runtime_probabilities(path, fmt: str, images: np.ndarray) -> np.ndarray:
    """Probabilities (N, classes) from the exported file run in its own runtime, batch by batch."""
    io = _io(Path(path), fmt)
    out = []
    for start in range(0, len(images), BATCH):
        batch = images[start:start + BATCH]
        scale, zero = io["in_quant"]
        x = (_quantised(batch, io["dtype"], scale, zero) if io["dtype"].kind in "iu"
             else batch.astype(io["dtype"]))
        try:
            if fmt == "onnx":
                out.append(io["session"].run(None, {io["input"]: x})[0].astype(np.float64))
                continue
            y = io["session"](**{io["input"]: x})[io["output"]]
        except Exception as exc:  # e.g. images of another shape than the file's model takes
            raise ValueError(f"the {fmt} file could not run on images {batch.shape}: "
                             f"{exc}") from exc
        scale, zero = io["out_quant"]
        out.append((y.astype(np.float64) - zero) * scale if io["out_dtype"].kind in "iu"
                   else y.astype(np.float64))
    return np.concatenate(out)


def check_export(path, fmt: str, model, images: np.ndarray) -> tuple[float, float]:
    """(max probability difference, top-1 agreement) of the file against `model` on `images`;
    a ValueError if they miss the format's bound."""
    from ..inference.evaluation import predict_probabilities
    images = _checked_images(model, images, "the check images")
    expected = predict_probabilities(model, images).astype(np.float64)
    got = runtime_probabilities(path, fmt, images)
    if got.shape != expected.shape:
        raise ValueError(f"the {fmt} file gives {got.shape[-1]} probabilities per image but "
                         f"the Keras model {expected.shape[-1]}: it is not an export of this "
                         "model")
    diff = float(np.max(np.abs(got - expected)))
    agree = float(np.mean(got.argmax(1) == expected.argmax(1)))
    if fmt == "tflite-int8" and not agree >= MIN_TOP1_AGREEMENT:
        raise ValueError(f"the int8 model picks the Keras model's class on only {agree:.2%} "
                         f"of {len(images)} test images (needs {MIN_TOP1_AGREEMENT:.0%}): 8 bits "
                         "lose too much for this model (or the file is another model's); the "
                         "tflite and onnx formats keep float32")
    if fmt != "tflite-int8" and not diff <= MAX_PROB_DIFF:  # `not <=` also catches NaN
        raise ValueError(f"the {fmt} file's probabilities differ from the Keras model's by up "
                         f"to {diff:.3g} on {len(images)} test images (limit {MAX_PROB_DIFF:g})")
    return diff, agree


def _snippet_run(fmt: str, io: dict, name: str, shape: str) -> list[str]:
    """The snippet's lines that make `pixels` and run the file."""
    if fmt == "onnx":
        return ["import onnxruntime as ort  # pip install onnxruntime",
                f'session = ort.InferenceSession("{name}", providers=["CPUExecutionProvider"])',
                f"pixels = np.zeros(({shape}), np.float32)  # raw pixels 0-255, float32",
                f'probabilities = session.run(None, {{"{io["input"]}": pixels}})[0]']
    lines = ["from ai_edge_litert.interpreter import Interpreter  # pip install ai-edge-litert",
             f'runner = Interpreter(model_path="{name}").get_signature_runner()']
    call = f'runner({io["input"]}=pixels)["{io["output"]}"]'
    if fmt == "tflite":
        return lines + [f"pixels = np.zeros(({shape}), np.float32)  # raw pixels 0-255, float32",
                        f"probabilities = {call}"]
    (s_in, z_in), (s_out, z_out) = io["in_quant"], io["out_quant"]
    dtype = io["dtype"].name
    lines.append(f"pixels = np.zeros(({shape}), np.{dtype})  # raw pixels 0-255, {dtype}" if
                 (s_in, z_in) == (1.0, 0) else
                 f"pixels = np.clip(np.round(np.zeros(({shape})) / {s_in!r} + {z_in}), "
                 f"{np.iinfo(io['dtype']).min}, {np.iinfo(io['dtype']).max}).astype(np.{dtype})"
                 "  # raw pixels 0-255, quantised")
    return lines + [f"scores = {call}  # {io['out_dtype'].name}",
                    f"probabilities = (scores.astype(np.float32) - {z_out}) * {s_out!r}"]


def snippet(path, fmt: str, input_shape, class_names: list[str] | None = None) -> str:
    """Python that loads the exported file in its runtime and classifies a batch of images."""
    io, path = _io(Path(path), fmt), Path(path)
    dims = ", ".join(map(str, input_shape))
    shape = f"1, {dims}"
    head = [f"# {path.name} ({TITLES[fmt]}) takes images (N, {dims}) like the training images,",
            "# raw pixel values 0-255 (it scales them itself), and gives each class's probability.",
            "import numpy as np"]
    tail = [f"classes = {list(class_names)!r}", "print(classes[probabilities[0].argmax()])"] \
        if class_names else ["print(probabilities[0].argmax())  # the class index"]
    return "\n".join(head + _snippet_run(fmt, io, path.name, shape) + tail) + "\n"


def export_model(model, fmt: str, out_path, *, check_images: np.ndarray,
                 representative: np.ndarray | None = None,
                 class_names: list[str] | None = None) -> ExportReport:
    """Write `model` as `fmt` at `out_path`, check it in its runtime, and report; a file that
    fails the check is deleted (a previous file at `out_path` is left as it was)."""
    from ..models.storage import temp_beside
    out = _checked_out_path(out_path, fmt)
    check_images = _checked_images(model, check_images, "check_images")
    if fmt == "tflite-int8":
        representative = _checked_images(model, representative, "representative (int8 needs "
                                                                 "training images)")
    start = time.perf_counter()
    tmp = temp_beside(out)
    try:
        _write(model, fmt, tmp, representative)
        diff, agree = check_export(tmp, fmt, model, check_images)
        os.replace(tmp, out)
    except ValueError as exc:
        raise ValueError(f"{out} not written: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    text = snippet(out, fmt, model.input_shape[1:], class_names)
    return ExportReport(out, fmt, out.stat().st_size, len(check_images), diff, agree,
                        time.perf_counter() - start, text)


def export_folder(folder, fmt: str, out_path, *, images: int = CHECK_IMAGES,
                  representative: int = REPRESENTATIVE_IMAGES) -> ExportReport:
    """`export_trained` for a saved model folder."""
    from ..data.datasets import load_dataset
    from ..models.storage import load_model
    _checked_out_path(out_path, fmt)  # before the slow loads
    model, meta = load_model(folder)
    return export_trained(model, load_dataset(meta["dataset"]), fmt, out_path, images=images,
                          representative=representative, class_names=meta.get("class_names"))


def export_trained(model, data, fmt: str, out_path, *, images: int = CHECK_IMAGES,
                   representative: int = REPRESENTATIVE_IMAGES,
                   class_names: list[str] | None = None) -> ExportReport:
    """`export_model` for a model and its dataset: int8 ranges from a seeded sample of its
    training images, the check on a seeded sample of its test images."""
    if images < 1 or representative < 1:
        raise ValueError(f"need at least 1 check image and 1 representative image, got "
                         f"{images} and {representative}")
    return export_model(model, fmt, out_path, check_images=_sample(data.x_test, images),
                        representative=(_sample(data.x_train, representative)
                                        if fmt == "tflite-int8" else None),
                        class_names=class_names or list(data.class_names))


def _sample(images: np.ndarray, n: int) -> np.ndarray:
    """Up to `n` of `images`, the same ones each time, in their order (a test set may be sorted
    by class, so not simply the first `n`)."""
    rng = np.random.default_rng(0)
    return images[np.sort(rng.choice(len(images), min(n, len(images)), replace=False))]
