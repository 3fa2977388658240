"""The Class tab: start a class (a teacher) or join one (a student, with the code and a nickname,
both remembered by the browser); the class's board, live; the teacher's powers (send the class
to a tab, hide a nickname, clear the board). While in a class the page ticks every
`TICK` s: it follows the teacher to a tab, refreshes the board when it changed, and plays the
teacher's run on the Train tab (the train tab publishes it: serving/classroom.LiveRun)."""
from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from types import SimpleNamespace

import gradio as gr

from ..serving import walkthrough
from ..serving.classroom import MAX_NICKNAME, STEPS, ClassError
from ..serving.clients import client_of_request
from ..views.board import COLUMNS, board_figure, board_frame
from . import words
from .common import CHECKED, CLASSES, PRIVATE, epoch_slider, level, session_of

TICK = 2.0  # s between a class page's looks at its class
_PLOT = gr.Plot(render=False)  # encodes a board's chart once for every page that shows it
_DRAWING = threading.Lock()
_VIEWS: OrderedDict = OrderedDict()  # (code, board version) -> (table, chart, nicknames)
REMEMBERED = {"code": "", "nickname": "", "secret": ""}  # what the browser keeps


def _screen(session):
    """What this page last showed of its class: the step, the board, the teacher's run."""
    return session.screen("class", step=0, board=-1, run=0, adopted=None)


def _board(member, version: int):
    """The class's board as table, chart and nicknames, drawn once a version for every page."""
    key = (member.code, version)
    with _DRAWING:  # one page draws a version; the others wait for it
        if key not in _VIEWS:
            runs = CLASSES.board(member)
            _VIEWS[key] = (board_frame(runs), _PLOT.postprocess(board_figure(runs)),
                           CLASSES.nicknames(member))
            while len(_VIEWS) > 64:
                _VIEWS.popitem(last=False)
        return _VIEWS[key]


def _entered(session, member, remembered=None):
    """The tab once `member` is the session's: the class shown, the timer on, the board."""
    session.membership = member
    screen = _screen(session)
    state = CLASSES.state(member)
    screen.step = state.step_version if member.teacher else 0  # a student goes where the class is
    screen.board = state.board_version
    table, chart, names = _board(member, state.board_version)
    kept = dict(REMEMBERED, **(remembered if isinstance(remembered, dict) else {}))
    kept.update(code=member.code, secret=member.secret) if member.teacher else \
        kept.update(code=member.code, nickname=member.nickname)
    return (kept, gr.update(visible=False), gr.update(visible=True),
            words.class_where(member, CLASSES.ends(member)), gr.update(visible=member.teacher),
            gr.update(visible=not member.teacher), gr.Timer(active=True), table, chart,
            gr.update(choices=names, value=None))


def _nothing(n: int = 10):
    return tuple(gr.skip() for _ in range(n))


def start_class(state, remembered, request: gr.Request = None):
    """A new class with this page as its teacher."""
    session = session_of(state)
    try:
        member = CLASSES.start(client_of_request(request))
    except (ClassError, sqlite3.Error) as exc:
        raise gr.Error(_said(exc)) from None
    gr.Info(f"Class {member.shown_code} is open: read the code out to your students.")
    return _entered(session, member, remembered)


def join_class(state, code, nickname, remembered, request: gr.Request = None):
    """This page as student `nickname` of class `code`."""
    session = session_of(state)
    try:
        member = CLASSES.join(code, nickname, client_of_request(request))
    except (ClassError, sqlite3.Error) as exc:
        raise gr.Error(_said(exc)) from None
    return _entered(session, member, remembered)


def leave_class(state, remembered):
    """Out of the class (the nickname stays remembered for next time)."""
    session = session_of(state)
    session.membership = None
    kept = dict(REMEMBERED, **(remembered if isinstance(remembered, dict) else {}))
    kept.update(code="", secret="")
    return (kept, gr.update(visible=True), gr.update(visible=False), "", gr.update(visible=False),
            gr.update(visible=False), gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip())


