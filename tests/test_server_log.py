"""The server's log (issue 26, item 17): a value a handler refuses is one line, not Gradio's
traceback; a bug keeps its traceback; Gradio's cached images are never rewritten while served
(the cause of "Too much data for declared Content-Length")."""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import numpy as np
from conftest import call_event, served_app
from PIL import Image

from classifier.ui import cache_files, lifecycle


def test_a_refused_value_is_one_line_of_the_app_log(capfd):
    """A typo sent to the running app (an export format it does not know): the caller gets
    the message; the server's log gets that message once, on one line, and no traceback."""
    with served_app() as server:
        capfd.readouterr()  # the start-up's lines
        seen = call_event(server, "export_active", [None, "tflite-int9"])  # logged before
        # the answer is sent
        message = seen[-1]["output"]["error"]
        out, err = capfd.readouterr()
    assert not seen[-1]["success"] and "format must be one of" in message, seen[-1]
    log = out + err
    assert "Traceback" not in log, log
    assert [line for line in log.splitlines() if "tflite-int9" in line] == [
        f"refused export_active: {message}"], log


def _refuse(text):
    raise gr.Error("no such thing:\n" + str(text))


def _bug(text):
    raise RuntimeError("a bug, not a refusal")


def _refuse_later(text):
    yield text
    raise gr.Error("stopped after one answer")


async def _refuse_async(text):
    raise gr.Error("refused, asynchronously")


async def _refuse_async_later(text):
    yield text
    raise gr.Error("async stream refused")


def test_refusals_are_one_line_of_every_kind_and_a_bug_keeps_its_traceback(capfd):
    """quiet_refusals on a Blocks with each kind of handler (function, generator, async
    function, async generator): each gr.Error is one line naming its event, a message with a
    line break or a terminal escape included; a RuntimeError keeps Gradio's traceback."""
    handlers = [_refuse, _bug, _refuse_later, _refuse_async, _refuse_async_later]
    with gr.Blocks() as demo:
        box = gr.Textbox()
        for fn in handlers:
            box.submit(fn, box, box, api_name=fn.__name__.strip("_"))
    lifecycle.quiet_refusals(demo)
    lifecycle.quiet_refusals(demo)  # once is enough: a second call wraps nothing again
    assert all(f.fn.logs_refusals and not hasattr(f.fn.__wrapped__, "logs_refusals")
               for f in demo.fns.values())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue().launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/gradio_api/", timeout=60) as http:
            server = SimpleNamespace(http=http, fns={f.api_name: i for i, f in demo.fns.items()})
            capfd.readouterr()
            results = {fn: call_event(server, fn, ["x\x1b[31m"])[-1] for fn in server.fns}
            out, err = capfd.readouterr()
    finally:
        demo.close()
    assert not any(r["success"] for r in results.values()), results
    lines = (out + err).splitlines()
    refusals = [line for line in lines if line.startswith("refused ")]
    assert refusals == [
        "refused refuse: no such thing: x\\x1b[31m",
        "refused refuse_later: stopped after one answer",
        "refused refuse_async: refused, asynchronously",
        "refused refuse_async_later: async stream refused",
    ], lines
    assert (out + err).count("Traceback") == 1, out + err  # the bug's, and only that
    assert "RuntimeError: a bug, not a refusal" in out + err


def _torn_reads(save, seconds: float, until_torn: bool = False) -> int:
    """How often a reader finds the cached file's size changed between stat and read (what
    a file response sees) while `save` writes the same image again and again."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8))
    cache = tempfile.mkdtemp(prefix="cache-files-")
    path = save(image, cache, format="png")
    stop, torn = threading.Event(), 0

    def again():
        while not stop.is_set():
            save(image, cache, format="png")

    writer = threading.Thread(target=again)
    writer.start()
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end and not (until_torn and torn):
            size = os.stat(path).st_size
            with open(path, "rb") as f:
                torn += len(f.read()) != size
    finally:
        stop.set()
        writer.join()
    return torn


def test_a_cached_image_sent_again_is_never_rewritten_while_served():
    """Gradio 6.31 rewrites a cached image in place each time it is sent again: a reader sees
    the file change size under it (h11's "Too much data for declared Content-Length"). The
    app's save writes it once, atomically: the same path, never torn."""
    cache_files.install()
    from gradio import processing_utils
    assert processing_utils.save_pil_to_cache is cache_files.save_pil_to_cache
    gradio_own = cache_files.save_pil_to_cache.gradio_own
    assert _torn_reads(gradio_own, 10, until_torn=True) > 0  # the cause, still in Gradio
    assert _torn_reads(cache_files.save_pil_to_cache, 1.5) == 0
    image = Image.new("RGB", (8, 8), "red")
    cache = tempfile.mkdtemp(prefix="cache-files-")
    assert cache_files.save_pil_to_cache(image, cache) == gradio_own(image, cache)  # same path
    assert [p.name for p in Path(cache).rglob("*") if p.is_file()] == ["image.webp"]  # no
    # temporary file left
