"""The Predict tab: draw, upload or hold something to the webcam and see every class's score,
what the model saw, why (saliency) and the answer without the clean-up; the epoch slider; what
breaks it (sliders and a sweep)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np

from ..core import arguments
from ..images.errors import BlankImage
from ..images.preprocess import WORKING_SIDE, open_image, upscale
from ..images.webcam import webcam_frame
from ..inference.saliency import overlay
from ..serving.session import ASSETS, Session, shipped_names
from ..views import figures, robustness
from ..views.robustness import TRANSFORMS
from . import words
from .common import (
    CHECKED,
    PRIVATE,
    WEBCAM,
    WEBCAM_STREAM,
    epoch_slider,
    frame_slot,
    level,
    pick_second,
    session_of,
    short_name,
    what_is_happening,
)

LOW_CONFIDENCE = 0.5


BLACK_CANVAS = np.zeros((280, 280), dtype=np.uint8)


BLACK_SKETCH = {"background": BLACK_CANVAS, "layers": [], "composite": None}


def choose_model(state, name):
    """A model picked in Predict or Evaluate becomes the active one in both."""
    session = session_of(state)
    session.active_model = name
    return gr.update(value=name), gr.update(value=name), session.header(), epoch_slider(session, name)


def show_prediction(state, model_name, image, epoch=0):
    """A new drawing: remember it, then answer it. Gradio has decoded the canvas (its own
    checks refuse server paths); anything but pixels is refused here too."""
    composite = image.get("composite") if isinstance(image, dict) else None
    if composite is not None and not isinstance(composite, np.ndarray):
        raise gr.Error("draw on the canvas: a drawing arrives as pixels")
    session = session_of(state)
    session.last_image = image
    return _answer(session, model_name, image, epoch)


def show_upload(state, model_name, upload, epoch=0):
    """A new upload: answer it. It reaches us unopened (preprocess=False, so an unreadable file
    gets our message), so it must be a file this app's upload route received."""
    if upload is None:  # removed with its x: no model switch may answer it again
        session = session_of(state)
        if not isinstance(session.last_image, dict):  # unless a drawing came after it
            session.last_image = None
        return _answer(session, model_name, session.last_image, epoch)
    return _answer_file(state, model_name, lambda: arguments.uploaded_path(
        upload, gr.utils.get_upload_folder()), epoch)


@frame_slot
def show_webcam(state, model_name, frame, epoch=0):
    """A webcam frame, streamed a few times a second: answered as an upload is."""
    return _answer_file(state, model_name, lambda: webcam_frame(frame), epoch)


def _answer_file(state, model_name, source, epoch):
    """Open what `source()` names (checked there) once, at working size, for the answer and the
    pictures beside it; it becomes the session's latest image."""
    try:
        image = open_image(source(), draft_size=(WORKING_SIDE, WORKING_SIDE))
    except BlankImage as exc:  # the latest image, though blank: the one before is not answered again
        session_of(state).last_image = None
        return _no_answer(f"Nothing to read: {exc}.")
    except ValueError as exc:
        raise gr.Error(str(exc))
    session = session_of(state)
    session.last_image = image
    return _answer(session, model_name, image, epoch)


def repredict(state, model_name, epoch):
    """Another model or another epoch: answer the latest image again."""
    session = session_of(state)
    return _answer(session, model_name, session.last_image, epoch)


def _no_answer(message: str):
    """The answer area empty but for `message`; the previews' labels name no old answer."""
    return (None, message, None, gr.update(value=None, label="Why"),
            gr.update(value=None, label="Merely shrunk"))


def clear_drawing(state):
    """The canvas's trash icon: a black canvas to draw on at once (Gradio's own clear leaves a
    white one that wants the brush picked first), and no old answer left on screen."""
    session_of(state).last_image = None
    return BLACK_SKETCH, *_no_answer("Draw something or upload an image.")


def unreadable_upload():
    """An upload that failed (the error toast says why): empty the box and the answers, so
    neither a broken image nor "Error" pills stay behind."""
    return None, *_no_answer("Draw something or upload an image.")  # as the emptied box says


