"""The Gradio app: Dataset, Train, Predict and Evaluate tabs. Wiring only: logic is in classifier/."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gradio as gr
import numpy as np

from classifier import figures, help_texts
from classifier.models import MODELS, build_model
from classifier.preprocess import BlankImage
from classifier.session import ASSETS, Session, dataset_choices, shipped_names
from classifier.settings import TrainSettings

LOW_CONFIDENCE = 0.5
TRAIN_CONCURRENCY = 2
BLACK_CANVAS = np.zeros((280, 280), dtype=np.uint8)
LAUNCH = dict(max_file_size="20mb")  # no allowed_paths: only Gradio's own cache is served


def _session(state: Session | None) -> Session:
    """The tab's session; API callers that never loaded the page get a fresh one."""
    return state if state is not None else Session()


def new_session():
    session = Session()
    names = session.model_names()
    session.active_model = names[0] if names else None
    model = gr.update(choices=names, value=session.active_model)
    return session, model, model, session.header()


def choose_model(state, name):
    """A model picked in Predict or Evaluate becomes the active one in both."""
    session = _session(state)
    session.active_model = name
    return gr.update(value=name), gr.update(value=name), session.header()


# ---------------------------------------------------------------- Dataset tab
def show_dataset(state, key, class_filter, seed):
    session = _session(state)
    session.dataset_key = key
    if key == "upload" and session.uploaded is None:
        return ("**Upload a zip** with one folder of images per class (2 to 100 classes), e.g. "
                "`cats/1.jpg, dogs/2.jpg`.", *[gr.update()] * 5)
    try:
        data = session.dataset()
    except ValueError as exc:
        raise gr.Error(str(exc))
    cls = data.class_names.index(class_filter) if class_filter in data.class_names else None
    idx = figures.sample_indices(data, 25, cls, int(seed))
    counts, baseline = figures.class_counts(data)
    first = data.x_train[idx[0]]
    info = (f"**{data.summary()}**  \nAlways answering the largest class would score "
            f"**{baseline:.1%}**: a model must beat that to have learned anything.")
    filt = gr.update(choices=["all classes", *data.class_names],
                     value=class_filter if cls is not None else "all classes")
    counts_plot = gr.update(value=counts, y_lim=[0, int(counts["images"].max() * 1.1)],
                            sort=list(data.class_names))
    return (info, figures.sample_grid(data, idx), counts_plot, filt,
            figures.pixel_figure(first, f"{data.class_names[data.y_train[idx[0]]]}: pixel values"),
            figures.augment_preview(first, int(seed)))


def upload_zip(state, file):
    from classifier.folders import load_image_zip
    session = _session(state)
    if file is None:
        raise gr.Error("Choose a .zip file with one sub-folder of images per class.")
    try:
        data, report = load_image_zip(file, session.workdir / f"zip{session.runs_done}-{os.urandom(3).hex()}")
    except ValueError as exc:
        raise gr.Error(str(exc))
    session.uploaded = data
    if report.skipped:
        gr.Warning(report.summary())
    return gr.update(value="upload")


# ---------------------------------------------------------------- Train tab
def describe_model(key, state):
    spec = MODELS[key]
    try:
        data = _session(state).dataset()
        model = build_model(key, data.image_shape, data.num_classes,
                            TrainSettings(pretrained=False), data.x_train[:100])
        layers = " → ".join(type(l).__name__ for l in model.layers[1:])
        params = f"{model.count_params():,} parameters for {data.title} ({data.image_shape[0]}x{data.image_shape[1]})"
    except ValueError as exc:
        layers, params = "", str(exc)
    return (f"**{spec.title}**: {spec.description}  \n{params}  \n`{layers}`",
            gr.update(value=spec.default_epochs))


