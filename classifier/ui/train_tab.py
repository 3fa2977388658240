"""The Train tab: the form (and the lab's settings, and a link that fills it in), Train and Stop,
the live curves and per-class heat-map, the trained model to download or export.

A training waits for a trainer in the server's line (serving/admission.py) without a thread, and
trains on the back end backends/choice.py picks, while its page listens."""
from __future__ import annotations

import asyncio
import html
import os
import re
import sqlite3
import time
from types import SimpleNamespace

import anyio
import gradio as gr

from ..backends.jobs import CallerGone, TrainingLost
from ..core import arguments
from ..models.pretrained import imagenet_weights_ready, mobilenet_size
from ..models.registry import MODELS
from ..serving import train_form
from ..serving.clients import client_of_request
from ..serving.traffic import OPEN_STREAMS
from ..serving.train_form import FORM, train_settings
from ..views import figures
from . import words
from .common import (
    ADMISSION,
    CHECKED,
    CLASSES,
    PRIVATE,
    epoch_slider,
    model_text,
    session_of,
    short_name,
    what_is_happening,
)

_HEAT = gr.Plot(render=False)  # a teacher's heat-map, encoded once for every student's page
START_GRACE = 5.0  # s an API caller has, once its training's turn comes, to open its result stream


def describe_model(key, state):
    """A picked model: what it is and its size for the session's dataset, and its own epochs
    and batch size."""
    epochs, batch = session_of(state).training_defaults(arguments.choice("model", key, list(MODELS)))
    return model_text(key, state), gr.update(value=epochs), gr.update(value=batch)


START_EPOCHS, START_BATCH = 5, 64  # the form as the page first shows it (the MLP's own)


def describe_loaded_model(key, epochs, batch, state):
    """describe_model as the page's load chain reaches it: the model's own epochs and batch size
    only where the form still shows what the page started with. A student who set them while a
    busy server was still loading the page (a class opening it together) keeps theirs."""
    text, own_epochs, own_batch = describe_model(key, state)
    untouched = _same(epochs, START_EPOCHS) and _same(batch, START_BATCH)
    return text, own_epochs if untouched else gr.update(), own_batch if untouched else gr.update()


def _same(value, start: int) -> bool:
    try:
        return float(value) == start
    except (TypeError, ValueError):
        return False


LINKED = ("epochs", "batch", "lr", "seconds", "data", "wrong")  # the form's values a link sets


LINKED_AT = (1, 2, 4, 7, 8, 9)  # where they are in the Train form


def _link(request: gr.Request | None) -> train_form.Link:
    return train_form.read_link(request.query_params if request is not None else {})


def link_dataset(request: gr.Request):
    """The page's link: its dataset and model (before the dataset is shown), and its note."""
    link = _link(request)
    picked = [gr.update(value=link.values[k]) if k in link.values else gr.update()
              for k in ("dataset", "model")]
    note = html.escape(link.note())  # plain text: a link's own words never become links or images
    return *picked, gr.update(value=f"<p>{note}</p>", visible=bool(link.notes))


def link_form(request: gr.Request):
    """The page's link: the rest of the Train form, after the model's own defaults are shown."""
    link = _link(request)
    return tuple(gr.update(value=link.values[k]) if k in link.values else gr.update() for k in LINKED)


def share_settings(dataset, *form):
    """The query for the Train form's values (the browser makes it a link and copies it)."""
    query, left_out = train_form.settings_query(dataset, form[0], *(form[i] for i in LINKED_AT))
    if left_out:
        gr.Warning(f"Not in the link: {left_out}.")
    return gr.update(value=query, visible=True)


# the query from share_settings as a whole link to this page, shown and copied (where allowed)
COPY_LINK = """(query) => {
  const link = location.origin + location.pathname + (query ? "?" + query : "");
  navigator.clipboard?.writeText(link).catch(() => {});
  return link;
}"""


