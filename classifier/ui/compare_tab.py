"""The Compare tab: the session's runs and the shipped models, validation accuracy on one chart,
their table in each run's colour."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..views import compare
from . import words
from .common import PRIVATE, session_of, what_is_happening


def show_comparison(state, x_axis, chosen):
    """Validation accuracy of the chosen runs on one chart, and their table. A run this tab has
    not listed before is chosen too (one that ended while the tab was open joins the chart)."""
    session = session_of(state)
    runs, params = session.runs_to_compare()
    names = [name for name, _ in runs]
    listed = session.screen("compare", listed=set()).listed
    if chosen is not None and not isinstance(chosen, (list, tuple)):
        chosen = None  # anything but a list of names: all of them
    chosen = [c for c in (chosen if chosen is not None else names) if c in names]
    chosen += [n for n in names if n not in listed and n not in chosen]
    listed.clear()
    listed.update(names)
    picked = [r for r in runs if r[0] in chosen]
    colours = compare.run_colours(names)  # drawn on the server: no plot a step behind
    plot = compare.curve_figure(compare.curve_frame(picked, x_axis), colours, x_axis)
    table = compare.table_frame(picked, params).drop(columns=["model", "dataset"])  # in the name
    legend = table.style.apply(lambda runs: [f"color: {colours[r]}; font-weight: bold" for r in runs],
                               subset=["run"])  # the run's line colour: the table is the legend
    return gr.update(choices=names, value=chosen), plot, legend


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["compare"])
    with gr.Row():
        runs = gr.CheckboxGroup(label="Runs to overlay", scale=3)
        x_axis = gr.Radio([("epoch", "epoch"), ("seconds of training", "seconds")], value="epoch",
                          label="x axis", scale=1)
    plot = gr.Plot(label="Validation accuracy, one colour a run (as in the table); dotted: the "
                        "training accuracy of a model with no validation images", show_label=False)
    table = gr.Dataframe(label="The runs, in their line's colour", interactive=False, wrap=True,
                         elem_id="runs-table",
                         column_widths=["30%", "10%", "10%", "9%", "8%", "11%", "11%", "11%"])
    what_is_happening("compare")
    return SimpleNamespace(runs=runs, x_axis=x_axis, outputs=[runs, plot, table])


def show_all(state, x_axis):
    """The tab opened: every run."""
    return show_comparison(state, x_axis, None)


def wire(state, cmp, tab, trained) -> None:
    """`trained`: a training's event, after whose end the tab lists the new run (were it open)."""
    tab.select(show_all, [state, cmp.x_axis], cmp.outputs, **PRIVATE)
    again = dict(fn=show_comparison, inputs=[state, cmp.x_axis, cmp.runs], outputs=cmp.outputs,
                 **PRIVATE)
    gr.on([cmp.x_axis.input, cmp.runs.input], **again)
    trained.then(show_progress="hidden", **again)
