"""The page: a header, the walk-through, seven tabs (one module each), the events that run as it
loads, the queue and how it is launched. The one place that knows every tab: a new tab is a
module and a line here."""
from __future__ import annotations

import gradio as gr
from starlette.middleware import Middleware

from ..serving.traffic import TrafficMiddleware
from . import (
    api,
    bare_updates,
    class_tab,
    compare_tab,
    dataset_tab,
    evaluate_tab,
    inside_tab,
    lifecycle,
    predict_tab,
    train_tab,
    walk_panel,
    words,
)
from .common import PRIVATE, level
from .fair_queue import FairQueue

CSS = """
/* .whole: every picture of a gallery shown, whatever the width (Gradio's grid wants columns
   of 100px or more and clips rows beyond its fixed height) */
.whole .grid-wrap { height: auto !important; max-height: none !important; min-height: 0 !important; }
.whole .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important;
                         grid-template-rows: none !important; grid-auto-rows: auto !important; }
/* .thumbs: a gallery of small pictures, as many columns as fit, scrolling past its height */
.thumbs .grid-container { grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)) !important;
                          grid-template-rows: none !important; grid-auto-rows: auto !important; }
/* .preview: the label above the picture, not over its top */
.preview [data-testid=block-label] { position: static !important; }
.preview img { object-fit: contain !important; }
/* the drawing canvas: brush, its size, eraser, undo, redo and clear; no pan, zoom or colour */
#draw button[aria-label="Pan"], #draw button[aria-label="Zoom out"],
#draw button[aria-label="Zoom in"], #draw .zoom-number, #draw button[aria-label="Color"]
  { display: none !important; }
/* a clicked confusion cell keeps its colour and number, ringed: no editing look, no row and
   column handles (the table is read-only) */
#confusion .cell-selected span { background: transparent !important; box-shadow: none !important; }
#confusion .selection-button { display: none !important; }
/* a phone: the runs' table keeps readable columns and scrolls sideways, not a letter a line */
@media (max-width: 640px) {
  #runs-table [role=gridcell], #runs-table [role=columnheader]
    { min-width: 96px !important; flex: 0 0 96px !important; width: 96px !important; }
  #runs-table [role=gridcell]:first-child, #runs-table [role=columnheader]:first-child
    { min-width: 180px !important; flex: 0 0 180px !important; width: 180px !important; }
}
""" + walk_panel.CSS
LAUNCH = dict(max_file_size="20mb", css=CSS,  # no allowed_paths: only Gradio's own cache is served
              app_kwargs={"middleware": [Middleware(TrafficMiddleware)]},  # streams, body cap
              state_session_capacity=2000)  # a backstop; idle sessions go long before


def build() -> gr.Blocks:
    """The page: a header, the walk-through, seven tabs, each laid out and wired by its own module."""
    with gr.Blocks(title="Train an image classifier, live",
                   delete_cache=(600, 3600)) as demo:  # files the app served: kept an hour
        state = gr.State(None, delete_callback=lambda s: s is not None and s.close())
        gr.Markdown(words.HEADER)
        link_note = gr.HTML(visible=False, elem_classes="link-note")
        active = gr.Markdown()
        walk = walk_panel.create()
        with gr.Tabs(overflow_behavior="wrap") as tabs:  # a phone sees every tab, in two rows
            with gr.Tab("Dataset", id="dataset"):
                ds = dataset_tab.create()
            with gr.Tab("Train", id="train") as train_page:
                tr = train_tab.create()
            with gr.Tab("Predict", id="predict"):
                pr = predict_tab.create()
            with gr.Tab("Inside the network", id="inside") as inside_page:
                ins = inside_tab.create()
            with gr.Tab("Evaluate", id="evaluate") as evaluate_page:
                ev = evaluate_tab.create()
            with gr.Tab("Compare", id="compare") as compare_page:
                cmp = compare_tab.create()
            with gr.Tab("Class", id="class"):
                cl = class_tab.create()
        demo.unload(lifecycle.close_tab)
        loaded = demo.load(lifecycle.new_session, None, [state, pr.model, ev.model, active], **PRIVATE).then(
            train_tab.link_dataset, None, [ds.key, tr.model_key, link_note], **PRIVATE).then(
            level(dataset_tab.show_dataset), [state, ds.key, ds.show_class, ds.seed], ds.outputs,
            **PRIVATE).then(
            dataset_tab.header, state, active, **PRIVATE).then(  # a link's dataset, named at once
            train_tab.describe_loaded_model, [tr.model_key, tr.epochs, tr.batch_size, state],
            [tr.model_info, tr.epochs, tr.batch_size], **PRIVATE).then(train_tab.link_form, None, tr.linked, **PRIVATE)
        class_tab.wire_arrival(loaded, state, tabs, cl)
        dataset_tab.wire(state, active, ds, tr, train_page)
        trained = train_tab.wire(state, active, ds.key, tr, pr, ev)
        predict_tab.wire(state, active, pr, ev)
        inside_tab.wire(state, ins, inside_page)
        evaluate_tab.wire(state, ev, evaluate_page)
        compare_tab.wire(state, cmp, compare_page, trained)
        class_tab.wire(state, tabs, cl, [*tr.outputs[:4], pr.model, ev.model, active, pr.epoch],
                       walk.to)
        walk_panel.wire(state, tabs, active, walk, ds, tr, pr, ev)
        walk_panel.wire_load(demo, state, walk, tr)
        api.wire()
    demo.queue(max_size=256, default_concurrency_limit=8,
               api_open=False)  # /run/<name> would skip the queue and its limits
    FairQueue.install(demo)  # limits per session and per network, a fair order (fair_queue.py)
    bare_updates.install()  # an output left as it is costs nothing (bare_updates.py)
    return demo
