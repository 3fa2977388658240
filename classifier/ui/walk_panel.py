"""The walk-through panel, above the tabs: the lectures' eleven steps (serving/walkthrough.py),
one at a time, with Back and Next, a question to guess first, a button that does the step (opens
its tab, fills the Train form, trains, evaluates or sweeps) and the answer after it, and the
step's Keras code from the take-home script. The step is remembered by the browser (and whether
the panel was folded away); a teacher's step moves the class."""
from __future__ import annotations

import html
import sqlite3
from types import SimpleNamespace

import gradio as gr

from ..serving import walkthrough
from ..serving.classroom import ClassError
from ..serving.walkthrough import EVALUATE, FILL, STEPS, SWEEP, TRAIN, step_at
from . import dataset_tab, evaluate_tab, predict_tab, train_tab
from .common import (
    CHECKED,
    CLASSES,
    PRIVATE,
    level,
    model_text,
    pick_second,
    session_of,
)

CSS = """
#walk .walk-text p, #walk .walk-text li { font-size: 1.05rem; line-height: 1.5; }
#walk .walk-title h3 { margin: 0; }
#walk .walk-text strong { font-size: inherit; }
#walk button, #walk label, #walk [data-testid=block-info] { font-size: max(15px, 1em); }
"""
_COUNTS = {"evaluate": 8}  # the Evaluate tab's outputs (checked as the page is wired)
NONE_YET = "# This step's code needs a dataset: pick one (or make two classes of your own) first.\n"


def _index(value) -> int:
    return walkthrough.STEPS.index(step_at(value))


def show_step(state, index, *form):
    """Step `index` on the panel: its title, words, question and button; its answer hidden
    until the step is done (its code follows: `step_code`). A teacher's step becomes the
    class's."""
    session, i = session_of(state), _index(index)
    step = STEPS[i]
    member = session.membership
    if member is not None and member.teacher:
        try:
            CLASSES.move(member, f"walk:{step.key}")
        except (ClassError, sqlite3.Error) as exc:
            print(f"walk-through: the class could not follow: {type(exc).__name__}: {exc}", flush=True)
            gr.Warning("The class could not follow this step just now: press Next and Back to try again.")
    return (i, f"### Step {i + 1} of {len(STEPS)}: {html.escape(step.title)}", step.text,
            gr.update(choices=list(step.choices), value=None,
                      label=f"Guess first: {step.question}"),
            gr.update(value=step.button), gr.update(value="", visible=False),
            gr.update(visible=False), i, gr.update(interactive=i > 0),
            gr.update(interactive=i < len(STEPS) - 1))


def step_code(state, index, *form):
    """The step's Keras code for the session's dataset and the Train form's values (the first
    one in a server takes seconds: Keras loads)."""
    session = session_of(state)
    try:
        return walkthrough.code(step_at(index), session.dataset(), list(form),
                                session.training_defaults)
    except ValueError:
        return NONE_YET


def go(index):
    """The step's tab opens (a training step's run follows in the chain)."""
    return gr.Tabs(selected=step_at(index).tab), gr.update(visible=False), gr.update(visible=False)


def switch(state, index, seed, model_key):
    """The step's dataset, when it is not the session's already (dataset_tab.switch_to)."""
    yield from level(dataset_tab.switch_to)(state, step_at(index).dataset, seed, model_key)


def fill(state, index, *form):
    """A step that fills the Train form: its values (and the model's text); others: nothing."""
    step = step_at(index)
    if step.action not in (FILL, TRAIN):
        return (gr.skip(),) * (len(walkthrough.FORM_FIELDS) + 1)
    session = session_of(state)
    values = walkthrough.step_form(step, list(form), session.training_defaults)
    sent = [gr.update(value=v) if v != was else gr.skip()  # what the form has stays as it is
            for v, was in zip(values, list(form) + [None] * len(values))]
    return (*sent, model_text(values[0], state))


async def train_step(state, index, *form, request: gr.Request = None):
    """A training step's run: the Train button's own handler, with the form as filled."""
    if step_at(index).action != TRAIN:
        yield (gr.skip(),) * 11
        return
    async for update in train_tab.train_model(state, *form, request=request):
        yield update


def evaluate_step(state, index, model_name, seed):
    """The evaluating step: the Evaluate tab's own handler on the active model."""
    if step_at(index).action != EVALUATE:
        yield (gr.skip(),) * _COUNTS["evaluate"]
        return
    yield from level(evaluate_tab.show_evaluation)(state, model_name, seed)


def sweep_step(state, index, model_name, second, epoch):
    """The sweeping step: What breaks it opened, a shift of the latest drawing swept for the
    active model and a second one (Predict's own handler). Nothing drawn yet: said."""
    if step_at(index).action != SWEEP:
        return (gr.skip(),) * 5
    session, opened, kind = session_of(state), gr.update(open=True), gr.update(value="shift_right")
    if session.last_image is None:
        gr.Warning("Draw something in Predict first (step 5): the sweep moves your drawing.")
        return opened, kind, gr.skip(), gr.skip(), gr.skip()
    picked = pick_second(state, model_name)
    second = second if second in picked["choices"] else picked["value"]
    chart, strip = predict_tab.show_sweep(state, model_name, second, "shift_right", epoch)
    return opened, kind, gr.update(choices=picked["choices"], value=second), chart, strip


def done(index, guess):
    """After the step: the answer at once where the step's result is on screen (a run, an
    evaluation, a sweep); the others offer it, for when their tab has been tried."""
    if step_at(index).action in (TRAIN, EVALUATE, SWEEP):
        return answer(index, guess)
    return gr.update(visible=False), gr.update(visible=True)


