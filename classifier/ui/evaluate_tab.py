"""The Evaluate tab: the active model on the test set: accuracy, a confusion matrix to click,
per-class accuracy, a grid of answers and the most confident mistakes."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..core import arguments
from ..images.preprocess import upscale
from ..serving.session import Session, shipped_names
from ..views import figures
from . import words
from .common import PRIVATE, SEED_MAX, level, session_of, what_is_happening


def screen(session: Session):
    """What this tab shows for `session`: `shown`, the model whose results are on screen."""
    return session.screen("evaluate", shown=None)


def show_evaluation(state, model_name, seed):
    session = session_of(state)
    try:
        seed = arguments.integer("sample seed", seed, 0, SEED_MAX)
        ev, data = session.evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = ev.sample(25, seed)
    grid = figures.prediction_grid_figure(data.x_test[idx], ev.y_true[idx], ev.y_pred[idx],
                                          ev.confidence[idx], data.class_names)
    wrong = ev.mistakes(10)
    mistakes = [(upscale(data.x_test[i]), f"{data.class_names[ev.y_pred[i]]} "
                 f"{ev.confidence[i]:.0%}, true: {data.class_names[ev.y_true[i]]}") for i in wrong]
    per_class = ev.per_class_accuracy()
    frame = gr.update(value=figures.pd.DataFrame({"class": list(per_class),
                                                  "accuracy": list(per_class.values())}),
                      sort=list(data.class_names))
    text = (f"**Test accuracy {ev.accuracy:.2%}** on {len(ev.y_true):,} test images the model never "
            f"trained on (test loss {ev.loss:.3f}).")
    table = figures.confusion_styler(ev.confusion_matrix(), data.class_names)
    screen(session).shown = model_name
    return (text, table, frame, grid, mistakes, gr.update(value=None, visible=False), PAIR_HINT,
            gr.update(visible=True))


PAIR_HINT = "**Click a cell** of the table to see its test images, most confident first."


PAIR_IMAGES = 12  # a clicked cell's images drawn, the surest first


def sync_evaluation(state):
    """The Evaluate tab opened: its picker shows the active model (a training or the Predict
    tab may have changed it), and results of another model are cleared, not left to mislead."""
    session = session_of(state)
    picker = gr.update(choices=session.model_names(), value=session.active_model)
    if screen(session).shown == session.active_model:
        return picker, *[gr.update()] * 8
    return (picker, press_line(session.active_model), None, None, None, None,
            gr.update(value=None, visible=False), PAIR_HINT, gr.update(visible=False))


def press_line(model_name) -> str:
    """What the tab says before its results: what Evaluate will show, and for which model."""
    return (f"Press **Evaluate** to see **{model_name}** on the test set: its accuracy, a "
            "confusion matrix to click, each class's accuracy and its surest mistakes.")


def show_pair(state, model_name, evt: gr.SelectData):
    """A clicked confusion-matrix cell: the test images of that (true, predicted) pair."""
    row, col = evt.index
    if col == 0:  # the class-name column
        return gr.update(), PAIR_HINT
    try:
        ev, data = session_of(state).evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    true, pred = data.class_names[row], data.class_names[col - 1]
    idx = ev.pair(row, col - 1)  # all of them: the figure draws the surest 12 and counts the rest
    fig = figures.pair_figure(data.x_test[idx], ev.probabilities[idx], data.class_names, true, pred,
                              max_images=PAIR_IMAGES)
    return (gr.update(value=fig, visible=True),
            words.pair_line(len(idx), true, pred, min(len(idx), PAIR_IMAGES)))


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["evaluate"])
    with gr.Row():
        model = gr.Dropdown(shipped_names(), label="Model", value=(shipped_names() or [None])[0])
        seed = gr.Number(0, label="Sample seed", precision=0)
        evaluate = gr.Button("Evaluate on the test set", variant="primary")
    first = model.value
    text = gr.Markdown(press_line(first) if first else "Train a model first, then press **Evaluate**.")
    with gr.Column(visible=False) as results:  # nothing but the line above until Evaluate
        confusion = gr.Dataframe(label="Confusion matrix: rows are the true class, columns the "
                                       "answer (click a cell)", interactive=False, wrap=True,
                                 elem_id="confusion")
        pair_text = gr.Markdown()
        pair_plot = gr.Plot(label="Test images of the clicked cell", show_label=False,
                            visible=False)
        per_class = gr.BarPlot(x="class", y="accuracy", y_lim=[0, 1], height=260,
                               label="Accuracy per class", x_label_angle=-45)
        grid = gr.Plot(label="25 test images: green right, red wrong", show_label=False)
        mistakes = gr.Gallery(label="The most confident mistakes", columns=5, elem_classes="whole")
    what_is_happening("evaluate")
    return SimpleNamespace(model=model, seed=seed, evaluate=evaluate, confusion=confusion,
                           pair=[pair_plot, pair_text],
                           outputs=[text, confusion, per_class, grid, mistakes, pair_plot, pair_text,
                                    results])


def wire(state, ev, tab) -> None:
    ev.evaluate.click(level(show_evaluation), [state, ev.model, ev.seed], ev.outputs, **PRIVATE)
    ev.confusion.select(show_pair, [state, ev.model], ev.pair, **PRIVATE)
    tab.select(sync_evaluation, state, [ev.model, *ev.outputs], **PRIVATE)
