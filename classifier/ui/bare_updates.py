"""Outputs a handler leaves as they are, sent for free.

Gradio 6.31 treats `gr.update()` / `gr.skip()` (the dict {"__type__": "update"}) as a change of
properties: for each such output of each event it builds a new component in the session's state
and recomputes its config, JSON schema included, then sends {"__type__": "update"} all the same.
A waiting line that says where it is, thirty students' pages ticking, a training's many updates:
py-spy on a server with a class of 30 in line found a fifth of its CPU there (BENCHMARKS.md,
section 16). `install()` sends a bare update as it is, without that work: what the page gets is
unchanged. State outputs keep Gradio's own path.
"""
from __future__ import annotations

import gradio as gr
from gradio import components

BARE = {"__type__": "update"}


def install() -> None:
    """Patch `gr.Blocks.postprocess_data` once (every Blocks of the process)."""
    original = gr.Blocks.postprocess_data
    if getattr(original, "sends_bare_updates", False):
        return

    async def postprocess_data(self, block_fn, predictions, state):
        outputs = list(block_fn.outputs)
        bare = []
        if isinstance(predictions, (list, tuple)) and len(outputs) > 1 and not block_fn.batch \
                and len(predictions) == len(outputs):
            bare = [i for i, (block, p) in enumerate(zip(outputs, predictions))
                    if isinstance(p, dict) and p == BARE and not block.stateful]
            if bare:
                predictions = [components._Keywords.FINISHED_ITERATING if i in bare else p
                               for i, p in enumerate(predictions)]  # Gradio's own "nothing"
        output = await original(self, block_fn, predictions, state)
        for i in bare:
            output[i] = dict(BARE)
        return output

    postprocess_data.sends_bare_updates, postprocess_data.gradio_own = True, original
    gr.Blocks.postprocess_data = postprocess_data
