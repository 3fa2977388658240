"""The Gradio app: Dataset, Train, Predict and Evaluate tabs. Wiring only: logic is in classifier/."""
from __future__ import annotations

import functools
import os
import weakref

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gradio as gr
import numpy as np

from classifier import figures, help_texts
from classifier.live import limit_heap_arenas
from classifier.models import MODELS, build_model
from classifier.preprocess import BlankImage
from classifier.saliency import overlay
from classifier.session import ASSETS, Session, dataset_choices, shipped_names
from classifier.settings import TrainSettings

LOW_CONFIDENCE = 0.5
TRAIN_CONCURRENCY = 2
BLACK_CANVAS = np.zeros((280, 280), dtype=np.uint8)
LAUNCH = dict(max_file_size="20mb")  # no allowed_paths: only Gradio's own cache is served


def _session(state: Session | None) -> Session:
    """The tab's session; API callers that never loaded the page get a fresh one."""
    return state if state is not None else Session()


_OPEN = weakref.WeakValueDictionary()  # browser session hash -> its Session, for closing tabs


def new_session(request: gr.Request):
    session = Session()
    if request is not None and request.session_hash:
        _OPEN[request.session_hash] = session
    names = session.model_names()
    session.active_model = names[0] if names else None
    model = gr.update(choices=names, value=session.active_model)
    return session, model, model, session.header()


def close_tab(request: gr.Request):
    """A closed tab frees its models, files and running training now, not an hour later
    (Gradio keeps a closed session's state for an hour in case the tab comes back)."""
    session = _OPEN.pop(request.session_hash, None) if request is not None else None
    if session is not None:
        session.close()


def choose_model(state, name):
    """A model picked in Predict or Evaluate becomes the active one in both."""
    session = _session(state)
    session.active_model = name
    return gr.update(value=name), gr.update(value=name), session.header(), _epoch_slider(session, name)


def _epoch_slider(session: Session, name: str | None):
    """The Predict tab's epoch slider: shown for a session run that kept its epochs' weights."""
    n = len(session.epoch_weights(name))
    if n < 2:
        return gr.update(visible=False, value=n or 1)
    return gr.update(visible=True, minimum=1, maximum=n, value=n, step=1)


def _level(handler):
    """`handler` as a generator that sends its answer, then its charts' data again, a hair
    apart. Gradio 6.31's bar and line plots draw the data of the update before the last one
    (seen in the browser: bars a step behind the text); the second update brings them level."""
    @functools.wraps(handler)
    def both(*args, **kwargs):
        outputs = handler(*args, **kwargs)
        yield outputs
        again = [_nudged(o) for o in (outputs if isinstance(outputs, tuple) else (outputs,))]
        if any(a is not None for a in again):
            yield tuple(gr.update() if a is None else a for a in again)
    return both


def _nudged(output):
    """A plot update's frame with its numbers moved by 1e-9, or None for anything else."""
    frame = output.get("value") if isinstance(output, dict) else None
    if not isinstance(frame, figures.pd.DataFrame):
        return None
    numeric = frame.select_dtypes("number").columns
    if len(numeric) == 0:
        return None
    frame = frame.copy()
    frame[numeric[-1]] = frame[numeric[-1]] + 1e-9
    return gr.update(value=frame)


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
    keep = state  # API callers without a page: nothing is kept once the call ends
    try:
        for item in stream_training(data, model_key, settings, stop):
            if isinstance(item, list):
                points += item
                last = item[-1]
                progress(last["progress"], desc=f"epoch {last['epoch']}/{last['epochs']}")
                new_epoch = any(p["kind"] == "epoch" for p in item)
                heat = (figures.per_class_figure(points, data.class_names, settings.epochs)
                        if new_epoch else gr.update())
                yield (keep, *_curves(points, settings.epochs), help_texts.status_line(points), heat,
                       *[gr.update()] * 6)
                continue
            name = session.add_run(item, take_home=keep is not None)
            names = session.model_names()
            picker = gr.update(choices=names, value=name)
            files = [str(f) for f in session.take_home(name)] if keep is not None else None
            yield (keep, *_curves(points, settings.epochs), help_texts.final_line(item), gr.update(),
                   gr.update(value=str(session.trained[name].download), visible=True),
                   gr.update(value=files, visible=files is not None),
                   picker, picker, session.header(), _epoch_slider(session, name))
    except ValueError as exc:
        raise gr.Error(str(exc))
    finally:
        if keep is None:
            session.close()


def _curves(points, epochs):
    """Accuracy and loss plots over the whole run's x range, so they grow left to right."""
    return [gr.update(value=frame, x_lim=[0, epochs]) for frame in figures.curve_frames(points)]


def stop_training(state):
    _session(state).stop.set()
    gr.Info("Stopping after the current step; what was learned is kept.")


# ---------------------------------------------------------------- Predict tab
def show_prediction(state, model_name, image, epoch=0):
    """A new drawing or upload: remember it, then answer it."""
    session = _session(state)
    if isinstance(image, dict) and "path" in image:  # an upload, as Gradio's FileData
        image = image["path"]
    session.last_image = image
    return _answer(session, model_name, image, epoch)