def _answer(session: Session, model_name, image, epoch):
    """Bars, answer, what the model sees, saliency, and the answer without the clean-up."""
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return _no_answer("Draw something or upload an image.")
    try:
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        weights = session.weights_at(model_name, epoch)
        predictor = session.predictor(model_name)
        answered = predictor.answer(image, weights)  # the image prepared once
        pred, why, raw = answered.prediction, answered.why, answered.shrunk
    except BlankImage as exc:  # a cleared canvas, an empty drawing: say so, no error toast
        return _no_answer(f"Nothing to read: {exc}.")
    except ValueError as exc:
        raise gr.Error(str(exc))
    at = f" (weights after epoch {int(epoch)})" if weights is not None else ""
    bars = gr.update(value=figures.probability_frame(pred.probabilities), sort=list(pred.probabilities),
                     title=f"Top answer: {pred.label} {pred.probabilities[pred.label]:.1%}{at}"
                           + (", not sure" if pred.unsure else ""))
    text = (words.top_line(pred, LOW_CONFIDENCE, predictor.meta.get("dataset"))
            + words.shrunk_line(raw, pred)
            + words.why_line(why.method, pred.label))
    return (bars, text, upscale(pred.seen, 196),
            gr.update(value=overlay(pred.seen, why.heat), label=f"Why {pred.label}: {why.method}"),
            gr.update(value=upscale(raw.seen, 196),
                      label=f"Merely shrunk: {raw.label} {raw.probabilities[raw.label]:.0%}"))


def show_changed(state, model_name, epoch, *amounts):
    """The latest image with the sliders' changes, and the model's answer to it."""
    session = session_of(state)
    try:
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        predictor = session.predictor(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    try:
        seen = predictor.prepare(session.last_image).seen
    except ValueError:  # nothing drawn yet, a cleared or blank canvas
        return None, "Draw something or upload an image: the sliders change it."
    try:
        seen, p = robustness.changed_answer(predictor, session.weights_at(model_name, epoch), seen,
                                            **dict(zip(TRANSFORMS, amounts)))
    except ValueError as exc:
        raise gr.Error(str(exc))
    return upscale(seen, 196), words.changed_line(predictor.class_names, p)


def show_sweep(state, model_name, second, kind, epoch):
    """One change swept for the active model (at the slider's epoch) and a second one."""
    session = session_of(state)
    if session.last_image is None:
        raise gr.Error("Draw something or upload an image first: the sweep changes it.")
    try:
        kind = arguments.choice("change", kind, list(TRANSFORMS))
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        models = [(model_name, session.predictor(model_name), session.weights_at(model_name, epoch))]
        if second not in (None, "", model_name):
            models.append((second, session.predictor(second), None))
        swept = robustness.sweep_models(models, session.last_image, kind)
    except BlankImage as exc:
        raise gr.Error(f"Nothing to read: {exc}.")
    except ValueError as exc:
        raise gr.Error(str(exc))
    names = session.predictor(model_name).class_names
    figure = robustness.sweep_figure([(short_name(n), s) for n, s, _ in swept], names)
    return figure, robustness.strip(swept[0][2], kind)


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["predict"])
    with gr.Row():
        model = gr.Dropdown(shipped_names(), label="Model", value=(shipped_names() or [None])[0],
                            scale=2)
        epoch = gr.Slider(1, 2, value=1, step=1, visible=False, scale=1,
                          label="Weights after epoch (your latest run)")
    with gr.Row():
        with gr.Column():
            sketch = gr.Sketchpad(value=BLACK_SKETCH, image_mode="L", canvas_size=(280, 280),
                                  type="numpy", label="Draw here (white on black)", height=380,
                                  brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=12),
                                  layers=False, sources=(), buttons=[], transforms=(),
                                  elem_id="draw")  # page.CSS hides pan and zoom: brush, eraser, undo, clear
            with gr.Row():
                upload = gr.Image(label="…or upload an image", type="filepath", height=240,
                                  sources=["upload", "clipboard"], min_width=200)
                webcam = gr.Image(label="…or your webcam: Record answers live", height=240,
                                  sources=["webcam"], streaming=True, webcam_options=WEBCAM,
                                  elem_id="predict-webcam", min_width=200)
            gr.Examples(sorted(str(p) for p in (ASSETS / "examples").glob("*.png")),
                        inputs=upload, label="Test-set examples")
        with gr.Column():
            bars = gr.BarPlot(x="class", y="probability", color="answer", y_lim=[0, 1],
                              color_map={"top answer": "#e8590c", "other": "#4c6ef5"},
                              label="Softmax scores", x_label_angle=-45, height=300,
                              colors_in_legend=[])
            answer = gr.Markdown()
            with gr.Row():
                preview = dict(height=220, interactive=False, buttons=[], elem_classes="preview")
                previews = [gr.Image(label="What the model sees (cleaned up)", **preview),
                            gr.Image(label="Why", **preview), gr.Image(label="Merely shrunk", **preview)]
    breaks = break_it_section()
    what_is_happening("predict")
    return SimpleNamespace(model=model, epoch=epoch, sketch=sketch, upload=upload, webcam=webcam,
                           answers=[bars, answer, *previews], breaks=breaks)