def answer(index, guess):
    """The step's answer, and what the guess was (and the Show button gone)."""
    step = step_at(index)
    said = ""
    if isinstance(guess, str) and guess in step.choices:
        right = step.choices.index(guess) == step.right
        said = f"You guessed *{html.escape(guess)}*: {'right!' if right else 'not this time.'}  \n"
    return gr.update(value=said + step.answer, visible=True), gr.update(visible=False)


def back_step(state, index, *form):
    return show_step(state, _index(index) - 1, *form)


def next_step(state, index, *form):
    return show_step(state, _index(index) + 1, *form)


def moved(state, to, *form):
    """The class's step reached this page (`to`: "VERSION:INDEX", from the class's tick)."""
    try:
        index = int(str(to).rpartition(":")[2])
    except ValueError:
        return (gr.skip(),) * 10
    return show_step(state, index, *form)


def folded():
    return "folded"  # (a string: a stored False would come back as the default)


def unfolded():
    return "open"


def restore_fold(kept):
    """The panel as this browser left it: folded away by someone who knows the way, or open."""
    return gr.update(open=kept != "folded")


def create() -> SimpleNamespace:
    kept = gr.BrowserState(0, storage_key="classifier-walk")
    kept_open = gr.BrowserState("open", storage_key="classifier-walk-open")
    with gr.Accordion("Walk-through: the lectures' path, one step at a time", open=True,
                      elem_id="walk") as panel:
        with gr.Row():
            back = gr.Button("◀ Back", scale=0, min_width=90, interactive=False)
            picker = gr.Dropdown([(f"{i}. {s.title}", i - 1) for i, s in enumerate(STEPS, 1)],
                                 value=0, label="Step", show_label=False, scale=3,
                                 elem_id="walk-step")
            forward = gr.Button("Next ▶", scale=0, min_width=90)
        first = STEPS[0]  # shown at once; a remembered step replaces it as the page loads
        title = gr.Markdown(f"### Step 1 of {len(STEPS)}: {first.title}", elem_classes="walk-title")
        text = gr.Markdown(first.text, elem_classes="walk-text")
        guess = gr.Radio(list(first.choices), label=f"Guess first: {first.question}")
        with gr.Row():
            do = gr.Button(first.button, variant="primary", elem_id="walk-do")
            reveal = gr.Button("Show the answer", visible=False, elem_id="walk-reveal")
        said = gr.Markdown(visible=False, elem_id="walk-answer", elem_classes="walk-text")
        with gr.Accordion("The Keras code of this step (from the take-home script)",
                          open=False) as code_fold:
            code = gr.Code(language="python", interactive=False, elem_id="walk-code")
    to = gr.Textbox(visible=False)  # the class's step, set by its tick (class_tab.follow)
    return SimpleNamespace(kept=kept, kept_open=kept_open, panel=panel, back=back, picker=picker, forward=forward, title=title,
                           text=text, guess=guess, do=do, reveal=reveal, said=said, code=code,
                           code_fold=code_fold, to=to,
                           shown=[picker, title, text, guess, do, said, reveal, kept, back, forward])


def wire(state, tabs, active, walk, ds, tr, pr, ev) -> None:
    """Back, Next and the step picker show a step; Do it opens, picks, fills, trains; the
    answer follows."""
    shown, form = walk.shown, [state, walk.picker, *tr.form]
    for event in (walk.picker.input(show_step, form, shown, **CHECKED),
                  walk.back.click(back_step, form, shown, **CHECKED),
                  walk.forward.click(next_step, form, shown, **CHECKED),
                  walk.to.change(moved, [state, walk.to, *tr.form], shown, **CHECKED)):
        event.then(step_code, form, walk.code, **CHECKED)
    walk.code_fold.expand(step_code, form, walk.code, **CHECKED)  # the form as it is now
    walk.panel.collapse(folded, None, walk.kept_open, **PRIVATE)
    walk.panel.expand(unfolded, None, walk.kept_open, **PRIVATE)
    quiet = dict(CHECKED, show_progress="hidden")  # quick, or nothing at all for most steps
    b = pr.breaks
    assert len(ev.outputs) == _COUNTS["evaluate"], "the Evaluate tab's outputs changed"
    walk.do.click(go, walk.picker, [tabs, walk.said, walk.reveal], **quiet).then(
        switch, [state, walk.picker, ds.seed, tr.model_key],
        [*ds.outputs, active, tr.model_key, tr.epochs, tr.batch_size, tr.model_info],
        **quiet).then(
        fill, [state, walk.picker, *tr.form], [*tr.form, tr.model_info], **quiet).then(
        train_step, [state, walk.picker, *tr.form],
        [state, *tr.outputs, pr.model, ev.model, active, pr.epoch],
        concurrency_limit=None, **quiet).then(  # ADMISSION decides, as for Train
        evaluate_step, [state, walk.picker, ev.model, ev.seed], ev.outputs, **CHECKED).then(
        sweep_step, [state, walk.picker, pr.model, b.second, pr.epoch],
        [b.section, b.kind, b.second, *b.swept], **CHECKED).then(
        done, [walk.picker, walk.guess], [walk.said, walk.reveal], **quiet)
    walk.reveal.click(answer, [walk.picker, walk.guess], [walk.said, walk.reveal], **CHECKED)


def arrive(state, kept, kept_open, *form):
    """As the page opens: the step this browser was on (a reload keeps a student's place) and the
    panel folded if this browser folded it. (Its code waits for the code's fold to open.)"""
    return *show_step(state, kept, *form), restore_fold(kept_open)


def wire_load(demo, state, walk, tr) -> None:
    """One event as the page opens, beside its load chain (the panel needs no dataset)."""
    demo.load(arrive, [state, walk.kept, walk.kept_open, *tr.form], [*walk.shown, walk.panel],
              **CHECKED)
