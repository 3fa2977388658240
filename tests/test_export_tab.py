"""The Train tab's export of the active model (issue 14, item 2): each format comes back as a
file that loads in its runtime and gives the Keras model's numbers, with its loading code."""
import gradio as gr
import numpy as np
import pytest

from classifier.export.formats import runtime_probabilities
from classifier.serving.session import Session, shipped_names
from classifier.ui import train_tab

MLP = next(n for n in shipped_names() if "MLP" in n)


@pytest.fixture(scope="module")
def session():
    s = Session()
    s.active_model = MLP
    yield s
    s.close()


NAMES = {"tflite": "Fashion-MNIST-MLP-shipped.tflite",  # float and int8 apart (issue 26)
         "tflite-int8": "Fashion-MNIST-MLP-shipped-int8.tflite",
         "onnx": "Fashion-MNIST-MLP-shipped.onnx"}


@pytest.mark.parametrize("fmt", ["tflite", "tflite-int8", "onnx"])
def test_the_active_model_exports_and_its_file_gives_the_same_answers(session, fmt):
    file, info = train_tab.export_active(session, fmt)
    path = file["value"]
    assert file["visible"] and path.startswith(str(session.workdir))
    assert path.rsplit("/", 1)[-1] == NAMES[fmt]
    assert "same top class" in info or "probability" in info
    assert "```python" in info and path.rsplit("/", 1)[-1] in info
    assert str(session.workdir) not in info  # the file's name, never a server path
    predictor = session.predictor(MLP)
    images = session.dataset_of(MLP).x_test[:50]
    ours, keras = runtime_probabilities(path, fmt, images), predictor.probabilities(images)
    if fmt == "tflite-int8":
        assert (ours.argmax(1) == keras.argmax(1)).mean() >= 0.96
    else:
        np.testing.assert_allclose(ours, keras, atol=1e-4)


@pytest.mark.parametrize("fmt", ["../../etc/passwd", 5, None, ["onnx"], "ONNX"])
def test_a_bad_format_is_a_message(session, fmt):
    with pytest.raises(gr.Error, match="format must be one of"):
        train_tab.export_active(session, fmt)


def test_no_model_is_a_message():
    s = Session()
    s.active_model = None
    with pytest.raises(gr.Error, match="pick a model"):
        train_tab.export_active(s, "onnx")
    s.close()