def repredict(state, model_name, epoch):
    """Another model or another epoch: answer the latest image again."""
    session = _session(state)
    return _answer(session, model_name, session.last_image, epoch)


def _answer(session: Session, model_name, image, epoch):
    """Bars, answer, what the model sees, saliency, and the answer without the clean-up."""
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return None, "Draw something or upload an image.", None, None, None
    weights = session.epoch_weights(model_name)
    weights = weights[int(epoch) - 1] if 1 <= int(epoch or 0) < len(weights) else None
    try:
        predictor = session.predictor(model_name)
        pred = predictor.predict_at(image, weights)
        top = predictor.class_names.index(pred.label)
        why = predictor.explain(image, top, weights)
        raw = predictor.predict_shrunk(image, weights)
    except BlankImage as exc:  # a cleared canvas, an empty drawing: say so, no error toast
        return None, f"Nothing to read: {exc}.", None, None, None
    except ValueError as exc:
        raise gr.Error(str(exc))
    at = f" (weights after epoch {int(epoch)})" if weights is not None else ""
    bars = gr.update(value=figures.probability_frame(pred.probabilities), sort=list(pred.probabilities),
                     title=f"Top answer: {pred.label} {pred.probabilities[pred.label]:.1%}{at}")
    text = (help_texts.top_line(pred, LOW_CONFIDENCE) + help_texts.shrunk_line(raw, pred)
            + help_texts.why_line(why.method, pred.label))
    return (bars, text, figures.upscale(pred.seen, 196),
            gr.update(value=overlay(pred.seen, why.heat), label=f"Why {pred.label}: {why.method}"),
            gr.update(value=figures.upscale(raw.seen, 196),
                      label=f"Merely shrunk: {raw.label} {raw.probabilities[raw.label]:.0%}"))


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
    table = figures.confusion_styler(ev.confusion_matrix(), data.class_names)
    return text, table, frame, grid, mistakes, None, PAIR_HINT


PAIR_HINT = "**Click a cell** of the table to see its test images, most confident first."


def show_pair(state, model_name, evt: gr.SelectData):
    """A clicked confusion-matrix cell: the test images of that (true, predicted) pair."""
    row, col = evt.index
    if col == 0:  # the class-name column
        return gr.update(), PAIR_HINT
    try:
        ev, data = _session(state).evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    true, pred = data.class_names[row], data.class_names[col - 1]
    idx = ev.pair(row, col - 1)
    shown = idx[:12]
    fig = figures.pair_figure(data.x_test[shown], ev.probabilities[shown], data.class_names, true, pred)
    kind = "right" if row == col - 1 else "wrong"
    return fig, (f"**{len(idx):,}** test images were **{true}** predicted as **{pred}** ({kind}); "
                 f"showing the {len(shown)} the model was surest of.")


# ---------------------------------------------------------------- Compare tab
RUN_COLOURS = ["#4263eb", "#f76707", "#2b8a3e", "#c92a2a", "#7048e8", "#e64980", "#1098ad",
               "#5c940d", "#495057", "#d9480f"]