async def train_model(state, model_key, epochs, batch_size, optimizer, learning_rate, schedule,
                      val_share, seconds=0, data_percent=100, wrong_percent=0,
                      dropout="the recipe's own", weight_decay="off", request: gr.Request = None):
    """Admit, wait for a trainer, train while someone listens; stream curves, then the run.
    Async: a training waiting in line holds no server thread (a class of 30 waits at once)."""
    session = session_of(state)
    try:
        settings = train_settings(model_key, epochs, batch_size, optimizer, learning_rate,
                                  schedule, val_share, seconds, data_percent, wrong_percent,
                                  dropout, weight_decay)
        data = await anyio.to_thread.run_sync(session.dataset)  # the first load takes seconds
        if model_key == "mobilenetv2":  # ImageNet's weights where they can be had; said either way
            settings.pretrained = imagenet_weights_ready(mobilenet_size(data.image_shape))
        place = ADMISSION.enter(_session_key(state, request), client_of_request(request))
    except ValueError as exc:
        if state is None:  # an API caller: the call fails with the message
            raise gr.Error(str(exc))
        gr.Warning(str(exc))  # the page keeps its last run's curves, model and files
        yield (state, *[gr.update()] * 10)
        return
    keep = state  # API callers without a page: nothing is kept once the call ends
    listener = request.session_hash if request is not None else None
    steps, stop = None, session.new_stop()  # Stop: out of the line, or the run ends
    try:  # no old heat-map, model or files on screen during the new run
        yield (keep, gr.update(value=None), gr.update(value=None), words.starting_line(
            MODELS[model_key].title, data.title), gr.update(value=None, visible=False),
               gr.update(visible=False, value=None),
               gr.update(visible=False, value=None), *[gr.update()] * 4)
        said, looked = None, 0.0
        while not place.check():  # in line: say where, looked at once a second, sent on change
            if not OPEN_STREAMS.listening(listener):
                return  # nobody is listening any more: do not train for no one
            if stop.is_set():
                yield (keep, gr.update(), gr.update(), words.LEFT_THE_LINE, *[gr.update()] * 7)
                return
            if time.monotonic() - looked >= 1.0:
                looked = time.monotonic()
                line = words.waiting_line(place.ahead(), ADMISSION.slots, place.wait_estimate())
                if line != said:
                    said = line
                    yield (keep, gr.update(), gr.update(), line, *[gr.update()] * 7)
            await asyncio.sleep(0.1)
        if not await _caller_there(place, listener):
            return
        steps = _train(session, keep, data, model_key, settings, listener, place, stop)
        while (update := await anyio.to_thread.run_sync(next, steps, None)) is not None:
            yield update
    except CallerGone:
        return  # dropped as its caller left; nobody is there to tell
    except (ValueError, TrainingLost) as exc:
        raise gr.Error(str(exc))
    finally:
        if steps is not None:
            steps.close()
        stop.set()  # set: this session trains nothing now
        place.leave()
        if keep is None:
            session.close()


def _session_key(state, request) -> str:
    """Whose training this is: the page's (or API call's) session id."""
    if request is not None and request.session_hash:
        return request.session_hash
    return f"state-{id(state)}" if state is not None else os.urandom(6).hex()


async def _caller_there(place, listener) -> bool:
    """True once a run that holds its trainer has someone listening (an API caller gets
    START_GRACE s to open its result stream)."""
    turn = time.monotonic()
    while not OPEN_STREAMS.listening(listener):
        if time.monotonic() - turn > START_GRACE:
            return False
        place.touch()
        await asyncio.sleep(0.1)
    return True