def arrive(state, remembered, request: gr.Request):
    """As the page loads: a link's class (`?class=new`, `?class=CODE`, `?class=CODE&teacher=..`),
    else the class this browser was in, if it is still on. Returns the entered outputs, the code
    and nickname boxes, and the tab to show."""
    session, client = session_of(state), client_of_request(request)
    query = dict(request.query_params) if request is not None else {}
    kept = dict(REMEMBERED, **(remembered if isinstance(remembered, dict) else {}))
    linked, secret = query.get("class"), query.get("teacher")
    try:
        if linked == "new" and kept.get("secret") and _leads(kept, client):
            out = _entered(session, CLASSES.lead(kept["code"], kept["secret"], client), kept)
            gr.Info("This browser already leads a class: here it is (Leave, then Start, for another).")
        elif linked == "new":
            out = _entered(session, CLASSES.start(client), kept)
        elif linked and secret:
            out = _entered(session, CLASSES.lead(linked, secret, client), kept)
        elif linked and kept.get("nickname"):
            out = _entered(session, CLASSES.join(linked, kept["nickname"], client), kept)
        elif linked:
            return (*_nothing(), gr.update(value=str(linked)[:40]), gr.skip(), gr.Tabs(selected="class"))
        elif kept.get("code") and kept.get("secret"):
            out = _entered(session, CLASSES.lead(kept["code"], kept["secret"], client), kept)
        elif kept.get("code") and kept.get("nickname"):
            out = _entered(session, CLASSES.join(kept["code"], kept["nickname"], client), kept)
        else:
            return (*_nothing(), gr.skip(), gr.update(value=kept.get("nickname") or ""), gr.skip())
    except (ClassError, sqlite3.Error) as exc:
        if linked:
            gr.Warning(_said(exc))
        kept.update(code="", secret="")
        return (kept, *_nothing(9), gr.skip(), gr.update(value=kept.get("nickname") or ""), gr.skip())
    where = gr.Tabs(selected="class") if linked else gr.skip()
    return (*out, gr.update(value=out[0]["code"]), gr.update(value=out[0]["nickname"]), where)


def _leads(kept: dict, client: str) -> bool:
    """True if the remembered class is on and its remembered secret leads it (a teacher's page
    reloaded at `?class=new` goes back to its class rather than starting another)."""
    try:
        CLASSES.lead(kept["code"], kept["secret"], client)
        return True
    except ClassError:
        return False


def follow(state, following):
    """A class page's tick: to the teacher's tab, the board if it changed, the teacher's run on
    the Train tab (and its model, once it ends). Everything unchanged is skipped."""
    session = state
    member = getattr(session, "membership", None)
    if member is None:
        return gr.Timer(active=False), *_nothing(13)
    screen, state_now = _screen(session), CLASSES.state(member)
    if state_now is None:  # the class ended
        session.membership = None
        gr.Info("The class has ended.")
        return gr.Timer(active=False), *_nothing(13)
    tab = walk = gr.skip()
    if state_now.step_version != screen.step:
        screen.step = state_now.step_version
        if following is not False and not member.teacher and state_now.step:
            tab, walk = _place(state_now.step, state_now.step_version)
    board = (gr.skip(),) * 3
    if state_now.board_version != screen.board:
        screen.board = state_now.board_version
        table, chart, names = _board(member, state_now.board_version)
        board = table, chart, gr.update(choices=names)
    return gr.skip(), tab, *board, *_teacher_run(session, member, screen), walk


def _place(step: str, version: int):
    """Where a class step takes a page: (its tab, the walk-through's step or a skip)."""
    if step.startswith("walk:"):
        index = walkthrough.index_of(step[len("walk:"):])
        return gr.Tabs(selected=walkthrough.STEPS[index].tab), f"{version}:{index}"
    return gr.Tabs(selected=step), gr.skip()


def _teacher_run(session, member, screen):
    """The teacher's run on a student's Train tab (not over the student's own run going), and
    its model made theirs once it ends: [accuracy, loss, status, per_class, the two model
    pickers, the header, the epoch slider]."""
    if member.teacher or not session.stop.is_set():
        return _nothing(8)
    version, _, shown, ended, model = CLASSES.live(member).snapshot()
    if version == screen.run or not shown:
        return _nothing(8)
    screen.run = version
    accuracy, loss, status, heat = (dict(v) if isinstance(v, dict) else v for v in shown)  # Gradio
    # pops an update's value as it sends it: each page gets its own copy
    picked = (gr.skip(),) * 4
    if ended and model is not None and model[0] != screen.adopted:
        screen.adopted = model[0]
        name = session.adopt(f"Teacher's {model[0]}", model[1])
        picker = gr.update(choices=session.model_names(), value=name)
        picked = picker, picker, session.header(), epoch_slider(session, name)
    return accuracy, loss, words.teacher_run_line(status), heat, *picked