def break_it_section() -> SimpleNamespace:
    """What breaks it: sliders that change what the model sees, and a sweep of one change for
    the active model and a second one."""
    with gr.Accordion("What breaks it? Shift, rotate, blur… and watch the answer",
                      open=False) as section:
        gr.Markdown(words.BREAK_IT)
        with gr.Row():
            sliders = [gr.Slider(t.low, t.high, value=t.neutral, step=t.step,
                                 label=f"{t.label} ({t.unit})", min_width=160)
                       for t in TRANSFORMS.values()]
        with gr.Row():
            changed = gr.Image(label="What the model sees, changed", height=200, interactive=False,
                               buttons=[], elem_classes="preview", scale=1)
            changed_answer = gr.Markdown(scale=2)
        with gr.Row():
            kind = gr.Dropdown([(t.label, k) for k, t in TRANSFORMS.items()], value="shift_right",
                               label="Sweep one change")
            second = gr.Dropdown(label="…for a second model too", choices=[], value=None)
            sweep = gr.Button("Sweep", variant="primary", scale=0)
        chart = gr.Plot(label="Confidence along the sweep", show_label=False)
        strip = gr.Image(label="The images it swept (every few steps)", interactive=False,
                         buttons=[], height=90)
    return SimpleNamespace(section=section, sliders=sliders, changed=[changed, changed_answer],
                           kind=kind, second=second, sweep=sweep, swept=[chart, strip])


def wire(state, active, pr, ev) -> None:
    """Drawing, uploading, another model or epoch: the answers follow."""
    for picker in (pr.model, ev.model):
        picker.input(choose_model, [state, picker], [pr.model, ev.model, active, pr.epoch], **PRIVATE)
    # .input, not .change: Gradio 6.31's image editor drops its first change event
    changed = dict(fn=show_changed, inputs=[state, pr.model, pr.epoch, *pr.breaks.sliders],
                   outputs=pr.breaks.changed, show_progress="hidden", **CHECKED)
    pr.sketch.input(level(show_prediction), [state, pr.model, pr.sketch, pr.epoch], pr.answers,
                    trigger_mode="always_last", show_progress="hidden", **PRIVATE).then(**changed)
    pr.sketch.clear(clear_drawing, state, [pr.sketch, *pr.answers], **PRIVATE).then(**changed)
    # preprocess=False: the file reaches classifier.preprocess unopened, so an image that cannot be
    # read gets our clear message instead of Gradio's decoding error; show_upload checks that it
    # is an upload (Gradio does not check a raw {"path": ...} here)
    uploaded = pr.upload.change(level(show_upload), [state, pr.model, pr.upload, pr.epoch],
                                pr.answers, preprocess=False, **PRIVATE)
    uploaded.success(**changed)
    uploaded.failure(unreadable_upload, None, [pr.upload, *pr.answers], **PRIVATE)
    pr.webcam.stream(show_webcam, [state, pr.model, pr.webcam, pr.epoch], pr.answers,
                     time_limit=300, **WEBCAM_STREAM)
    gr.on([pr.model.input, pr.epoch.input], level(repredict), [state, pr.model, pr.epoch],
          pr.answers, trigger_mode="always_last", show_progress="hidden", **CHECKED)
    _wire_break_it(state, pr)


def _wire_break_it(state, pr) -> None:
    """The sliders change the latest image; Sweep charts one change for two models."""
    b = pr.breaks
    gr.on([s.release for s in b.sliders] + [pr.model.input, pr.epoch.input], show_changed,
          [state, pr.model, pr.epoch, *b.sliders], b.changed, trigger_mode="always_last",
          show_progress="hidden", **CHECKED)
    gr.on([b.section.expand, pr.model.input], pick_second, [state, pr.model], b.second, **PRIVATE)
    b.sweep.click(show_sweep, [state, pr.model, b.second, b.kind, pr.epoch], b.swept, **CHECKED)
