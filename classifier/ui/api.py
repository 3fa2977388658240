"""The public API beside the page's own events: /predict (a shipped model's scores for an image
file) and /samples (training images as labels and pixels)."""
from __future__ import annotations

import gradio as gr
import numpy as np

from ..core import arguments
from ..serving.session import shipped_names, shipped_predictor
from ..views import figures
from .common import SEED_MAX


def predict_api(model_name: str, image: str) -> dict[str, float]:
    """Every class's probability for an image file, with a shipped model (API endpoint)."""
    try:
        name = arguments.choice("model", model_name, shipped_names())
        path = arguments.uploaded_path(image, gr.utils.get_upload_folder())
        return shipped_predictor(name).predict(path).probabilities
    except ValueError as exc:
        raise gr.Error(str(exc))


def sample_api(dataset: str = "fashion_mnist", count: int = 25, seed: int = 0) -> list[dict]:
    """Random training images of a built-in dataset: their labels and 28x28 pixels (API endpoint)."""
    from classifier.data.datasets import DATASETS, load_dataset
    try:
        dataset = arguments.choice("dataset", dataset, list(DATASETS))
        count = arguments.integer("count", count, 1, 100)
        seed = arguments.integer("seed", seed, 0, SEED_MAX)
        data = load_dataset(dataset)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = figures.sample_indices(data, count, seed=seed)
    return [{"label": data.class_names[data.y_train[i]],  # (H, W) grey, (H, W, 3) colour
             "pixels": np.squeeze(data.x_train[i], axis=-1 if data.image_shape[-1] == 1 else ()).tolist()}
            for i in idx]


def wire() -> None:
    """The public /predict and /samples, beside the page's own events."""
    with gr.Row(visible=False):  # the API's own inputs and output, never shown
        model, image, scores = gr.Textbox(), gr.File(type="filepath"), gr.JSON()
    # preprocess=False: gr.File's own preprocessing leaves an empty temporary file in the cache on
    # every call (Gradio 6.31); predict_api checks the path is an upload instead
    image.upload(predict_api, [model, image], scores, api_name="predict", preprocess=False)
    gr.api(sample_api, api_name="samples")