def show_comparison(state, x_axis, chosen):
    """Validation accuracy of the chosen runs on one chart, and their table."""
    from classifier import compare
    runs, params = _session(state).runs_to_compare()
    names = [name for name, _ in runs]
    chosen = [c for c in (chosen if chosen is not None else names) if c in names]
    picked = [r for r in runs if r[0] in chosen]
    curves = compare.curve_frame(picked, x_axis)
    colours = {name: RUN_COLOURS[i % len(RUN_COLOURS)] for i, name in enumerate(names)}
    plot = gr.update(value=curves, x=x_axis, color_map={c: colours[c] for c in chosen},

                     x_title="training seconds" if x_axis == "seconds" else "epoch")
    table = compare.table_frame(picked, params).drop(columns=["model", "dataset"])  # in the name
    legend = table.style.apply(lambda runs: [f"color: {colours[r]}; font-weight: bold" for r in runs],
                               subset=["run"])  # the run's line colour: the table is the legend
    return gr.update(choices=names, value=chosen), plot, legend


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
                        per_class_plot = gr.Plot(label="Validation accuracy per class, each epoch",
                                                 show_label=False)
                        download = gr.DownloadButton("Download the trained model (.keras)",
                                                     visible=False)
                        take_home = gr.File(label="Take it home: the model, a plain-Keras script that "
                                                  "reproduces this run, and its metrics (JSON)",
                                            file_count="multiple", visible=False, interactive=False)
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["train"])
            with gr.Tab("Predict", id="predict"):
                gr.Markdown(help_texts.HOW["predict"])
                with gr.Row():
                    pred_model = gr.Dropdown(shipped_names(), label="Model",
                                             value=(shipped_names() or [None])[0], scale=2)
                    epoch = gr.Slider(1, 2, value=1, step=1, visible=False, scale=1,
                                      label="Weights after epoch (your latest run)")
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
                        with gr.Row():
                            seen = gr.Image(label="What the model sees (cleaned up)", height=220,
                                            interactive=False)
                            why = gr.Image(label="Why", height=220, interactive=False)
                            shrunk = gr.Image(label="Merely shrunk", height=220, interactive=False)
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
                confusion = gr.Dataframe(label="Confusion matrix: rows are the true class, "
                                               "columns the answer (click a cell)",
                                         interactive=False)
                pair_text = gr.Markdown()
                pair_plot = gr.Plot(label="Test images of the clicked cell", show_label=False)
                per_class = gr.BarPlot(x="class", y="accuracy", y_lim=[0, 1], height=260,
                                       label="Accuracy per class", x_label_angle=-45)
                eval_grid = gr.Plot(label="25 test images: green right, red wrong", show_label=False)
                mistakes = gr.Gallery(label="The most confident mistakes", columns=5, height="auto")
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["evaluate"])
            with gr.Tab("Compare", id="compare") as compare_tab:
                gr.Markdown(help_texts.HOW["compare"])
                with gr.Row():
                    cmp_runs = gr.CheckboxGroup(label="Runs to overlay", scale=3)
                    cmp_x = gr.Radio([("epoch", "epoch"), ("seconds of training", "seconds")],
                                     value="epoch", label="x axis", scale=1)
                cmp_plot = gr.LinePlot(x="epoch", y="val_accuracy", color="run", height=360,
                                       colors_in_legend=[], y_lim=[None, 1],
                                       label="Validation accuracy, one colour a run (as in the table)")
                cmp_table = gr.Dataframe(label="The runs, in their line's colour", interactive=False)
                with gr.Accordion("What is happening here?", open=False):
                    gr.Markdown(help_texts.WHAT["compare"])

        private = dict(api_visibility="private")
        ds_outputs = [ds_info, grid, counts, ds_class, pixels, aug]
        demo.unload(close_tab)
        demo.load(new_session, None, [state, pred_model, eval_model, active], **private).then(
            _level(show_dataset), [state, ds_key, ds_class, ds_seed], ds_outputs, **private).then(
            describe_model, [model_key, state], [model_info, epochs], **private)
        ds_key.input(lambda key: gr.update(visible=key == "upload"), ds_key, zip_file, **private)
        gr.on([ds_key.input, ds_class.input], _level(show_dataset), [state, ds_key, ds_class, ds_seed],
              ds_outputs, **private).then(lambda s: _session(s).header(), state, active, **private)
        for picker in (pred_model, eval_model):
            picker.input(choose_model, [state, picker], [pred_model, eval_model, active, epoch],
                         **private)
        shuffle.click(lambda s: int(s) + 1, ds_seed, ds_seed, **private).then(
            _level(show_dataset), [state, ds_key, ds_class, ds_seed], ds_outputs, **private)
        zip_file.upload(upload_zip, [state, zip_file], ds_key, **private).then(
            _level(show_dataset), [state, ds_key, ds_class, ds_seed], ds_outputs, **private)
        model_key.input(describe_model, [model_key, state], [model_info, epochs], **private)
        train_btn.click(train_model, [state, model_key, epochs, batch, optimizer, lr, schedule, val_share],
                              [state, acc_plot, loss_plot, status, per_class_plot, download, take_home,
                               pred_model, eval_model, active, epoch],
                              api_name="train", concurrency_limit=TRAIN_CONCURRENCY,
                              concurrency_id="train")
        stop_btn.click(stop_training, state, None, concurrency_limit=None, **private)
        # .input, not .change: Gradio 6.31's image editor drops its first change event
        answers = [bars, answer, seen, why, shrunk]
        sketch.input(_level(show_prediction), [state, pred_model, sketch, epoch], answers,
                     trigger_mode="always_last", show_progress="hidden", **private)
        # preprocess=False: the file reaches classifier.preprocess unopened, so an image that
        # cannot be read gets our clear message instead of Gradio's decoding error
        upload.change(_level(show_prediction), [state, pred_model, upload, epoch], answers,
                      preprocess=False, **private)
        gr.on([pred_model.input, epoch.input], _level(repredict), [state, pred_model, epoch], answers,
              trigger_mode="always_last", show_progress="hidden", **private)
        with gr.Row(visible=False):  # the API's own inputs and output, never shown
            api_model, api_image, api_scores = gr.Textbox(), gr.File(type="filepath"), gr.JSON()
        api_image.upload(predict_api, [api_model, api_image], api_scores, api_name="predict")
        gr.api(sample_api, api_name="samples")
        eval_btn.click(_level(show_evaluation), [state, eval_model, eval_seed],
                       [eval_text, confusion, per_class, eval_grid, mistakes, pair_plot, pair_text],
                       **private)
        confusion.select(show_pair, [state, eval_model], [pair_plot, pair_text], **private)
        compare_tab.select(_level(lambda s, x: show_comparison(s, x, None)), [state, cmp_x],  # all runs
                           [cmp_runs, cmp_plot, cmp_table], **private)
        gr.on([cmp_x.input, cmp_runs.input], _level(show_comparison), [state, cmp_x, cmp_runs],
              [cmp_runs, cmp_plot, cmp_table], **private)
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


limit_heap_arenas()
demo = build()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), **LAUNCH)