def _train(session, keep, data, model_key, settings, listener, place, stop):
    """The training itself, streamed; it ends within a step once `stop` is set or its caller
    stops listening, gives its trainer up (keeping what it learned) once it has held it for
    its share while others wait, and its trainer is free as soon as it ends."""
    from classifier.backends.choice import train_stream

    def gone() -> bool:
        place.touch()
        return not OPEN_STREAMS.listening(listener)

    points, shared = [], None
    live, heat_shown = CLASSES.sharing(session.membership), None  # a teacher's run: the class's
    if live is not None:
        live.start(MODELS[model_key].title, ())
    for item in train_stream(data, model_key, settings, stop, gone=gone, done=place.leave):
        if isinstance(item, list):
            if shared is None and not stop.is_set() and place.overdue():
                shared = ADMISSION.waiting  # others wait: end here, evaluated and kept
                stop.set()
            points += item
            last = item[-1]
            place.report(last.get("eta"))  # the line's estimates count on it
            new_epoch = any(p["kind"] == "epoch" for p in item)
            heat = (gr.update(value=figures.per_class_figure(points, data.class_names,
                                                             last["epochs"]), visible=True)
                    if new_epoch else gr.update())
            curves, status = _curves(points, settings), words.status_line(points, MODELS[model_key].title)
            if live is not None:  # drawn once here for every student's page
                if new_epoch:  # a copy for each page: Gradio pops a sent update's value
                    heat = heat_shown = gr.update(value=_HEAT.postprocess(heat["value"]), visible=True)
                live.show((*map(dict, curves), status,  # copies: Gradio pops a sent update's value
                           dict(heat_shown) if heat_shown is not None else gr.skip()))
            yield (keep, *curves, status, heat, *[gr.update()] * 6)
            continue
        name = session.add_run(item, take_home=keep is not None)
        _on_the_board(session, item)
        names = session.model_names()
        picker = gr.update(choices=names, value=session.active_model)  # a run at chance is not made active
        files = [str(f) for f in session.take_home(name)] if keep is not None else None
        download = str(session.trained[name].download) if keep is not None else None
        if session.dropped and keep is not None:
            gr.Info(f"Only the last few runs are kept: {', '.join(session.dropped)} left the pickers.")
        curves = _curves(points, settings)
        said = (words.final_line(item, session.dropped, shared=shared, share=ADMISSION.share)
                + "".join(f"  \n{note[0].upper()}{note[1:]}." for note in session.notes))
        if live is not None:  # the model becomes the class's when it is the teacher's own
            live.end((*map(dict, curves), said, dict(heat_shown) if heat_shown is not None else gr.skip()),
                     (name, session.trained[name]) if session.active_model == name else None)
        yield (keep, *curves, said,
               gr.update(), gr.update(value=download, visible=download is not None),
               gr.update(value=files, visible=files is not None),
               picker, picker, session.header(), epoch_slider(session, session.active_model))


def _on_the_board(session, run) -> None:
    """A class member's finished run on the class's board (a board out of reach is logged in
    one line: the run itself is kept either way)."""
    if session.membership is None:
        return
    try:
        CLASSES.record(session.membership, MODELS[run.model_key].title, run.dataset.title,
                       words.board_settings(run), run.evaluation.accuracy, run.result.seconds)
    except (ValueError, sqlite3.Error) as exc:
        print(f"class board: {type(exc).__name__}: {exc}", flush=True)


def _curves(points, settings):
    """Accuracy and loss plots over the whole run's x range, so they grow left to right: epochs,
    or seconds for a time budget."""
    x, end, unit = (("seconds", settings.seconds, "seconds of training") if settings.seconds
                    else ("epoch", settings.epochs, "epoch"))
    return [gr.update(value=frame, x=x, x_lim=[0, end], x_title=unit, visible=True,
                      label=f"{name} by {unit}: blue training, orange validation")
            for name, frame in zip(("Accuracy", "Loss"), figures.curve_frames(points, x))]


def stop_training(state, request: gr.Request = None):
    session = session_of(state)
    if session.stop.is_set():
        gr.Info("Nothing is training now.")
        return
    session.stop.set()
    if ADMISSION.in_line(_session_key(state, request)):
        gr.Info("Leaving the line.")
    else:
        gr.Info("Stopping after the current step; what was learned is kept.")


