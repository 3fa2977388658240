"""A session's life on the server, and the server's own: a page opens (its Session registered with
the memory budget) and closes; idle sessions are let go, open pages too after long enough, and
told so if they come back; the trainer back end starts with the server; a value refused by a
handler is one line of the server's log."""
from __future__ import annotations

import datetime
import functools
import inspect
import os
import sys
import threading
import time
import weakref

import gradio as gr
from PIL import Image

from ..core.memory import limit_heap_arenas, release_memory
from ..images.preprocess import MAX_PIXELS
from ..serving.clients import client_of_request
from ..serving.session import Session
from ..serving.traffic import OPEN_STREAMS
from . import cache_files, words
from .common import ADMISSION, BUDGET
from .fair_queue import RELEASED

SESSION_IDLE_SECONDS = float(os.environ.get("CLASSIFIER_SESSION_IDLE_SECONDS", 300))


TAB_IDLE_SECONDS = float(os.environ.get("CLASSIFIER_TAB_IDLE_SECONDS", 1800))  # an open tab
# with no event this long is let go (its tab says so if it comes back); sooner when memory is
# short: TAB_IDLE_SHORT_SECONDS while the budget is over PRESSURE full
TAB_IDLE_SHORT_SECONDS, PRESSURE = 600.0, 0.8


_OPEN = weakref.WeakValueDictionary()  # browser session hash -> its Session, for closing tabs


def new_session(request: gr.Request):
    session = Session(client=client_of_request(request), budget=BUDGET)
    BUDGET.add(session)
    if request is not None and request.session_hash:
        _OPEN[request.session_hash] = session
    names = session.model_names()
    session.active_model = names[0] if names else None
    model = gr.update(choices=names, value=session.active_model)
    return session, model, model, session.header()


def close_tab(request: gr.Request):
    """A closed tab frees its models, files and running training now, not an hour later
    (Gradio keeps a closed session's state for an hour in case the tab comes back)."""
    session = _OPEN.pop(request.session_hash, None) if request is not None else None
    if session is not None:
        session.close()


_SWEEPER = threading.Lock()


def prepare_process() -> None:
    """Before the server starts its threads: few malloc arenas, Pillow's own decoding held to
    the app's pixel limit (Gradio decodes some images itself: it refuses past twice this), and
    Gradio's cached images written once (cache_files.py)."""
    limit_heap_arenas()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    cache_files.install()


def start(blocks: gr.Blocks) -> None:
    """What runs beside the page: the session sweeper, the trainer back end; and the page's
    refusals logged in one line each."""
    quiet_refusals(blocks)
    watch_sessions(blocks)
    start_trainer()


def quiet_refusals(blocks: gr.Blocks) -> None:
    """Every event handler of `blocks` (once) logs a gr.Error it raises, an expected refusal
    (a student's typo, a stranger's junk), as one line: "refused <event>: <message>". Gradio
    6.31's queue prints a traceback for each exception unless it is a gr.Error with
    `print_exception=False` (queueing.py, routes.py), which the wrapper sets. Any other
    exception, a bug, keeps its traceback."""
    for block_fn in blocks.fns.values():
        if block_fn.fn is not None and not getattr(block_fn.fn, "logs_refusals", False):
            block_fn.fn = _one_line_refusals(block_fn.fn, block_fn.api_name or block_fn.name)


def log_refusal(event: str, error: gr.Error) -> None:
    """`error` as one line of the server's log, instead of Gradio's traceback."""
    error.print_exception = False
    text = " ".join(str(error.message).split())  # no line breaks: one line, whatever was sent
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    print(f"refused {event}: {text[:300]}{'...' if len(text) > 300 else ''}", file=sys.stderr,
          flush=True)


def _one_line_refusals(fn, event: str):
    """`fn`, of the same kind (function, generator, async ones), with log_refusal for its
    gr.Error. functools.wraps keeps what Gradio reads of it: its signature and type hints."""
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def wrapped(*args, **kwargs):
            inner = fn(*args, **kwargs)
            try:
                async for item in inner:
                    yield item
            except gr.Error as error:
                log_refusal(event, error)
                raise
            finally:
                await inner.aclose()  # a cancelled event closes the handler's stream too
    elif inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapped(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except gr.Error as error:
                log_refusal(event, error)
                raise
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                return (yield from fn(*args, **kwargs))
            except gr.Error as error:
                log_refusal(event, error)
                raise
    else:
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error as error:
                log_refusal(event, error)
                raise
    wrapped.logs_refusals = True
    return wrapped


def watch_sessions(blocks: gr.Blocks) -> None:
    """Start, once, the thread that forgets sessions with no open page and no event for
    SESSION_IDLE_SECONDS (Gradio keeps each session's copy of the page for up to 10,000
    sessions, ~185 KB each, and a closed tab's state for an hour)."""
    if _SWEEPER.acquire(blocking=False):
        threading.Thread(target=_sweep_forever, args=(blocks,), name="session-sweeper",
                         daemon=True).start()


def _sweep_forever(blocks: gr.Blocks, every: float = 15.0) -> None:
    while True:
        time.sleep(min(every, SESSION_IDLE_SECONDS))
        try:
            if forgotten := forget_idle_sessions(blocks, SESSION_IDLE_SECONDS):
                print(f"session sweeper: forgot {forgotten} idle session(s)", flush=True)
        except Exception as exc:  # never let the sweeper die; say why in the log
            print(f"session sweeper: {type(exc).__name__}: {exc}")


def forget_idle_sessions(blocks: gr.Blocks, idle: float, tab_idle: float | None = None) -> int:
    """Drop every session with no event for `idle` s and no open page, and every open page
    with no event for `tab_idle` s (TAB_IDLE_SECONDS; TAB_IDLE_SHORT_SECONDS while the memory
    budget is over PRESSURE): its state (closing its Session: models, files, training) and
    Gradio's per-session bookkeeping. A page that comes back is told why (fair_queue.RELEASED).
    Returns how many were dropped."""
    holder, queue = getattr(blocks, "state_holder", None), blocks._queue
    if holder is None:
        return 0
    if tab_idle is None:
        tab_idle = TAB_IDLE_SHORT_SECONDS if BUDGET.pressure() > PRESSURE else TAB_IDLE_SECONDS
    now, busy = datetime.datetime.now(), queue.busy_sessions()
    stale = []
    for sid, used in list(holder.time_last_used.items()):
        quiet = (now - used).total_seconds()
        if sid in busy:
            continue
        if quiet >= tab_idle or (quiet >= idle and OPEN_STREAMS.idle_for(sid) > idle):
            stale.append((sid, quiet))
    for sid, quiet in stale:
        holder.delete_state(sid)  # runs State's delete_callback: Session.close()
        with holder.lock:
            holder.session_data.pop(sid, None)
            holder.time_last_used.pop(sid, None)
        queue.pending_messages_per_session.pop(sid, None)
        queue.pending_event_ids_session.pop(sid, None)
        OPEN_STREAMS.forget(sid)
        _OPEN.pop(sid, None)
        RELEASED.add(sid, words.released_line(quiet))
    if stale:
        release_memory()
    return len(stale)


def start_trainer() -> None:
    """Choose where trainings run (backends/choice.py: local worker processes unless
    RAY_ADDRESS says a cluster), admit as many at a time as it has slots, and warm its workers
    now rather than at the first Train."""
    from ..backends.choice import trainer
    back_end = trainer()
    ADMISSION.slots = back_end.slots
    if hasattr(back_end, "start"):
        back_end.start()