def train_model(state, model_key, epochs, batch_size, optimizer, learning_rate, schedule,
                val_share, progress=gr.Progress()):
    from classifier.live import stream_training
    session = _session(state)
    try:
        data = session.dataset()
        settings = TrainSettings(epochs=int(epochs), batch_size=int(batch_size),
                                 optimizer=None if optimizer == "recipe's own" else optimizer,
                                 learning_rate=float(learning_rate) or None, lr_schedule=schedule,
                                 validation_split=float(val_share), pretrained=False,
                                 max_seconds=float(os.environ.get("CLASSIFIER_MAX_TRAIN_SECONDS", 1800)))
    except ValueError as exc:
        raise gr.Error(str(exc))
    points, stop = [], session.new_stop()
    try:
        for item in stream_training(data, model_key, settings, stop):
            if isinstance(item, list):
                points += item
                last = item[-1]
                progress(last["progress"], desc=f"epoch {last['epoch']}/{last['epochs']}")
                yield (session, *_curves(points, settings.epochs), help_texts.status_line(points), gr.update(),
                       gr.update(), gr.update(), gr.update())
                continue
            name = session.add_run(item)
            names = session.model_names()
            picker = gr.update(choices=names, value=name)
            yield (session, *_curves(points, settings.epochs), help_texts.final_line(item),
                   gr.update(value=str(session.trained[name].download), visible=True),
                   picker, picker, session.header())
    except ValueError as exc:
        raise gr.Error(str(exc))


def _curves(points, epochs):
    """Accuracy and loss plots over the whole run's x range, so they grow left to right."""
    return [gr.update(value=frame, x_lim=[0, epochs]) for frame in figures.curve_frames(points)]


def stop_training(state):
    _session(state).stop.set()
    gr.Info("Stopping after the current step; what was learned is kept.")


# ---------------------------------------------------------------- Predict tab
def show_prediction(state, model_name, image):
    session = _session(state)
    if isinstance(image, dict) and "path" in image:  # an upload, as Gradio's FileData
        image = image["path"]
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return None, "Draw something or upload an image.", None
    try:
        pred = session.predictor(model_name).predict(image)
    except BlankImage as exc:  # a cleared canvas, an empty drawing: say so, no error toast
        return None, f"Nothing to read: {exc}.", None
    except ValueError as exc:
        raise gr.Error(str(exc))
    bars = gr.update(value=figures.probability_frame(pred.probabilities), sort=list(pred.probabilities))
    return (bars, help_texts.top_line(pred, LOW_CONFIDENCE),
            figures.upscale(pred.seen, 196))


def predict_api(model_name: str, image: str) -> dict[str, float]:
    """Every class's probability for an image file, with a shipped model (API endpoint)."""
    from classifier.session import shipped_predictor
    if model_name not in shipped_names():
        raise gr.Error(f"model must be one of {shipped_names()}")
    try:
        return shipped_predictor(model_name).predict(image).probabilities
    except ValueError as exc:
        raise gr.Error(str(exc))


# ---------------------------------------------------------------- Evaluate tab
def show_evaluation(state, model_name, seed):
    session = _session(state)
    try:
        ev, data = session.evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = ev.sample(25, int(seed))
    grid = figures.prediction_grid_figure(data.x_test[idx], ev.y_true[idx], ev.y_pred[idx],
                                          ev.confidence[idx], data.class_names)
    wrong = ev.mistakes(10)
    mistakes = [(figures.upscale(data.x_test[i]), f"{data.class_names[ev.y_pred[i]]} "
                 f"{ev.confidence[i]:.0%}, true: {data.class_names[ev.y_true[i]]}") for i in wrong]
    per_class = ev.per_class_accuracy()
    frame = gr.update(value=figures.pd.DataFrame({"class": list(per_class),
                                                  "accuracy": list(per_class.values())}),
                      sort=list(data.class_names))
    text = (f"**Test accuracy {ev.accuracy:.2%}** on {len(ev.y_true):,} test images the model never "
            f"trained on (test loss {ev.loss:.3f}).")
    return text, figures.confusion_figure(ev.confusion_matrix(), data.class_names), frame, grid, mistakes


