"""What every tab shares: a session from its state, event settings, the server's training line and
memory budget, the webcam's frame slots, and a few helpers (the epoch slider, a model's short name,
the second model to set beside one, the "What is happening here?" fold). A tab module imports
this, words.py and domain packages, never another tab."""
from __future__ import annotations

import functools
import threading

import gradio as gr

from ..core.memory import MemoryBudget
from ..core.settings import TrainSettings
from ..models.pretrained import imagenet_weights_ready, mobilenet_size
from ..models.registry import MODELS, build_model
from ..serving.admission import Admission
from ..serving.classroom import Classroom
from ..serving.session import Session
from ..views import figures
from . import words

SEED_MAX = 2**32 - 1  # what numpy's generators take
ADMISSION = Admission(slots=2)  # slots: the trainer's (lifecycle.start_trainer); fits a class
BUDGET = MemoryBudget.from_environment()  # what all sessions together may hold
CLASSES = Classroom()  # every class on this server; its board in CLASSIFIER_DB (SQLite)


PRIVATE = dict(api_visibility="private")  # not on the API page (still callable: see README)


CHECKED = dict(PRIVATE, preprocess=False)  # the handler checks each raw value (Gradio's slider
# check fails on a string with a bare TypeError, and says nothing)
# a webcam's stream holds its event's place until Stop or its time limit: a limit on them would
# make the next webcam wait, so none (each frame is one quick answer); 3 frames a second


# check fails on a string with a bare TypeError, and says nothing)
# a webcam's stream holds its event's place until Stop or its time limit: a limit on them would
# make the next webcam wait, so none (each frame is one quick answer); 3 frames a second
WEBCAM_STREAM = dict(stream_every=0.33, concurrency_limit=None, show_progress="hidden", **CHECKED)


# 480x360 (the browser scales the camera's picture): a streamed frame is a 30-120 KB data URL,
# well under the server's 1 MB cap on a request (traffic.py); the model sees 96x96 at most
WEBCAM = gr.WebcamOptions(constraints={"video": {"width": {"ideal": 480},
                                                 "height": {"ideal": 360}}})


def session_of(state: Session | None) -> Session:
    """The tab's session; API callers that never loaded the page get a fresh one."""
    return state if state is not None else Session()


def level(handler):
    """`handler` as a generator that sends its answer, then its charts' data again, a hair
    apart. Gradio 6.31's bar and line plots draw the data of the update before the last one
    (seen in the browser: bars a step behind the text); the second update brings them level."""
    @functools.wraps(handler)
    def both(*args, **kwargs):
        outputs = handler(*args, **kwargs)
        yield outputs
        again = [_nudged(o) for o in (outputs if isinstance(outputs, tuple) else (outputs,))]
        if any(a is not None for a in again):
            yield tuple(gr.update() if a is None else a for a in again)
    return both


def _nudged(output):
    """A plot update's frame with its numbers moved by 1e-9, or None for anything else."""
    frame = output.get("value") if isinstance(output, dict) else None
    if not isinstance(frame, figures.pd.DataFrame):
        return None
    numeric = frame.select_dtypes("number").columns
    if len(numeric) == 0:
        return None
    frame = frame.copy()
    frame[numeric[-1]] = frame[numeric[-1]] + 1e-9
    return gr.update(value=frame)


def epoch_slider(session: Session, name: str | None):
    """The Predict tab's epoch slider: shown for a session run that kept its epochs' weights."""
    n = len(session.epoch_weights(name))
    if n < 2:
        return gr.update(visible=False, value=n or 1)
    return gr.update(visible=True, minimum=1, maximum=n, value=n, step=1)


def short_name(name: str) -> str:
    """A model's name without its test score, for a chart's legend."""
    return name.split(", test ")[0]


def pick_second(state, model_name):
    """The second model's picker: every other model, the first one with the same classes chosen."""
    session = session_of(state)
    names = [n for n in session.model_names() if n != model_name]
    return gr.update(choices=names, value=session.partner(model_name))


WEBCAM_FRAMES = threading.BoundedSemaphore(4)  # webcam frames handled at once, all sessions


def frame_slot(handler):
    """A webcam stream's handler that drops its frame (no update) while WEBCAM_FRAMES are all
    busy: streams have no queue limit (each holds its event until Stop), so this is what keeps
    many webcams, or a script streaming frames, from taking every core. The next frame comes
    a third of a second later."""
    @functools.wraps(handler)
    def run(*args, **kwargs):
        if not WEBCAM_FRAMES.acquire(blocking=False):
            return gr.skip()
        try:
            return handler(*args, **kwargs)
        finally:
            WEBCAM_FRAMES.release()
    return run


def what_is_happening(tab: str) -> None:
    with gr.Accordion("What is happening here?", open=False):
        gr.Markdown(words.WHAT[tab])


def model_text(key, state) -> str:
    """What model `key` is and its parameter count for the session's dataset (shown again
    whenever the dataset changes)."""
    spec, session = MODELS[key], session_of(state)
    pretrained = False
    try:
        data = session.dataset()
        layers, count = _model_layout(key, data.image_shape, data.num_classes)
        height, width = data.image_shape[:2]
        params = f"{count:,} parameters for {data.title} ({height}x{width})"
        pretrained = key == "mobilenetv2" and imagenet_weights_ready(mobilenet_size(data.image_shape))
    except ValueError as exc:
        layers, params = "", str(exc)
    note = words.model_note(key, session.dataset_key, pretrained)
    return f"**{spec.title}**: {spec.description}{note}  \n{params}  \n`{layers}`"


@functools.lru_cache(maxsize=64)
def _model_layout(key: str, image_shape: tuple, num_classes: int) -> tuple[str, int]:
    """Model `key`'s layers and parameter count for this input shape and class count."""
    model = build_model(key, image_shape, num_classes, TrainSettings(pretrained=False))
    return " → ".join(type(l).__name__ for l in model.layers[1:]), model.count_params()
