"""An output a handler leaves as it is (gr.update(), gr.skip()) is sent as Gradio sends it, without
Gradio building a new component and its config for it (classifier/ui/bare_updates.py)."""
import asyncio

import gradio as gr
import pytest

from classifier.ui import bare_updates


def _outputs(patched: bool, monkeypatch):
    """(what postprocess sends for a mix of outputs, how many Sliders were built meanwhile)."""
    built = [0]
    original_init = gr.Slider.__init__

    def counting(self, *args, **kwargs):
        built[0] += 1
        original_init(self, *args, **kwargs)

    with gr.Blocks() as demo:
        slider, text, state = gr.Slider(0, 10), gr.Textbox(), gr.State(3)
        button = gr.Button()
        button.click(lambda: None, None, [slider, text, state])
    fn = demo.fns[0]
    with monkeypatch.context() as m:
        if not patched:
            m.setattr(gr.Blocks, "postprocess_data", gr.Blocks.postprocess_data.gradio_own)
        m.setattr(gr.Slider, "__init__", counting)
        out = asyncio.run(demo.postprocess_data(fn, [gr.update(), "hello", gr.skip()], None))
        again = asyncio.run(demo.postprocess_data(fn, [gr.update(maximum=5), gr.skip(), 4], None))
    return out, again, built[0]


@pytest.fixture(autouse=True)
def _installed():
    bare_updates.install()
    yield


def test_a_bare_update_is_sent_as_gradio_sends_it_without_building_a_component(monkeypatch):
    theirs = _outputs(False, monkeypatch)
    ours = _outputs(True, monkeypatch)
    assert ours[0] == theirs[0]  # the same on the wire: bare, "hello", the State's None
    assert ours[0][0] == {"__type__": "update"} and ours[0][1] == "hello"
    assert ours[1][0]["maximum"] == 5 and ours[1] == theirs[1]  # real updates: Gradio's path
    assert theirs[2] >= 2 and ours[2] == 1  # Gradio built a Slider for the bare update too


def test_install_twice_patches_once():
    bare_updates.install()
    patched = gr.Blocks.postprocess_data
    bare_updates.install()
    assert gr.Blocks.postprocess_data is patched and patched.sends_bare_updates