def move_class(state, step):
    """The teacher sends every following student's page to tab `step`."""
    try:
        CLASSES.move(session_of(state).membership, step)
    except (ClassError, sqlite3.Error) as exc:
        raise gr.Error(_said(exc)) from None
    gr.Info(f"The class is on its way to {STEPS[step]}.")


def hide_nickname(state, nickname):
    try:
        hidden = CLASSES.hide(session_of(state).membership, nickname)
    except (ClassError, sqlite3.Error) as exc:
        raise gr.Error(_said(exc)) from None
    gr.Info(f"{hidden} run{'s' * (hidden != 1)} hidden from the board.")


def clear_board(state):
    try:
        cleared = CLASSES.clear(session_of(state).membership)
    except (ClassError, sqlite3.Error) as exc:
        raise gr.Error(_said(exc)) from None
    gr.Info(f"The board is empty ({cleared} run{'s' * (cleared != 1)} removed).")


def _said(exc: Exception) -> str:
    if isinstance(exc, sqlite3.Error):
        print(f"class store: {type(exc).__name__}: {exc}", flush=True)
        return "the class board cannot be reached just now: try again in a moment"
    return f"{str(exc)[0].upper()}{str(exc)[1:]}."


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["class"])
    remembered = gr.BrowserState(dict(REMEMBERED), storage_key="classifier-class")
    with gr.Column() as outside:
        with gr.Row(equal_height=True):
            code = gr.Textbox(label="Class code", placeholder="ABCD-EFGH", max_length=40, scale=2)
            nickname = gr.Textbox(label="Your nickname (shown on the class's board)",
                                  max_length=MAX_NICKNAME, scale=2)
            join = gr.Button("Join", variant="primary", scale=1)
        start = gr.Button("I am the teacher: start a class", size="sm")
    with gr.Column(visible=False) as inside:
        where = gr.HTML()
        following = gr.Checkbox(True, label="Follow the teacher: my page opens the tab the "
                                            "teacher sends the class to", visible=False)
        with gr.Row(visible=False, equal_height=True) as teacher:
            step = gr.Dropdown([(title, key) for key, title in STEPS.items()], value="predict",
                               label="Send the whole class to", scale=2)
            move = gr.Button("Send the class there", scale=1)
            hide_pick = gr.Dropdown([], label="Hide a nickname from the board", scale=2)
            hide = gr.Button("Hide", scale=1)
            clear = gr.Button("Clear the board", variant="stop", scale=1)
        chart = gr.Plot(label="Test accuracy against seconds of training, one dot a run",
                        show_label=False, elem_id="class-chart")
        board = gr.Dataframe(board_frame([]), headers=COLUMNS, interactive=False, wrap=True,
                             label="The class's runs, best first", elem_id="class-board")
        leave = gr.Button("Leave the class", size="sm")
    timer = gr.Timer(TICK, active=False)
    return SimpleNamespace(remembered=remembered, code=code, nickname=nickname, join=join,
                           start=start, leave=leave, following=following, step=step, move=move,
                           hide_pick=hide_pick, hide=hide, clear=clear, timer=timer,
                           entered=[remembered, outside, inside, where, teacher, following, timer,
                                    board, chart, hide_pick])


def wire(state, tabs, cl, shown, walk_to) -> None:
    """`shown`: the Train tab's [accuracy, loss, status, per_class], the two model pickers, the
    header and the epoch slider, for the teacher's run; `walk_to`: the walk-through's step."""
    cl.start.click(start_class, [state, cl.remembered], cl.entered, **PRIVATE)
    gr.on([cl.join.click, cl.code.submit, cl.nickname.submit], join_class,
          [state, cl.code, cl.nickname, cl.remembered], cl.entered, **CHECKED)
    cl.leave.click(leave_class, [state, cl.remembered], cl.entered, **PRIVATE)
    cl.timer.tick(level(follow), [state, cl.following],  # level: the curves drawn to the end
                  [cl.timer, tabs, cl.entered[7], cl.entered[8], cl.hide_pick, *shown, walk_to],
                  show_progress="hidden", concurrency_limit=None, **CHECKED)
    cl.move.click(move_class, [state, cl.step], None, **CHECKED)
    cl.hide.click(hide_nickname, [state, cl.hide_pick], None, **CHECKED)
    cl.clear.click(clear_board, state, None, **PRIVATE)


def wire_arrival(load_chain, state, tabs, cl):
    """The page load's last step: a class link, or the class this browser was in."""
    return load_chain.then(arrive, [state, cl.remembered],
                           [*cl.entered, cl.code, cl.nickname, tabs], **PRIVATE)