def export_active(state, fmt):
    """The active model as TFLite or ONNX, checked in its runtime, with the code that loads it."""
    from classifier.export.formats import FORMATS, export_trained
    session = session_of(state)
    try:
        fmt = arguments.choice("format", fmt, list(FORMATS))
        name = session.active_model
        predictor = session.predictor(name)
        out = session.workdir / f"{re.sub(r'[^A-Za-z0-9]+', '-', short_name(name)).strip('-')}{FORMATS[fmt]}"
        report = export_trained(predictor.model, session.dataset_of(name), fmt, out,
                                class_names=predictor.class_names)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    return (gr.update(value=str(report.path), visible=True),
            f"{report.summary(name_only=True)}\n\n```python\n{report.snippet}```")


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["train"])
    with gr.Row():
        with gr.Column(scale=1):
            model_key = gr.Dropdown([(s.title, k) for k, s in MODELS.items()], value="mlp",
                                    label="Model")
            form = [model_key,
                    gr.Slider(*FORM["epochs"], value=START_EPOCHS, step=1, label="Epochs"),
                    gr.Dropdown(list(FORM["batch_sizes"]), value=START_BATCH, label="Batch size"),
                    gr.Dropdown(list(FORM["optimizers"]), value="recipe's own", label="Optimizer"),
                    gr.Number(0, label="Learning rate (0 = the recipe's own)"),
                    gr.Dropdown([("cosine decay (fast)", "cosine"), ("constant (the tutorials')", "constant")],
                                value="cosine", label="Learning-rate schedule"),
                    gr.Slider(*FORM["validation"], value=0.1, step=0.05, label="Validation share"),
                    gr.Slider(*FORM["seconds"], value=0, step=5,
                              label="…or train for a time: seconds (0 = by epochs)",
                              info="The learning rate is planned to finish when the time is up.")]
            form += lab_form()
            with gr.Row():
                train = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            share = gr.Button("Copy the link to these settings", size="sm")
            link = gr.Textbox(label="Link to these settings: opens the page with them filled in",
                              visible=False, interactive=False, buttons=["copy"])
        with gr.Column(scale=2):
            model_info = gr.Markdown()
            status = gr.Markdown(words.BEFORE_TRAINING)
            curve = dict(x="epoch", color="series", height=300, colors_in_legend=[],
                         color_map={"training": "#4263eb", "validation": "#f76707"})
            accuracy = gr.LinePlot(y="accuracy", y_lim=[0, 1], **curve, visible=False,  # until a run
                                   label="Accuracy by epoch: blue training, orange validation")
            loss = gr.LinePlot(y="loss", **curve, visible=False,
                               label="Loss by epoch: blue training, orange validation")
            per_class = gr.Plot(label="Validation accuracy per class, each epoch", show_label=False,
                                visible=False)  # from a run's first epoch end
            download = gr.DownloadButton("Download the trained model (.keras)", visible=False)
            with gr.Accordion("Export the active model: TensorFlow Lite or ONNX", open=False):
                with gr.Row():
                    export_format = gr.Radio([("TFLite", "tflite"), ("TFLite int8 (4x smaller)", "tflite-int8"),
                                              ("ONNX", "onnx")], value="tflite", label="Format", scale=3)
                    export = gr.Button("Export and check", scale=1)
                exported = gr.File(label="The exported model", visible=False, interactive=False)
                export_info = gr.Markdown()
            take_home = gr.File(label="Take it home: the model, a plain-Keras script that reproduces "
                                      "this run, and its metrics (JSON)",
                                file_count="multiple", visible=False, interactive=False)
    what_is_happening("train")
    return SimpleNamespace(model_key=model_key, epochs=form[1], batch_size=form[2], form=form,
                           train=train, stop=stop, share=share, link=link, export=export,
                           export_format=export_format, exported=exported, export_info=export_info,
                           model_info=model_info, linked=[form[i] for i in LINKED_AT],
                           outputs=[accuracy, loss, status, per_class, download, take_home])


def lab_form() -> list:
    """The lab's four settings, folded away: what makes a model overfit, what holds it back."""
    with gr.Accordion("Lab: make it overfit, or hold it back", open=False):
        gr.Markdown(words.LAB)
        return [gr.Slider(*FORM["data_percent"], value=100, step=1,
                          label="Train on this share of the training images (%)"),
                gr.Slider(*FORM["wrong_percent"], value=0, step=5,
                          label="Wrong labels: this share of the training labels (%)"),
                gr.Dropdown(list(FORM["dropouts"]), value="the recipe's own", label="Dropout"),
                gr.Dropdown(list(FORM["weight_decays"]), value="off", label="Weight decay")]


def wire(state, active, dataset, tr, pr, ev):
    """Train (the public /train), Stop; a finished run becomes the pickers' model. Returns the
    training's event (what follows a run's end)."""
    tr.model_key.input(describe_model, [tr.model_key, state],
                       [tr.model_info, tr.epochs, tr.batch_size], **PRIVATE)
    trained = tr.train.click(train_model, [state, *tr.form], [state, *tr.outputs, pr.model, ev.model, active, pr.epoch],
                   api_name="train", preprocess=False,  # train_settings checks each value
                   concurrency_limit=None,  # ADMISSION decides, not Gradio's queue
                   trigger_mode="multiple",  # "once" lost a click made as a run ended;
                   show_progress="hidden")  # the status line says how far: nothing covers the curves
    # a second click while one runs is refused by ADMISSION with a message instead
    tr.stop.click(stop_training, state, None, concurrency_limit=None, **PRIVATE)
    tr.export.click(export_active, [state, tr.export_format], [tr.exported, tr.export_info],
                    concurrency_limit=1, **CHECKED)  # one conversion (seconds of CPU) at a time
    tr.share.click(share_settings, [dataset, *tr.form], tr.link, **CHECKED).success(
        None, tr.link, tr.link, js=COPY_LINK)
    return trained
