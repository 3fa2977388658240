"""An output a handler leaves as it is (gr.update(), gr.skip()) is sent as Gradio sends it, without
Gradio building a new component and its config for it (classifier/ui/bare_updates.py).

Checked in a fresh Python: it swaps Gradio's own postprocess in and out and counts components
built, which must not touch the app that the browser tests serve from this process."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import asyncio, json
import gradio as gr
from classifier.ui import bare_updates

bare_updates.install()
patched = gr.Blocks.postprocess_data
bare_updates.install()
twice = gr.Blocks.postprocess_data is patched
built = [0]
original_init = gr.Slider.__init__

def counting(self, *args, **kwargs):
    built[0] += 1
    original_init(self, *args, **kwargs)

with gr.Blocks() as demo:
    slider, text, state = gr.Slider(0, 10), gr.Textbox(), gr.State(3)
    gr.Button().click(lambda: None, None, [slider, text, state])
fn = demo.fns[0]
gr.Slider.__init__ = counting
seen = {}
for name, postprocess in (("gradio", patched.gradio_own), ("ours", patched)):
    gr.Blocks.postprocess_data = postprocess
    built[0] = 0
    out = asyncio.run(demo.postprocess_data(fn, [gr.update(), "hello", gr.skip()], None))
    again = asyncio.run(demo.postprocess_data(fn, [gr.update(maximum=5), gr.skip(), 4], None))
    seen[name] = {"out": out, "again": again, "built": built[0]}
print(json.dumps({"twice_once": twice, **seen}))
"""


def test_a_bare_update_is_sent_as_gradio_sends_it_without_building_a_component():
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    theirs, ours = seen["gradio"], seen["ours"]
    assert ours["out"] == theirs["out"]  # the same on the wire: bare, "hello", the State's None
    assert ours["out"][0] == {"__type__": "update"} and ours["out"][1] == "hello"
    assert ours["again"][0]["maximum"] == 5 and ours["again"] == theirs["again"]  # real updates
    assert theirs["built"] >= 2 and ours["built"] == 1  # Gradio built one for the bare update too
    assert seen["twice_once"]  # installing twice patches once