# ---------------------------------------------------------------- layout
def build() -> gr.Blocks:
    with gr.Blocks(title="Train an image classifier, live") as demo:
        state = gr.State(None, delete_callback=lambda s: s is not None and s.close())
        gr.Markdown(help_texts.HEADER)
        active = gr.Markdown()
        with gr.Tabs():
            with gr.Tab("Dataset", id="dataset"):
                gr.Markdown(help_texts.HOW["dataset"])
                with gr.Row():
                    ds_key = gr.Dropdown(dataset_choices(), value="fashion_mnist", label="Dataset")
                    ds_class = gr.Dropdown(["all classes"], value="all classes", label="Show class")
                    ds_seed = gr.Number(0, label="Shuffle seed", precision=0, visible=False)
                    shuffle = gr.Button("Shuffle", scale=0)
                zip_file = gr.File(label="Zip with one folder of images per class", file_types=[".zip"],
                                   height=140, visible=False)
                ds_info = gr.Markdown()
                with gr.Row():
                    grid = gr.Gallery(label="25 training images", columns=5, rows=5, height=740,
                                      object_fit="contain", scale=3)
                    with gr.Column(scale=2):
                        counts = gr.BarPlot(x="class", y="images", label="Images per class",
                                            x_label_angle=-45, height=260, y_lim=[0, None])
                        pixels = gr.Plot(label="One image, enlarged", show_label=False)
                aug = gr.Gallery(label="The same image as the augmentation layers may show it "
                                       "(cnn_aug, cnn_pre)", columns=5, rows=1, height=250)
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["dataset"])
            with gr.Tab("Train", id="train"):
                gr.Markdown(help_texts.HOW["train"])
                with gr.Row():
                    with gr.Column(scale=1):
                        model_key = gr.Dropdown([(s.title, k) for k, s in MODELS.items()],
                                                value="mlp", label="Model")
                        epochs = gr.Slider(1, 50, value=5, step=1, label="Epochs")
                        batch = gr.Dropdown([16, 32, 64, 128, 256], value=64, label="Batch size")
                        optimizer = gr.Dropdown(["recipe's own", "adam", "sgd", "rmsprop"],
                                                value="recipe's own", label="Optimizer")
                        lr = gr.Number(0, label="Learning rate (0 = the recipe's own)")
                        schedule = gr.Dropdown([("cosine decay (fast)", "cosine"),
                                                ("constant (the tutorials')", "constant")],
                                               value="cosine", label="Learning-rate schedule")
                        val_share = gr.Slider(0.05, 0.3, value=0.1, step=0.05, label="Validation share")
                        with gr.Row():
                            train_btn = gr.Button("Train", variant="primary")
                            stop_btn = gr.Button("Stop", variant="stop")
                    with gr.Column(scale=2):
                        model_info = gr.Markdown()
                        status = gr.Markdown("Press **Train** to start.")
                        curve = dict(x="epoch", color="series", height=300, colors_in_legend=[],
                                     color_map={"training": "#4263eb", "validation": "#f76707"})
                        acc_plot = gr.LinePlot(y="accuracy", y_lim=[0, 1], **curve,
                                               label="Accuracy: blue training, orange validation")
                        loss_plot = gr.LinePlot(y="loss", **curve,
                                                label="Loss: blue training, orange validation")
                        download = gr.DownloadButton("Download the trained model (.keras)",
                                                     visible=False)
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["train"])
            with gr.Tab("Predict", id="predict"):
                gr.Markdown(help_texts.HOW["predict"])
                pred_model = gr.Dropdown(shipped_names(), label="Model", value=(shipped_names() or [None])[0])
                with gr.Row():
                    with gr.Column():
                        sketch = gr.Sketchpad(value={"background": BLACK_CANVAS, "layers": [], "composite": None},
                                              image_mode="L", canvas_size=(280, 280), type="numpy",
                                              brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=12),
                                              label="Draw here (white on black)", height=380)
                        upload = gr.Image(label="…or upload an image", type="filepath", height=200,
                                          sources=["upload", "clipboard"])
                        gr.Examples(sorted(str(p) for p in (ASSETS / "examples").glob("*.png")),
                                    inputs=upload, label="Test-set examples")
                    with gr.Column():
                        bars = gr.BarPlot(x="class", y="probability", color="answer", y_lim=[0, 1],
                                          color_map={"top answer": "#e8590c", "other": "#4c6ef5"},
                                          label="Softmax scores", x_label_angle=-45, height=300,
                                          colors_in_legend=[])
                        answer = gr.Markdown()
                        seen = gr.Image(label="What the model sees (28x28 after preprocessing)",
                                        height=220, interactive=False)
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["predict"])
            with gr.Tab("Evaluate", id="evaluate"):
                gr.Markdown(help_texts.HOW["evaluate"])
                with gr.Row():
                    eval_model = gr.Dropdown(shipped_names(), label="Model",
                                             value=(shipped_names() or [None])[0])
                    eval_seed = gr.Number(0, label="Sample seed", precision=0)
                    eval_btn = gr.Button("Evaluate on the test set", variant="primary")
                eval_text = gr.Markdown()
                with gr.Row():
                    confusion = gr.Plot(label="Confusion matrix", show_label=False)
                    per_class = gr.BarPlot(x="class", y="accuracy", y_lim=[0, 1],
                                           label="Accuracy per class", x_label_angle=-45)
                eval_grid = gr.Plot(label="25 test images: green right, red wrong", show_label=False)
                mistakes = gr.Gallery(label="The most confident mistakes", columns=5, height="auto")
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["evaluate"])

        private = dict(api_visibility="private")
        ds_outputs = [ds_info, grid, counts, ds_class, pixels, aug]
        demo.load(new_session, None, [state, pred_model, eval_model, active], **private).then(
            show_dataset, [state, ds_key, ds_class, ds_seed], ds_outputs, **private).then(
            describe_model, [model_key, state], [model_info, epochs], **private)
        ds_key.input(lambda key: gr.update(visible=key == "upload"), ds_key, zip_file, **private)
        gr.on([ds_key.input, ds_class.input], show_dataset, [state, ds_key, ds_class, ds_seed],
              ds_outputs, **private).then(lambda s: _session(s).header(), state, active, **private)
        for picker in (pred_model, eval_model):
            picker.input(choose_model, [state, picker], [pred_model, eval_model, active], **private)
        shuffle.click(lambda s: int(s) + 1, ds_seed, ds_seed, **private).then(
            show_dataset, [state, ds_key, ds_class, ds_seed], ds_outputs, **private)
        zip_file.upload(upload_zip, [state, zip_file], ds_key, **private).then(
            show_dataset, [state, ds_key, ds_class, ds_seed], ds_outputs, **private)
        model_key.input(describe_model, [model_key, state], [model_info, epochs], **private)
        train_btn.click(train_model, [state, model_key, epochs, batch, optimizer, lr, schedule, val_share],
                              [state, acc_plot, loss_plot, status, download, pred_model, eval_model, active],
                              api_name="train", concurrency_limit=TRAIN_CONCURRENCY,
                              concurrency_id="train")
        stop_btn.click(stop_training, state, None, concurrency_limit=None, **private)
        # .input, not .change: Gradio 6.31's image editor drops its first change event
        sketch.input(show_prediction, [state, pred_model, sketch], [bars, answer, seen],
                     trigger_mode="always_last", show_progress="hidden", **private)
        # preprocess=False: the file reaches classifier.preprocess unopened, so an image that
        # cannot be read gets our clear message instead of Gradio's decoding error
        upload.change(show_prediction, [state, pred_model, upload], [bars, answer, seen],
                      preprocess=False, **private)
        pred_model.input(show_prediction, [state, pred_model, sketch], [bars, answer, seen], **private)
        with gr.Row(visible=False):  # the API's own inputs and output, never shown
            api_model, api_image, api_scores = gr.Textbox(), gr.File(type="filepath"), gr.JSON()
        api_image.upload(predict_api, [api_model, api_image], api_scores, api_name="predict")
        gr.api(sample_api, api_name="samples")
        eval_btn.click(show_evaluation, [state, eval_model, eval_seed],
                       [eval_text, confusion, per_class, eval_grid, mistakes], **private)
    demo.queue(max_size=64, default_concurrency_limit=8)
    return demo


def sample_api(dataset: str = "fashion_mnist", count: int = 25, seed: int = 0) -> list[dict]:
    """Random training images of a built-in dataset: their labels and 28x28 pixels (API endpoint)."""
    from classifier.datasets import DATASETS, load_dataset
    if dataset not in DATASETS:
        raise gr.Error(f"dataset must be one of {list(DATASETS)}")
    try:
        data = load_dataset(dataset)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = figures.sample_indices(data, max(1, min(int(count), 100)), seed=int(seed))
    return [{"label": data.class_names[data.y_train[i]],  # (H, W) grey, (H, W, 3) colour
             "pixels": np.squeeze(data.x_train[i], axis=-1 if data.image_shape[-1] == 1 else ()).tolist()}
            for i in idx]


demo = build()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), **LAUNCH)
