"""The Gradio app: Dataset, Train, Predict, Inside the network, Evaluate and Compare tabs. Wiring only:
logic is in classifier/."""
from __future__ import annotations

import asyncio
import functools
import html
import os
import re
import sys
import threading
import time
import weakref
from types import SimpleNamespace

if __name__ == "__main__" and "PYTHONMALLOC" not in os.environ:
    # A server: Python objects on glibc's malloc, so memory freed when idle sessions are
    # forgotten goes back to the system (pymalloc's 1 MiB arenas stay pinned by a few live
    # objects: +221 MB held after 2,000 throwaway sessions, +66 MB with this; README, security).
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, [sys.executable, *sys.argv])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import anyio
import gradio as gr
import numpy as np

from PIL import Image
from starlette.middleware import Middleware

from classifier import (arguments, figures, help_texts, inside, own_classes, robustness, test_map,
                        train_form)
from classifier.admission import Admission
from classifier.clients import client_of_request
from classifier.folders import ZIP_IMAGE_CHOICES, zip_file_count
from classifier.jobs import CallerGone, TrainingLost
from classifier.fair_queue import RELEASED, FairQueue
from classifier.memory import MemoryBudget, array_bytes, limit_heap_arenas, release_memory
from classifier.models import MODELS, build_model, imagenet_weights_ready, mobilenet_size
from classifier.preprocess import MAX_PIXELS, WORKING_SIDE, BlankImage, open_image
from classifier.robustness import TRANSFORMS
from classifier.saliency import overlay
from classifier.session import (ASSETS, HELD_PER_IMAGE, OWN_IMAGES, Session, dataset_choices,
                                shipped_names)
from classifier.settings import TrainSettings
from classifier.train_form import FORM, train_settings
from classifier.traffic import OPEN_STREAMS, TrafficMiddleware

LOW_CONFIDENCE = 0.5
SEED_MAX = 2**32 - 1  # what numpy's generators take
ADMISSION = Admission(slots=2)  # slots: the trainer's (start_trainer); the line fits a class
START_GRACE = 5.0  # s an API caller has, once its training's turn comes, to open its result stream
SESSION_IDLE_SECONDS = float(os.environ.get("CLASSIFIER_SESSION_IDLE_SECONDS", 300))
TAB_IDLE_SECONDS = float(os.environ.get("CLASSIFIER_TAB_IDLE_SECONDS", 1800))  # an open tab
# with no event this long is let go (its tab says so if it comes back); sooner when memory is
# short: TAB_IDLE_SHORT_SECONDS while the budget is over PRESSURE full
TAB_IDLE_SHORT_SECONDS, PRESSURE = 600.0, 0.8
BUDGET = MemoryBudget.from_environment()  # what all sessions together may hold
BLACK_CANVAS = np.zeros((280, 280), dtype=np.uint8)
BLACK_SKETCH = {"background": BLACK_CANVAS, "layers": [], "composite": None}
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
"""
LAUNCH = dict(max_file_size="20mb", css=CSS,  # no allowed_paths: only Gradio's own cache is served
              app_kwargs={"middleware": [Middleware(TrafficMiddleware)]},  # streams, body cap
              state_session_capacity=2000)  # a backstop; idle sessions go long before


# the query from share_settings as a whole link to this page, shown and copied (where allowed)
COPY_LINK = """(query) => {
  const link = location.origin + location.pathname + (query ? "?" + query : "");
  navigator.clipboard?.writeText(link).catch(() => {});
  return link;
}"""


def _session(state: Session | None) -> Session:
    """The tab's session; API callers that never loaded the page get a fresh one."""
    return state if state is not None else Session()


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


def choose_model(state, name):
    """A model picked in Predict or Evaluate becomes the active one in both."""
    session = _session(state)
    session.active_model = name
    return gr.update(value=name), gr.update(value=name), session.header(), _epoch_slider(session, name)


def _epoch_slider(session: Session, name: str | None):
    """The Predict tab's epoch slider: shown for a session run that kept its epochs' weights."""
    n = len(session.epoch_weights(name))
    if n < 2:
        return gr.update(visible=False, value=n or 1)
    return gr.update(visible=True, minimum=1, maximum=n, value=n, step=1)


def _level(handler):
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


# ---------------------------------------------------------------- Dataset tab
def show_dataset(state, key, class_filter, seed):
    """Dataset `key` becomes the session's: its samples, class counts, one image's pixels and
    augmentations. One that cannot be loaded is refused with a warning and the info text, and
    the previous dataset stays in use (the picker goes back to it)."""
    session = _session(state)
    try:
        seed = arguments.integer("shuffle seed", seed, 0, SEED_MAX)
    except ValueError as exc:
        raise gr.Error(str(exc))
    if key == "upload" and session.uploaded is None:
        return (help_texts.upload_prompt(session.dataset_title()), *[gr.update()] * 6)
    if key == "own":  # in use as it grows; Train says what it lacks until it can train
        session.dataset_key = "own"
        _, _, info, counts = _own_view(session)
        return (info, gr.update(), counts, gr.update(choices=["all classes"], value="all classes"),
                gr.update(), gr.update(), gr.update())
    try:
        data = session.use_dataset(key)
    except ValueError as exc:
        gr.Warning(str(exc))
        return (help_texts.refused_dataset(str(exc), session.dataset_title()), *[gr.update()] * 5,
                gr.update(value=session.dataset_key))
    cls = data.class_names.index(class_filter) if class_filter in data.class_names else None
    idx = figures.sample_indices(data, 25, cls, seed)
    counts, baseline = figures.class_counts(data)
    first = data.x_train[idx[0]]
    info = (f"**{data.summary()}**  \nAlways answering the largest class would score "
            f"**{baseline:.1%}**: a model must beat that to have learned anything.")
    filt = gr.update(choices=["all classes", *data.class_names],
                     value=class_filter if cls is not None else "all classes")
    counts_plot = gr.update(value=counts, y_lim=[0, int(counts["images"].max() * 1.1)],
                            sort=list(data.class_names))
    return (info, figures.sample_grid(data, idx), counts_plot, filt,
            figures.pixel_figure(first, f"{data.class_names[data.y_train[idx[0]]]}: pixel values"),
            figures.augment_preview(first, seed), gr.update())


def upload_zip(state, file, images=None):
    """A zip of class folders becomes the session's uploaded dataset; `images`, a key of
    ZIP_IMAGE_CHOICES, says what its images become (default: the first, 28x28 grey)."""
    from classifier.folders import load_image_zip
    session = _session(state)
    if file is None:
        raise gr.Error("Choose a .zip file with one sub-folder of images per class.")
    images = next(iter(ZIP_IMAGE_CHOICES)) if images is None else images
    if not isinstance(images, str) or images not in ZIP_IMAGE_CHOICES:
        raise gr.Error(f"images must be one of {list(ZIP_IMAGE_CHOICES)}, got {images!r}")
    size, color = ZIP_IMAGE_CHOICES[images]
    # the room its images will take, from the zip's directory, held while they are read
    room = zip_file_count(file) * size[0] * size[1] * (3 if color == "rgb" else 1)
    try:
        with session.holding(room - array_bytes(session.uploaded)):
            folder = session.workdir / f"zip{session.runs_done}-{os.urandom(3).hex()}"
            data, report = load_image_zip(file, folder, image_size=size, color=color)
    except ValueError as exc:
        raise gr.Error(str(exc))
    session.uploaded = data
    if report.skipped:
        gr.Warning(report.summary())
    return gr.update(value="upload")


# ---------------------------------------------------------------- Dataset tab: your own classes
def _own_view(session: Session, chosen=None):
    """The classes made in this tab, `chosen` (else the first) picked: the class picker with
    counts, its pictures, the text with the baseline and what training needs, the count bars."""
    own = session.own
    counts = own.counts()
    chosen = chosen if isinstance(chosen, str) and chosen in counts else next(iter(counts), None)
    session.own_picked = None  # the pictures may have moved: pick one again to delete it
    picker = gr.update(choices=[(f"{n} ({c})", n) for n, c in counts.items()], value=chosen)
    pictures = gr.update(value=own.thumbnails(chosen) if chosen else [],
                         label=help_texts.own_images_label(chosen, counts.get(chosen, 0)))
    info = help_texts.own_info(counts, own.baseline(), own.training_problem(), own.nbytes)
    frame = figures.pd.DataFrame({"class": list(counts), "images": list(counts.values())})
    top = max(5, int(max(counts.values(), default=0) * 1.1) + 1)
    bars = gr.update(value=frame, y_lim=[0, top], sort=list(counts))
    return picker, pictures, info, bars


def own_add_class(state, name):
    """Add class: a new empty class, picked to fill; the name box empties."""
    session = _session(state)
    try:
        name = session.own.add_class(name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    return (*_own_view(session, name), "")


def own_rename_class(state, chosen, name):
    """Rename: the picked class takes the name in the box (its pictures stay)."""
    session = _session(state)
    try:
        name = session.own.rename_class(_picked_class(chosen), name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    return (*_own_view(session, name), "")


def own_remove_class(state, chosen):
    """Remove: the picked class and its pictures go."""
    session = _session(state)
    try:
        gone = session.own.remove_class(_picked_class(chosen))
    except ValueError as exc:
        raise gr.Error(str(exc))
    gr.Info(f"Removed the class and its {gone} image{'s' * (gone != 1)}.")
    return _own_view(session)


def _picked_class(chosen) -> str:
    if chosen is None or chosen == "":
        raise ValueError("add a class first: type its name and press Add class")
    return chosen


WEBCAM_FRAMES = threading.BoundedSemaphore(4)  # webcam frames handled at once, all sessions


def _frame_slot(handler):
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


def own_add_frame(state, chosen, frame):
    """Capture: the webcam's picture, grabbed by the page (GRAB_FRAME), into the picked class."""
    session = _session(state)
    try:
        session.reserve_images(1)
        report = session.own.add_images(_picked_class(chosen), own_classes.webcam_frame(frame))
    except ValueError as exc:
        raise gr.Error(str(exc))
    if report.skipped:
        raise gr.Error(f"Not added: {report.skipped[0][1]}")
    return _own_view(session, chosen)


@_frame_slot
def own_record(state, chosen, frame):
    """Record: each frame the webcam streams (3 a second) into the picked class. One that
    cannot be added says why beside the webcam (an error would repeat at every frame)."""
    session = _session(state)
    session.own_recorded_at = time.monotonic()
    try:
        session.reserve_images(1)
        report = session.own.add_images(_picked_class(chosen), own_classes.webcam_frame(frame))
        problem = report.skipped[0][1] if report.skipped else None
    except ValueError as exc:
        problem = str(exc)
    if problem:  # said until the frames stop (own_settle)
        said = f"**Not recording:** {problem}. Press **Stop**."
        return said, *[gr.update()] * 4, gr.Timer(active=True)
    return RECORDING, *_own_view(session, chosen), gr.Timer(active=True)


RECORDING = "**Recording**: hold the object in the middle of the frame; move it a little."
SETTLED = 0.8  # s without a frame: the recording has stopped (frames come every 0.33 s)


def own_settle(state, chosen):
    """The timer, while frames come: once they stop, the classes once more (the count bars
    show the update before the last, see _level) and the timer stops."""
    session = _session(state)
    if time.monotonic() - session.own_recorded_at < SETTLED:
        return (gr.update(),) * 6
    return "", *_own_view(session, chosen), gr.Timer(active=False)


def own_add_files(state, chosen, files):
    """Files (several at once) or a pasted picture into the picked class; the box empties."""
    return (*_own_add(_session(state), chosen, files, gr.utils.get_upload_folder()), None)


def _own_add(session: Session, chosen, sources, uploads=None):
    try:
        session.reserve_images(len(sources) if isinstance(sources, (list, tuple)) else 1)
        report = session.own.add_images(_picked_class(chosen), sources, uploads=uploads)
    except ValueError as exc:
        raise gr.Error(str(exc))
    if report.skipped:
        gr.Warning(report.summary())
    return _own_view(session, chosen)


def own_pick(state, chosen, evt: gr.SelectData):
    """A clicked picture: remembered for Delete."""
    index = evt.index if isinstance(evt.index, int) and not isinstance(evt.index, bool) else None
    _session(state).own_picked = (chosen, index) if index is not None else None


def own_delete_image(state, chosen):
    """Delete: the clicked picture of the picked class."""
    session = _session(state)
    picked = session.own_picked
    if picked is None or picked[0] != chosen:
        raise gr.Error("Click an image of the class first, then Delete.")
    try:
        session.own.delete_image(*picked)
    except ValueError as exc:
        raise gr.Error(str(exc))
    return _own_view(session, chosen)


def own_show_class(state, chosen):
    """Another class picked: its pictures."""
    return _own_view(_session(state), chosen)


def own_download(state):
    """The classes as a zip of class folders, to keep and load again later."""
    session = _session(state)
    try:
        path = session.own.to_zip(session.workdir / "my-classes.zip")
    except ValueError as exc:
        raise gr.Error(str(exc))
    return gr.update(value=str(path), visible=True)


def own_load_zip(state, file):
    """A zip of class folders (a download of this tab's, or any) replaces the classes."""
    session = _session(state)
    try:
        path = arguments.uploaded_path(file, gr.utils.get_upload_folder())
        room = min(zip_file_count(path), own_classes.MAX_IMAGES) * HELD_PER_IMAGE
        with session.holding(room):  # what the new set may hold, while it is read
            loaded, report = own_classes.ClassSet.from_zip(
                path, session.workdir / f"own-zip-{os.urandom(3).hex()}")
    except ValueError as exc:
        raise gr.Error(str(exc))
    replaced, session.own = session.own.total(), loaded
    if report.skipped:
        gr.Warning(report.summary())
    gr.Info(f"Loaded {len(loaded.names())} classes, {report.added:,} images"
            + (f", in place of the {replaced:,} you had." if replaced else "."))
    return (*_own_view(session), None)


def own_image_size(state, images):
    """What the classes' pictures become for training."""
    try:
        _session(state).own_images = arguments.choice("images", images, list(ZIP_IMAGE_CHOICES))
    except ValueError as exc:
        raise gr.Error(str(exc))


def suggest_training(state, key):
    """Switching to your own classes picks the Quick CNN with epochs and batch for a small set."""
    if key != "own":
        return gr.update(), gr.update(), gr.update()
    epochs, batch = _session(state).training_defaults("cnn_quick")
    return gr.update(value="cnn_quick"), gr.update(value=epochs), gr.update(value=batch)


# ---------------------------------------------------------------- Train tab
def describe_model(key, state):
    """A picked model: what it is and its size for the session's dataset, and its own epochs
    and batch size."""
    epochs, batch = _session(state).training_defaults(arguments.choice("model", key, list(MODELS)))
    return model_text(key, state), gr.update(value=epochs), gr.update(value=batch)


def model_text(key, state) -> str:
    """What model `key` is and its parameter count for the session's dataset (shown again
    whenever the dataset changes)."""
    spec, session = MODELS[key], _session(state)
    pretrained = False
    try:
        data = session.dataset()
        layers, count = _model_layout(key, data.image_shape, data.num_classes)
        height, width = data.image_shape[:2]
        params = f"{count:,} parameters for {data.title} ({height}x{width})"
        pretrained = key == "mobilenetv2" and imagenet_weights_ready(mobilenet_size(data.image_shape))
    except ValueError as exc:
        layers, params = "", str(exc)
    note = help_texts.model_note(key, session.dataset_key, pretrained)
    return f"**{spec.title}**: {spec.description}{note}  \n{params}  \n`{layers}`"


@functools.lru_cache(maxsize=64)
def _model_layout(key: str, image_shape: tuple, num_classes: int) -> tuple[str, int]:
    """Model `key`'s layers and parameter count for this input shape and class count."""
    model = build_model(key, image_shape, num_classes, TrainSettings(pretrained=False))
    return " → ".join(type(l).__name__ for l in model.layers[1:]), model.count_params()


LINKED = ("epochs", "batch", "lr", "seconds", "data", "wrong")  # the form's values a link sets
LINKED_AT = (1, 2, 4, 7, 8, 9)  # where they are in the Train form


def _link(request: gr.Request | None) -> train_form.Link:
    return train_form.read_link(request.query_params if request is not None else {})


def link_dataset(request: gr.Request):
    """The page's link: its dataset and model (before the dataset is shown), and its note."""
    link = _link(request)
    picked = [gr.update(value=link.values[k]) if k in link.values else gr.update()
              for k in ("dataset", "model")]
    note = html.escape(link.note())  # plain text: a link's own words never become links or images
    return *picked, gr.update(value=f"<p>{note}</p>", visible=bool(link.notes))


def link_form(request: gr.Request):
    """The page's link: the rest of the Train form, after the model's own defaults are shown."""
    link = _link(request)
    return tuple(gr.update(value=link.values[k]) if k in link.values else gr.update() for k in LINKED)


def share_settings(dataset, *form):
    """The query for the Train form's values (the browser makes it a link and copies it)."""
    query, left_out = train_form.settings_query(dataset, form[0], *(form[i] for i in LINKED_AT))
    if left_out:
        gr.Warning(f"Not in the link: {left_out}.")
    return gr.update(value=query, visible=True)


async def train_model(state, model_key, epochs, batch_size, optimizer, learning_rate, schedule,
                      val_share, seconds=0, data_percent=100, wrong_percent=0,
                      dropout="the recipe's own", weight_decay="off", request: gr.Request = None,
                      progress=gr.Progress()):
    """Admit, wait for a trainer, train while someone listens; stream curves, then the run.
    Async: a training waiting in line holds no server thread (a class of 30 waits at once)."""
    session = _session(state)
    try:
        settings = train_settings(model_key, epochs, batch_size, optimizer, learning_rate,
                                  schedule, val_share, seconds, data_percent, wrong_percent,
                                  dropout, weight_decay)
        data = await anyio.to_thread.run_sync(session.dataset)  # the first load takes seconds
        if model_key == "mobilenetv2":  # ImageNet's weights where they can be had; said either way
            settings.pretrained = imagenet_weights_ready(mobilenet_size(data.image_shape))
        place = ADMISSION.enter(_session_key(state, request), client_of_request(request))
    except ValueError as exc:
        if state is None:  # an API caller: the call fails with the message
            raise gr.Error(str(exc))
        gr.Warning(str(exc))  # the page keeps its last run's curves, model and files
        yield (state, *[gr.update()] * 10)
        return
    keep = state  # API callers without a page: nothing is kept once the call ends
    listener = request.session_hash if request is not None else None
    steps = None
    try:  # no old heat-map, model or files on screen during the new run
        yield (keep, gr.update(value=None), gr.update(value=None), help_texts.starting_line(
            MODELS[model_key].title, data.title), None, gr.update(visible=False, value=None),
               gr.update(visible=False, value=None), *[gr.update()] * 4)
        said = 0.0
        while not place.check():  # in line: say where, once a second
            if not OPEN_STREAMS.listening(listener):
                return  # nobody is listening any more: do not train for no one
            if time.monotonic() - said >= 1.0:
                said = time.monotonic()
                yield (keep, gr.update(), gr.update(),
                       help_texts.waiting_line(place.ahead(), ADMISSION.slots, place.wait_estimate()),
                       *[gr.update()] * 7)
            await asyncio.sleep(0.1)
        if not await _caller_there(place, listener):
            return
        steps = _train(session, keep, data, model_key, settings, listener, place, progress)
        while (update := await anyio.to_thread.run_sync(next, steps, None)) is not None:
            yield update
    except CallerGone:
        return  # dropped as its caller left; nobody is there to tell
    except (ValueError, TrainingLost) as exc:
        raise gr.Error(str(exc))
    finally:
        if steps is not None:
            steps.close()
        place.leave()
        if keep is None:
            session.close()


def _session_key(state, request) -> str:
    """Whose training this is: the page's (or API call's) session id."""
    if request is not None and request.session_hash:
        return request.session_hash
    return f"state-{id(state)}" if state is not None else os.urandom(6).hex()


async def _caller_there(place, listener) -> bool:
    """True once a run that holds its trainer has someone listening (an API caller gets
    START_GRACE s to open its result stream)."""
    turn = time.monotonic()
    while not OPEN_STREAMS.listening(listener):
        if time.monotonic() - turn > START_GRACE:
            return False
        place.touch()
        await asyncio.sleep(0.1)
    return True


def _train(session, keep, data, model_key, settings, listener, place, progress):
    """The training itself, streamed; it stops within a step once its caller stops listening,
    gives its trainer up (keeping what it learned) once it has held it for its share while
    others wait, and its trainer is free as soon as it ends."""
    from classifier.trainers import train_stream

    def gone() -> bool:
        place.touch()
        return not OPEN_STREAMS.listening(listener)

    points, stop, shared = [], session.new_stop(), None
    for item in train_stream(data, model_key, settings, stop, gone=gone, done=place.leave):
        if isinstance(item, list):
            if shared is None and not stop.is_set() and place.overdue():
                shared = ADMISSION.waiting  # others wait: end here, evaluated and kept
                stop.set()
            points += item
            last = item[-1]
            progress(last["progress"], desc=f"epoch {last['epoch']}/{last['epochs']}")
            new_epoch = any(p["kind"] == "epoch" for p in item)
            heat = (figures.per_class_figure(points, data.class_names, last["epochs"])
                    if new_epoch else gr.update())
            yield (keep, *_curves(points, settings), help_texts.status_line(points), heat,
                   *[gr.update()] * 6)
            continue
        name = session.add_run(item, take_home=keep is not None)
        names = session.model_names()
        picker = gr.update(choices=names, value=session.active_model)  # a run at chance is not made active
        files = [str(f) for f in session.take_home(name)] if keep is not None else None
        download = str(session.trained[name].download) if keep is not None else None
        if session.dropped and keep is not None:
            gr.Info(f"Only the last few runs are kept: {', '.join(session.dropped)} left the pickers.")
        yield (keep, *_curves(points, settings),
               help_texts.final_line(item, session.dropped, shared=shared, share=ADMISSION.share)
               + "".join(f"  \n{note[0].upper()}{note[1:]}." for note in session.notes),
               gr.update(), gr.update(value=download, visible=download is not None),
               gr.update(value=files, visible=files is not None),
               picker, picker, session.header(), _epoch_slider(session, session.active_model))


def _curves(points, settings):
    """Accuracy and loss plots over the whole run's x range, so they grow left to right: epochs,
    or seconds for a time budget."""
    x, end, unit = (("seconds", settings.seconds, "seconds of training") if settings.seconds
                    else ("epoch", settings.epochs, "epoch"))
    return [gr.update(value=frame, x=x, x_lim=[0, end], x_title=unit,
                      label=f"{name} by {unit}: blue training, orange validation")
            for name, frame in zip(("Accuracy", "Loss"), figures.curve_frames(points, x))]


def stop_training(state):
    session = _session(state)
    if session.stop.is_set():
        gr.Info("Nothing is training now.")
        return
    session.stop.set()
    gr.Info("Stopping after the current step; what was learned is kept.")


# ---------------------------------------------------------------- Predict tab
def export_active(state, fmt):
    """The active model as TFLite or ONNX, checked in its runtime, with the code that loads it."""
    from classifier.model_formats import FORMATS, export_trained
    session = _session(state)
    try:
        fmt = arguments.choice("format", fmt, list(FORMATS))
        name = session.active_model
        predictor = session.predictor(name)
        out = session.workdir / f"{re.sub(r'[^A-Za-z0-9]+', '-', short_name(name)).strip('-')}{FORMATS[fmt]}"
        report = export_trained(predictor.model, session.dataset_of(name), fmt, out,
                                class_names=predictor.class_names)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    return (gr.update(value=str(report.path), visible=True),
            f"{report.summary(name_only=True)}\n\n```python\n{report.snippet}```")


def show_prediction(state, model_name, image, epoch=0):
    """A new drawing: remember it, then answer it. Gradio has decoded the canvas (its own
    checks refuse server paths); anything but pixels is refused here too."""
    composite = image.get("composite") if isinstance(image, dict) else None
    if composite is not None and not isinstance(composite, np.ndarray):
        raise gr.Error("draw on the canvas: a drawing arrives as pixels")
    session = _session(state)
    session.last_image = image
    return _answer(session, model_name, image, epoch)


def show_upload(state, model_name, upload, epoch=0):
    """A new upload: answer it. It reaches us unopened (preprocess=False, so an unreadable file
    gets our message), so it must be a file this app's upload route received."""
    if upload is None:
        return _answer(_session(state), model_name, None, epoch)
    return _answer_file(state, model_name, lambda: arguments.uploaded_path(
        upload, gr.utils.get_upload_folder()), epoch)


@_frame_slot
def show_webcam(state, model_name, frame, epoch=0):
    """A webcam frame, streamed a few times a second: answered as an upload is."""
    return _answer_file(state, model_name, lambda: own_classes.webcam_frame(frame), epoch)


def _answer_file(state, model_name, source, epoch):
    """Open what `source()` names (checked there) once, at working size, for the answer and the
    pictures beside it; it becomes the session's latest image."""
    try:
        image = open_image(source(), draft_size=(WORKING_SIDE, WORKING_SIDE))
    except BlankImage as exc:
        return _no_answer(f"Nothing to read: {exc}.")
    except ValueError as exc:
        raise gr.Error(str(exc))
    session = _session(state)
    session.last_image = image
    return _answer(session, model_name, image, epoch)


def repredict(state, model_name, epoch):
    """Another model or another epoch: answer the latest image again."""
    session = _session(state)
    return _answer(session, model_name, session.last_image, epoch)


def _no_answer(message: str):
    """The answer area empty but for `message`; the previews' labels name no old answer."""
    return (None, message, None, gr.update(value=None, label="Why"),
            gr.update(value=None, label="Merely shrunk"))


def clear_drawing(state):
    """The canvas's trash icon: a black canvas to draw on at once (Gradio's own clear leaves a
    white one that wants the brush picked first), and no old answer left on screen."""
    _session(state).last_image = None
    return BLACK_SKETCH, *_no_answer("Draw something or upload an image.")


def unreadable_upload():
    """An upload that failed (the error toast says why): empty the box and the answers, so
    neither a broken image nor "Error" pills stay behind."""
    return None, *_no_answer("Draw something or upload an image.")  # as the emptied box says


def _answer(session: Session, model_name, image, epoch):
    """Bars, answer, what the model sees, saliency, and the answer without the clean-up."""
    if image is None or (isinstance(image, dict) and image.get("composite") is None):
        return None, "Draw something or upload an image.", None, None, None
    try:
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        weights = session.weights_at(model_name, epoch)
        predictor = session.predictor(model_name)
        pred = predictor.predict_at(image, weights)
        top = predictor.class_names.index(pred.label)
        why = predictor.explain(image, top, weights)
        raw = predictor.predict_shrunk(image, weights)
    except BlankImage as exc:  # a cleared canvas, an empty drawing: say so, no error toast
        return None, f"Nothing to read: {exc}.", None, None, None
    except ValueError as exc:
        raise gr.Error(str(exc))
    at = f" (weights after epoch {int(epoch)})" if weights is not None else ""
    bars = gr.update(value=figures.probability_frame(pred.probabilities), sort=list(pred.probabilities),
                     title=f"Top answer: {pred.label} {pred.probabilities[pred.label]:.1%}{at}")
    text = (help_texts.top_line(pred, LOW_CONFIDENCE, predictor.meta.get("dataset"))
            + help_texts.shrunk_line(raw, pred)
            + help_texts.why_line(why.method, pred.label))
    return (bars, text, figures.upscale(pred.seen, 196),
            gr.update(value=overlay(pred.seen, why.heat), label=f"Why {pred.label}: {why.method}"),
            gr.update(value=figures.upscale(raw.seen, 196),
                      label=f"Merely shrunk: {raw.label} {raw.probabilities[raw.label]:.0%}"))


def show_changed(state, model_name, epoch, *amounts):
    """The latest image with the sliders' changes, and the model's answer to it."""
    session = _session(state)
    try:
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        predictor = session.predictor(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    try:
        seen = predictor.prepare(session.last_image).seen
    except ValueError:  # nothing drawn yet, a cleared or blank canvas
        return None, "Draw something or upload an image: the sliders change it."
    try:
        seen, p = robustness.changed_answer(predictor, session.weights_at(model_name, epoch), seen,
                                            **dict(zip(TRANSFORMS, amounts)))
    except ValueError as exc:
        raise gr.Error(str(exc))
    return figures.upscale(seen, 196), help_texts.changed_line(predictor.class_names, p)


def pick_second(state, model_name):
    """The second model's picker: every other model, the first one with the same classes chosen."""
    session = _session(state)
    names = [n for n in session.model_names() if n != model_name]
    return gr.update(choices=names, value=session.partner(model_name))


def show_sweep(state, model_name, second, kind, epoch):
    """One change swept for the active model (at the slider's epoch) and a second one."""
    session = _session(state)
    if session.last_image is None:
        raise gr.Error("Draw something or upload an image first: the sweep changes it.")
    try:
        kind = arguments.choice("change", kind, list(TRANSFORMS))
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        models = [(model_name, session.predictor(model_name), session.weights_at(model_name, epoch))]
        if second not in (None, "", model_name):
            models.append((second, session.predictor(second), None))
        swept = robustness.sweep_models(models, session.last_image, kind)
    except BlankImage as exc:
        raise gr.Error(f"Nothing to read: {exc}.")
    except ValueError as exc:
        raise gr.Error(str(exc))
    names = session.predictor(model_name).class_names
    figure = robustness.sweep_figure([(short_name(n), s) for n, s, _ in swept], names)
    return figure, robustness.strip(swept[0][2], kind)


def short_name(name: str) -> str:
    """A model's name without its test score, for a chart's legend."""
    return name.split(", test ")[0]


def predict_api(model_name: str, image: str) -> dict[str, float]:
    """Every class's probability for an image file, with a shipped model (API endpoint)."""
    from classifier.session import shipped_predictor
    try:
        name = arguments.choice("model", model_name, shipped_names())
        path = arguments.uploaded_path(image, gr.utils.get_upload_folder())
        return shipped_predictor(name).predict(path).probabilities
    except ValueError as exc:
        raise gr.Error(str(exc))


# ---------------------------------------------------------------- Inside the network tab
def show_inside(state, source, epoch):
    """Every layer's response to the input and the first layer's filters, for the active model
    as it was after `epoch`."""
    session = _session(state)
    name = session.active_model
    try:
        source = arguments.choice("input", source, ["drawing", "test"])
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        predictor = session.predictor(name)
        batch, what = session.model_input(name, source)
        views, filters = predictor.using(session.weights_at(name, epoch), lambda model: (
            inside.layer_views(model, batch), inside.first_layer_filters(model)))
    except BlankImage as exc:
        return _inside_message(f"Nothing to read: {exc}.")
    except ValueError as exc:
        return _inside_message(str(exc))
    picture = inside.network_picture(views, predictor.class_names)
    session.inside = views, picture, predictor.class_names
    scores = views[-1].values
    at = f" after epoch {epoch}" if session.weights_at(name, epoch) is not None else ""
    text = (f"**{name}**{at}, looking at {what}: it answers **{predictor.class_names[int(scores.argmax())]}"
            f" {scores.max():.0%}**. {len(views)} layers, input at the top, scores at the bottom; "
            "**click a map** to enlarge it.")
    return (text, picture.image, None, inside.filters_picture(filters), filters.caption)


def _inside_message(message: str):
    return message, None, None, None, ""


def enlarge_map(state, evt: gr.SelectData):
    """A clicked tile of the network picture: that map enlarged, with a colour bar."""
    shown = _session(state).inside
    index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
    if shown is None or index is None:
        return None
    views, picture, class_names = shown
    try:
        hit = picture.at(float(index[0]), float(index[1]))
    except (TypeError, ValueError):
        return None
    return None if hit is None else inside.feature_map_figure(views[hit[0]], hit[1], class_names)


def another_test_image(state):
    """The Inside tab's next test image."""
    session = _session(state)
    session.test_pick += 1
    return "test"


def show_map(state, beside, method, epoch, progress=gr.Progress()):
    """The test set's map for the active model (at the slider's epoch) and, beside it, another
    model; the input as a star. Maps are kept per model, epoch and projection (t-SNE is slow)."""
    session = _session(state)
    name = session.active_model
    try:
        method = arguments.choice("projection", method, ["pca", "tsne"])
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        models = [(name, session.weights_at(name, epoch))]
        if beside not in (None, "", name):
            models.append((arguments.choice("model", beside, session.model_names()), None))
        if method == "tsne":
            progress(0, desc="t-SNE: 10-20 s the first time, then kept")
        maps, stars = zip(*(session.test_map(n, w, method, epoch if w is not None else 0)
                            for n, w in models))
    except ValueError as exc:
        raise gr.Error(str(exc))
    classes = session.predictor(name).class_names
    picture = test_map.map_picture([(short_name(n), m) for (n, _), m in zip(models, maps)],
                                   classes, star=list(stars))
    session.shown_map = picture, [(n, m) for (n, _), m in zip(models, maps)]
    notes = {m.note for m in maps if m.note}
    return picture.image, None, help_texts.MAP_CLICK + (" " + " ".join(notes) if notes else "")


def show_map_point(state, evt: gr.SelectData):
    """A clicked dot of the map: its test image, and what the model answered."""
    session = _session(state)
    index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
    if session.shown_map is None or index is None:
        return gr.update(), gr.update()
    picture, maps = session.shown_map
    try:
        hit = picture.nearest(float(index[0]), float(index[1]))
    except (TypeError, ValueError):
        hit = None
    if hit is None:
        return gr.update(), "No test image there: click a dot."
    name, tmap = maps[hit[0]]
    data = session.dataset_of(name)
    image = data.x_test[tmap.indices[hit[1]]]
    return figures.upscale(image, 196), (f"**{short_name(name)}**: "
                                         + test_map.describe_point(tmap, hit[1], data.class_names))


def sync_inside(state):
    """The Inside tab opened: its epoch slider for the active model's run, and the map's
    second picker: every other model, one with the same classes chosen."""
    session = _session(state)
    return _epoch_slider(session, session.active_model), pick_second(state, session.active_model)


# ---------------------------------------------------------------- Evaluate tab
def show_evaluation(state, model_name, seed):
    session = _session(state)
    try:
        seed = arguments.integer("sample seed", seed, 0, SEED_MAX)
        ev, data = session.evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = ev.sample(25, seed)
    grid = figures.prediction_grid_figure(data.x_test[idx], ev.y_true[idx], ev.y_pred[idx],
                                          ev.confidence[idx], data.class_names)
    wrong = ev.mistakes(10)
    mistakes = [(figures.upscale(data.x_test[i]), f"{data.class_names[ev.y_pred[i]]} "
                 f"{ev.confidence[i]:.0%}, true: {data.class_names[ev.y_true[i]]}") for i in wrong]
    per_class = ev.per_class_accuracy()
    frame = gr.update(value=figures.pd.DataFrame({"class": list(per_class),
                                                  "accuracy": list(per_class.values())}),
                      sort=list(data.class_names))
    text = (f"**Test accuracy {ev.accuracy:.2%}** on {len(ev.y_true):,} test images the model never "
            f"trained on (test loss {ev.loss:.3f}).")
    table = figures.confusion_styler(ev.confusion_matrix(), data.class_names)
    session.evaluated = model_name
    return text, table, frame, grid, mistakes, None, PAIR_HINT


PAIR_HINT = "**Click a cell** of the table to see its test images, most confident first."
PAIR_IMAGES = 12  # a clicked cell's images drawn, the surest first


def sync_evaluation(state):
    """The Evaluate tab opened: its picker shows the active model (a training or the Predict
    tab may have changed it), and results of another model are cleared, not left to mislead."""
    session = _session(state)
    picker = gr.update(choices=session.model_names(), value=session.active_model)
    if session.evaluated == session.active_model:
        return picker, *[gr.update()] * 7
    text = f"Press **Evaluate** to see **{session.active_model}** on the test set."
    return picker, text, None, None, None, None, None, PAIR_HINT


def show_pair(state, model_name, evt: gr.SelectData):
    """A clicked confusion-matrix cell: the test images of that (true, predicted) pair."""
    row, col = evt.index
    if col == 0:  # the class-name column
        return gr.update(), PAIR_HINT
    try:
        ev, data = _session(state).evaluation(model_name)
    except ValueError as exc:
        raise gr.Error(str(exc))
    true, pred = data.class_names[row], data.class_names[col - 1]
    idx = ev.pair(row, col - 1)  # all of them: the figure draws the surest 12 and counts the rest
    fig = figures.pair_figure(data.x_test[idx], ev.probabilities[idx], data.class_names, true, pred,
                              max_images=PAIR_IMAGES)
    return fig, help_texts.pair_line(len(idx), true, pred, min(len(idx), PAIR_IMAGES))


# ---------------------------------------------------------------- Compare tab
def show_comparison(state, x_axis, chosen):
    """Validation accuracy of the chosen runs on one chart, and their table."""
    from classifier import compare
    runs, params = _session(state).runs_to_compare()
    names = [name for name, _ in runs]
    chosen = [c for c in (chosen if chosen is not None else names) if c in names]
    picked = [r for r in runs if r[0] in chosen]
    colours = compare.run_colours(names)  # drawn on the server: no plot a step behind
    plot = compare.curve_figure(compare.curve_frame(picked, x_axis), colours, x_axis)
    table = compare.table_frame(picked, params).drop(columns=["model", "dataset"])  # in the name
    legend = table.style.apply(lambda runs: [f"color: {colours[r]}; font-weight: bold" for r in runs],
                               subset=["run"])  # the run's line colour: the table is the legend
    return gr.update(choices=names, value=chosen), plot, legend


# ---------------------------------------------------------------- layout: one function a tab
PRIVATE = dict(api_visibility="private")  # not on the API page (still callable: see README)
CHECKED = dict(PRIVATE, preprocess=False)  # the handler checks each raw value (Gradio's slider
# check fails on a string with a bare TypeError, and says nothing)
# a webcam's stream holds its event's place until Stop or its time limit: a limit on them would
# make the next webcam wait, so none (each frame is one quick answer); 3 frames a second
WEBCAM_STREAM = dict(stream_every=0.33, concurrency_limit=None, show_progress="hidden", **CHECKED)


def dataset_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["dataset"])
    with gr.Row():
        key = gr.Dropdown(dataset_choices(), value="fashion_mnist", label="Dataset")
        show_class = gr.Dropdown(["all classes"], value="all classes", label="Show class")
        seed = gr.Number(0, label="Shuffle seed", precision=0, visible=False)
        shuffle = gr.Button("Shuffle", scale=0)
    with gr.Row():
        zip_file = gr.File(label="Zip with one folder of images per class",
                           file_types=[".zip"], height=140, visible=False, scale=3)
        zip_images = gr.Radio(list(ZIP_IMAGE_CHOICES), value=next(iter(ZIP_IMAGE_CHOICES)),
                              label="What the zip's images become", visible=False, scale=2)
    own = own_classes_section()
    info = gr.Markdown()
    with gr.Row():
        grid = gr.Gallery(label="25 training images", columns=5, rows=5, object_fit="contain",
                          scale=3, min_width=480, elem_classes="whole")  # narrow: a row
        with gr.Column(scale=2, min_width=280):
            counts = gr.BarPlot(x="class", y="images", label="Images per class",
                                x_label_angle=-45, height=260, y_lim=[0, None])
            pixels = gr.Plot(label="One image, enlarged", show_label=False)
    aug = gr.Gallery(label="The same image as the augmentation layers may show it "
                           "(cnn_aug, cnn_pre)", columns=5, rows=1, elem_classes="whole")
    _what("dataset")
    own.view = [own.picker, own.pictures, info, counts]  # what every change to the classes shows
    # the picker last: a refused dataset puts it back
    return SimpleNamespace(key=key, show_class=show_class, seed=seed, shuffle=shuffle,
                           zip_file=zip_file, zip_images=zip_images, own=own,
                           samples=[show_class, shuffle, grid, pixels, aug],
                           outputs=[info, grid, counts, show_class, pixels, aug, key])


# 480x360 (the browser scales the camera's picture): a streamed frame is a 30-120 KB data URL,
# well under the server's 1 MB cap on a request (traffic.py); the model sees 96x96 at most
WEBCAM = gr.WebcamOptions(constraints={"video": {"width": {"ideal": 480},
                                                 "height": {"ideal": 360}}})

# the Capture button: the webcam's picture now, as Record streams it (mirrored like the preview)
GRAB_FRAME = """(state, chosen, frame) => {
  const video = document.querySelector("#own-webcam video");
  if (!video || !video.videoWidth) return [state, chosen, null];
  const scale = Math.min(1, 480 / video.videoWidth);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  const pen = canvas.getContext("2d");
  if (video.classList.contains("flip")) { pen.translate(canvas.width, 0); pen.scale(-1, 1); }
  pen.drawImage(video, 0, 0, canvas.width, canvas.height);
  return [state, chosen, canvas.toDataURL("image/jpeg", 0.9)];
}"""


def own_classes_section() -> SimpleNamespace:
    """Your own classes: name them, fill them from the webcam, files or the clipboard, see and
    delete their pictures, download them as a zip or load one (shown for the "own" dataset)."""
    with gr.Column(visible=False) as section:
        gr.Markdown(help_texts.OWN_HOW)
        with gr.Row(equal_height=True):
            name = gr.Textbox(label="Class name", placeholder="e.g. thumbs up", max_lines=1,
                              scale=3, min_width=200)
            add = gr.Button("Add class", variant="primary", scale=1, min_width=100)
            rename = gr.Button("Rename the picked class", scale=1, min_width=100)
            remove = gr.Button("Remove the picked class", variant="stop", scale=1, min_width=100)
        picker = gr.Radio([], label="The class to fill (images in brackets)")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                webcam = gr.Image(sources=["webcam"], streaming=True, webcam_options=WEBCAM,
                                  label="Webcam: Record adds 3 images a second until Stop",
                                  elem_id="own-webcam", height=300)
                capture = gr.Button("Capture one image", variant="primary")
                status = gr.Markdown()
                frame = gr.Textbox(visible=False)  # the captured image, as GRAB_FRAME sends it
                settle = gr.Timer(0.5, active=False)  # started by Record: see own_settle
            with gr.Column(scale=1, min_width=320):
                pictures = gr.Gallery(label=help_texts.own_images_label(None, 0),
                                      height=300, allow_preview=False, format="jpeg",
                                      object_fit="contain", interactive=False, buttons=[],
                                      elem_classes=["thumbs", "preview"])
                delete = gr.Button("Delete the clicked image", variant="stop")
        with gr.Row():
            files = gr.File(label="…or add image files (several at once)", file_count="multiple",
                            file_types=["image"], height=140, scale=2, min_width=240)
            paste = gr.Image(sources=["clipboard"], type="filepath", height=140, scale=1,
                             label="…or paste an image", min_width=160)
            with gr.Column(scale=2, min_width=240):
                download = gr.Button("Download the classes as a zip")
                zipped = gr.File(label="Your classes, a folder each", visible=False,
                                 interactive=False)
                load = gr.File(label="…or load a zip you downloaded", file_types=[".zip"],
                               height=140)
        images = gr.Radio(list(ZIP_IMAGE_CHOICES), value=OWN_IMAGES,
                          label="What the images become for training")
    return SimpleNamespace(section=section, name=name, add=add, rename=rename, remove=remove,
                           picker=picker, webcam=webcam, status=status, capture=capture,
                           frame=frame, settle=settle, pictures=pictures, delete=delete,
                           files=files, paste=paste, download=download, zipped=zipped,
                           load=load, images=images)


def train_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["train"])
    with gr.Row():
        with gr.Column(scale=1):
            model_key = gr.Dropdown([(s.title, k) for k, s in MODELS.items()], value="mlp",
                                    label="Model")
            form = [model_key,
                    gr.Slider(*FORM["epochs"], value=5, step=1, label="Epochs"),
                    gr.Dropdown(list(FORM["batch_sizes"]), value=64, label="Batch size"),
                    gr.Dropdown(list(FORM["optimizers"]), value="recipe's own", label="Optimizer"),
                    gr.Number(0, label="Learning rate (0 = the recipe's own)"),
                    gr.Dropdown([("cosine decay (fast)", "cosine"), ("constant (the tutorials')", "constant")],
                                value="cosine", label="Learning-rate schedule"),
                    gr.Slider(*FORM["validation"], value=0.1, step=0.05, label="Validation share"),
                    gr.Slider(*FORM["seconds"], value=0, step=5,
                              label="…or train for a time: seconds (0 = by epochs)",
                              info="The learning rate is planned to finish when the time is up.")]
            form += lab_form()
            with gr.Row():
                train = gr.Button("Train", variant="primary")
                stop = gr.Button("Stop", variant="stop")
            share = gr.Button("Copy the link to these settings", size="sm")
            link = gr.Textbox(label="Link to these settings: opens the page with them filled in",
                              visible=False, interactive=False, buttons=["copy"])
        with gr.Column(scale=2):
            model_info = gr.Markdown()
            status = gr.Markdown("Press **Train** to start.")
            curve = dict(x="epoch", color="series", height=300, colors_in_legend=[],
                         color_map={"training": "#4263eb", "validation": "#f76707"})
            accuracy = gr.LinePlot(y="accuracy", y_lim=[0, 1], **curve,
                                   label="Accuracy by epoch: blue training, orange validation")
            loss = gr.LinePlot(y="loss", **curve, label="Loss by epoch: blue training, orange validation")
            per_class = gr.Plot(label="Validation accuracy per class, each epoch", show_label=False)
            download = gr.DownloadButton("Download the trained model (.keras)", visible=False)
            with gr.Accordion("Export the active model: TensorFlow Lite or ONNX", open=False):
                with gr.Row():
                    export_format = gr.Radio([("TFLite", "tflite"), ("TFLite int8 (4x smaller)", "tflite-int8"),
                                              ("ONNX", "onnx")], value="tflite", label="Format", scale=3)
                    export = gr.Button("Export and check", scale=1)
                exported = gr.File(label="The exported model", visible=False, interactive=False)
                export_info = gr.Markdown()
            take_home = gr.File(label="Take it home: the model, a plain-Keras script that reproduces "
                                      "this run, and its metrics (JSON)",
                                file_count="multiple", visible=False, interactive=False)
    _what("train")
    return SimpleNamespace(model_key=model_key, epochs=form[1], batch_size=form[2], form=form,
                           train=train, stop=stop, share=share, link=link, export=export,
                           export_format=export_format, exported=exported, export_info=export_info,
                           model_info=model_info,
                           outputs=[accuracy, loss, status, per_class, download, take_home])


def lab_form() -> list:
    """The lab's four settings, folded away: what makes a model overfit, what holds it back."""
    with gr.Accordion("Lab: make it overfit, or hold it back", open=False):
        gr.Markdown(help_texts.LAB)
        return [gr.Slider(*FORM["data_percent"], value=100, step=1,
                          label="Train on this share of the training images (%)"),
                gr.Slider(*FORM["wrong_percent"], value=0, step=5,
                          label="Wrong labels: this share of the training labels (%)"),
                gr.Dropdown(list(FORM["dropouts"]), value="the recipe's own", label="Dropout"),
                gr.Dropdown(list(FORM["weight_decays"]), value="off", label="Weight decay")]


def predict_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["predict"])
    with gr.Row():
        model = gr.Dropdown(shipped_names(), label="Model", value=(shipped_names() or [None])[0],
                            scale=2)
        epoch = gr.Slider(1, 2, value=1, step=1, visible=False, scale=1,
                          label="Weights after epoch (your latest run)")
    with gr.Row():
        with gr.Column():
            sketch = gr.Sketchpad(value=BLACK_SKETCH, image_mode="L", canvas_size=(280, 280),
                                  type="numpy", label="Draw here (white on black)", height=380,
                                  brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=12))
            with gr.Row():
                upload = gr.Image(label="…or upload an image", type="filepath", height=240,
                                  sources=["upload", "clipboard"], min_width=200)
                webcam = gr.Image(label="…or your webcam: Record answers live", height=240,
                                  sources=["webcam"], streaming=True, webcam_options=WEBCAM,
                                  elem_id="predict-webcam", min_width=200)
            gr.Examples(sorted(str(p) for p in (ASSETS / "examples").glob("*.png")),
                        inputs=upload, label="Test-set examples")
        with gr.Column():
            bars = gr.BarPlot(x="class", y="probability", color="answer", y_lim=[0, 1],
                              color_map={"top answer": "#e8590c", "other": "#4c6ef5"},
                              label="Softmax scores", x_label_angle=-45, height=300,
                              colors_in_legend=[])
            answer = gr.Markdown()
            with gr.Row():
                preview = dict(height=220, interactive=False, buttons=[], elem_classes="preview")
                previews = [gr.Image(label="What the model sees (cleaned up)", **preview),
                            gr.Image(label="Why", **preview), gr.Image(label="Merely shrunk", **preview)]
    breaks = break_it_section()
    _what("predict")
    return SimpleNamespace(model=model, epoch=epoch, sketch=sketch, upload=upload, webcam=webcam,
                           answers=[bars, answer, *previews], breaks=breaks)


def break_it_section() -> SimpleNamespace:
    """What breaks it: sliders that change what the model sees, and a sweep of one change for
    the active model and a second one."""
    with gr.Accordion("What breaks it? Shift, rotate, blur… and watch the answer",
                      open=False) as section:
        gr.Markdown(help_texts.BREAK_IT)
        with gr.Row():
            sliders = [gr.Slider(t.low, t.high, value=t.neutral, step=t.step,
                                 label=f"{t.label} ({t.unit})", min_width=160)
                       for t in TRANSFORMS.values()]
        with gr.Row():
            changed = gr.Image(label="What the model sees, changed", height=200, interactive=False,
                               buttons=[], elem_classes="preview", scale=1)
            changed_answer = gr.Markdown(scale=2)
        with gr.Row():
            kind = gr.Dropdown([(t.label, k) for k, t in TRANSFORMS.items()], value="shift_right",
                               label="Sweep one change")
            second = gr.Dropdown(label="…for a second model too", choices=[], value=None)
            sweep = gr.Button("Sweep", variant="primary", scale=0)
        chart = gr.Plot(label="Confidence along the sweep", show_label=False)
        strip = gr.Image(label="The images it swept (every few steps)", interactive=False,
                         buttons=[], height=90)
    return SimpleNamespace(section=section, sliders=sliders, changed=[changed, changed_answer],
                           kind=kind, second=second, sweep=sweep, swept=[chart, strip])


def inside_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["inside"])
    with gr.Row():
        source = gr.Radio([("your drawing or upload (Predict tab)", "drawing"),
                           ("a test image", "test")], value="drawing", label="Input", scale=2)
        another = gr.Button("Another test image", scale=0)
        epoch = gr.Slider(1, 2, value=1, step=1, visible=False, scale=2,
                          label="Weights after epoch (your latest run)")
    caption = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=3, min_width=480):
            network = gr.Image(label="Every layer's response, input at the top (click a map)",
                               interactive=False, buttons=[], elem_classes="preview")
        with gr.Column(scale=2, min_width=320):
            enlarged = gr.Plot(label="The clicked map, enlarged", show_label=False)
            filters = gr.Image(label="What the first layer looks for: its filters",
                               interactive=False, buttons=[], elem_classes="preview")
            filters_caption = gr.Markdown()
    gr.Markdown("### A map of the test set")
    gr.Markdown(help_texts.TEST_MAP)
    with gr.Row():
        beside = gr.Dropdown(label="Beside it, another model", choices=[], value=None, scale=2)
        method = gr.Radio([("PCA (at once)", "pca"), ("t-SNE (10-20 s, then kept)", "tsne")],
                          value="pca", label="Projection", scale=2)
        draw = gr.Button("Draw the map", variant="primary", scale=0)
    with gr.Row():
        map_image = gr.Image(label="2,000 test images, one dot each (click a dot)",
                             interactive=False, buttons=[], elem_classes="preview", scale=3,
                             min_width=480)
        with gr.Column(scale=1, min_width=200):
            point = gr.Image(label="The clicked test image", interactive=False, buttons=[],
                             height=200, elem_classes="preview")
            point_text = gr.Markdown()
    _what("inside")
    return SimpleNamespace(source=source, another=another, epoch=epoch, network=network,
                           enlarged=enlarged,
                           outputs=[caption, network, enlarged, filters, filters_caption],
                           beside=beside, method=method, draw=draw, map_image=map_image,
                           map_outputs=[map_image, point, point_text], point=[point, point_text])


def evaluate_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["evaluate"])
    with gr.Row():
        model = gr.Dropdown(shipped_names(), label="Model", value=(shipped_names() or [None])[0])
        seed = gr.Number(0, label="Sample seed", precision=0)
        evaluate = gr.Button("Evaluate on the test set", variant="primary")
    text = gr.Markdown()
    confusion = gr.Dataframe(label="Confusion matrix: rows are the true class, columns the answer "
                                   "(click a cell)", interactive=False, wrap=True)
    pair_text = gr.Markdown()
    pair_plot = gr.Plot(label="Test images of the clicked cell", show_label=False)
    per_class = gr.BarPlot(x="class", y="accuracy", y_lim=[0, 1], height=260,
                           label="Accuracy per class", x_label_angle=-45)
    grid = gr.Plot(label="25 test images: green right, red wrong", show_label=False)
    mistakes = gr.Gallery(label="The most confident mistakes", columns=5, elem_classes="whole")
    _what("evaluate")
    return SimpleNamespace(model=model, seed=seed, evaluate=evaluate, confusion=confusion,
                           pair=[pair_plot, pair_text],
                           outputs=[text, confusion, per_class, grid, mistakes, pair_plot, pair_text])


def compare_tab() -> SimpleNamespace:
    gr.Markdown(help_texts.HOW["compare"])
    with gr.Row():
        runs = gr.CheckboxGroup(label="Runs to overlay", scale=3)
        x_axis = gr.Radio([("epoch", "epoch"), ("seconds of training", "seconds")], value="epoch",
                          label="x axis", scale=1)
    plot = gr.Plot(label="Validation accuracy, one colour a run (as in the table); dotted: the "
                        "training accuracy of a model with no validation images", show_label=False)
    table = gr.Dataframe(label="The runs, in their line's colour", interactive=False, wrap=True,
                         column_widths=["30%", "10%", "10%", "9%", "8%", "11%", "11%", "11%"])
    _what("compare")
    return SimpleNamespace(runs=runs, x_axis=x_axis, outputs=[runs, plot, table])


def _what(tab: str) -> None:
    with gr.Accordion("What is happening here?", open=False):
        gr.Markdown(help_texts.WHAT[tab])


# ---------------------------------------------------------------- wiring: one function a tab
def wire_dataset(state, active, ds, tr) -> None:
    """Picking, filtering, shuffling and uploading; the header and the model's size follow."""
    show = _level(show_dataset)
    inputs = [state, ds.key, ds.show_class, ds.seed]
    ds.key.change(dataset_parts, ds.key, [ds.zip_file, ds.zip_images, ds.own.section, *ds.samples],
                  **PRIVATE)
    for event in (gr.on([ds.key.input, ds.show_class.input], show, inputs, ds.outputs, **PRIVATE),
                  ds.zip_file.upload(upload_zip, [state, ds.zip_file, ds.zip_images], ds.key,
                                     **PRIVATE).then(show, inputs, ds.outputs, **PRIVATE)):
        event.then(lambda s: _session(s).header(), state, active, **PRIVATE).then(
            suggest_training, [state, ds.key], [tr.model_key, tr.epochs, tr.batch_size],
            **PRIVATE).then(model_text, [tr.model_key, state], tr.model_info, **PRIVATE)
    ds.shuffle.click(lambda s: int(s) + 1, ds.seed, ds.seed, **PRIVATE).then(
        show, inputs, ds.outputs, **PRIVATE)


def dataset_parts(key):
    """What the picked dataset shows: the zip upload, the own classes, or the samples."""
    return (*[gr.update(visible=key == "upload")] * 2, gr.update(visible=key == "own"),
            *[gr.update(visible=key != "own")] * 5)


def wire_own_classes(state, ds, tr, train_page) -> None:
    """Making classes: every change shows the classes, their pictures, count bars and baseline
    again; the Train tab's text follows when it opens."""
    own, view = ds.own, ds.own.view
    own.add.click(_level(own_add_class), [state, own.name], [*view, own.name], **CHECKED)
    own.name.submit(_level(own_add_class), [state, own.name], [*view, own.name], **CHECKED)
    own.rename.click(_level(own_rename_class), [state, own.picker, own.name], [*view, own.name],
                     **CHECKED)
    own.remove.click(_level(own_remove_class), [state, own.picker], view, **CHECKED)
    own.picker.input(own_show_class, [state, own.picker], view, **CHECKED)
    own.capture.click(_level(own_add_frame), [state, own.picker, own.frame], view, js=GRAB_FRAME,
                      **CHECKED)
    recorded = [own.status, *view, own.settle]
    own.webcam.stream(own_record, [state, own.picker, own.webcam], recorded, time_limit=70,
                      **WEBCAM_STREAM)  # 70 s: a class's 200 images
    own.settle.tick(_level(own_settle), [state, own.picker], recorded, show_progress="hidden",
                    **CHECKED)
    for box in (own.files, own.paste):  # unopened: add_images reads uploads only
        box.upload(_level(own_add_files), [state, own.picker, box], [*view, box], **CHECKED)
    own.pictures.select(own_pick, [state, own.picker], None, **CHECKED)
    own.delete.click(_level(own_delete_image), [state, own.picker], view, **CHECKED)
    own.download.click(own_download, state, own.zipped, **CHECKED)
    own.load.upload(_level(own_load_zip), [state, own.load], [*view, own.load], **CHECKED)
    own.images.input(own_image_size, [state, own.images], None, **CHECKED)
    train_page.select(model_text, [tr.model_key, state], tr.model_info, **PRIVATE)


def wire_train(state, active, dataset, tr, pr, ev) -> None:
    """Train (the public /train), Stop; a finished run becomes the pickers' model."""
    tr.model_key.input(describe_model, [tr.model_key, state],
                       [tr.model_info, tr.epochs, tr.batch_size], **PRIVATE)
    tr.train.click(train_model, [state, *tr.form], [state, *tr.outputs, pr.model, ev.model, active, pr.epoch],
                   api_name="train", preprocess=False,  # train_settings checks each value
                   concurrency_limit=None,  # ADMISSION decides, not Gradio's queue
                   trigger_mode="multiple")  # "once" lost a click made as a run ended;
    # a second click while one runs is refused by ADMISSION with a message instead
    tr.stop.click(stop_training, state, None, concurrency_limit=None, **PRIVATE)
    tr.export.click(export_active, [state, tr.export_format], [tr.exported, tr.export_info],
                    concurrency_limit=1, **CHECKED)  # one conversion (seconds of CPU) at a time
    tr.share.click(share_settings, [dataset, *tr.form], tr.link, **CHECKED).success(
        None, tr.link, tr.link, js=COPY_LINK)


def wire_predict(state, active, pr, ev) -> None:
    """Drawing, uploading, another model or epoch: the answers follow."""
    for picker in (pr.model, ev.model):
        picker.input(choose_model, [state, picker], [pr.model, ev.model, active, pr.epoch], **PRIVATE)
    # .input, not .change: Gradio 6.31's image editor drops its first change event
    changed = dict(fn=show_changed, inputs=[state, pr.model, pr.epoch, *pr.breaks.sliders],
                   outputs=pr.breaks.changed, show_progress="hidden", **CHECKED)
    pr.sketch.input(_level(show_prediction), [state, pr.model, pr.sketch, pr.epoch], pr.answers,
                    trigger_mode="always_last", show_progress="hidden", **PRIVATE).then(**changed)
    pr.sketch.clear(clear_drawing, state, [pr.sketch, *pr.answers], **PRIVATE).then(**changed)
    # preprocess=False: the file reaches classifier.preprocess unopened, so an image that cannot be
    # read gets our clear message instead of Gradio's decoding error; show_upload checks that it
    # is an upload (Gradio does not check a raw {"path": ...} here)
    uploaded = pr.upload.change(_level(show_upload), [state, pr.model, pr.upload, pr.epoch],
                                pr.answers, preprocess=False, **PRIVATE)
    uploaded.success(**changed)
    uploaded.failure(unreadable_upload, None, [pr.upload, *pr.answers], **PRIVATE)
    pr.webcam.stream(show_webcam, [state, pr.model, pr.webcam, pr.epoch], pr.answers,
                     time_limit=300, **WEBCAM_STREAM)
    gr.on([pr.model.input, pr.epoch.input], _level(repredict), [state, pr.model, pr.epoch],
          pr.answers, trigger_mode="always_last", show_progress="hidden", **CHECKED)
    wire_break_it(state, pr)


def wire_break_it(state, pr) -> None:
    """The sliders change the latest image; Sweep charts one change for two models."""
    b = pr.breaks
    gr.on([s.release for s in b.sliders] + [pr.model.input, pr.epoch.input], show_changed,
          [state, pr.model, pr.epoch, *b.sliders], b.changed, trigger_mode="always_last",
          show_progress="hidden", **CHECKED)
    gr.on([b.section.expand, pr.model.input], pick_second, [state, pr.model], b.second, **PRIVATE)
    b.sweep.click(show_sweep, [state, pr.model, b.second, b.kind, pr.epoch], b.swept, **CHECKED)


def wire_inside(state, ins, tab) -> None:
    """Opening the tab, another input or epoch: every layer again; a click enlarges a map."""
    show = dict(fn=show_inside, inputs=[state, ins.source, ins.epoch], outputs=ins.outputs,
                **CHECKED)
    tab.select(sync_inside, state, [ins.epoch, ins.beside], **PRIVATE).then(**show)
    ins.another.click(another_test_image, state, ins.source, **PRIVATE).then(**show)
    gr.on([ins.source.input, ins.epoch.input], trigger_mode="always_last", **show)
    ins.network.select(enlarge_map, state, ins.enlarged, **PRIVATE)
    ins.draw.click(show_map, [state, ins.beside, ins.method, ins.epoch], ins.map_outputs,
                   concurrency_limit=2, **CHECKED)  # t-SNE takes a core for 10-20 s
    ins.map_image.select(show_map_point, state, ins.point, **PRIVATE)


def wire_evaluate(state, ev, tab) -> None:
    ev.evaluate.click(_level(show_evaluation), [state, ev.model, ev.seed], ev.outputs, **PRIVATE)
    ev.confusion.select(show_pair, [state, ev.model], ev.pair, **PRIVATE)
    tab.select(sync_evaluation, state, [ev.model, *ev.outputs], **PRIVATE)


def wire_compare(state, cmp, tab) -> None:
    tab.select(lambda s, x: show_comparison(s, x, None), [state, cmp.x_axis], cmp.outputs,  # all runs
               **PRIVATE)
    gr.on([cmp.x_axis.input, cmp.runs.input], show_comparison, [state, cmp.x_axis, cmp.runs],
          cmp.outputs, **PRIVATE)


def wire_api() -> None:
    """The public /predict and /samples, beside the page's own events."""
    with gr.Row(visible=False):  # the API's own inputs and output, never shown
        model, image, scores = gr.Textbox(), gr.File(type="filepath"), gr.JSON()
    # preprocess=False: gr.File's own preprocessing leaves an empty temporary file in the cache on
    # every call (Gradio 6.31); predict_api checks the path is an upload instead
    image.upload(predict_api, [model, image], scores, api_name="predict", preprocess=False)
    gr.api(sample_api, api_name="samples")


def build() -> gr.Blocks:
    """The page: a header, six tabs, each laid out and wired by its own functions."""
    with gr.Blocks(title="Train an image classifier, live",
                   delete_cache=(600, 3600)) as demo:  # files the app served: kept an hour
        state = gr.State(None, delete_callback=lambda s: s is not None and s.close())
        gr.Markdown(help_texts.HEADER)
        link_note = gr.HTML(visible=False, elem_classes="link-note")
        active = gr.Markdown()
        with gr.Tabs():
            with gr.Tab("Dataset", id="dataset"):
                ds = dataset_tab()
            with gr.Tab("Train", id="train") as train_page:
                tr = train_tab()
            with gr.Tab("Predict", id="predict"):
                pr = predict_tab()
            with gr.Tab("Inside the network", id="inside") as inside_page:
                ins = inside_tab()
            with gr.Tab("Evaluate", id="evaluate") as evaluate:
                ev = evaluate_tab()
            with gr.Tab("Compare", id="compare") as compare:
                cmp = compare_tab()
        demo.unload(close_tab)
        demo.load(new_session, None, [state, pr.model, ev.model, active], **PRIVATE).then(
            link_dataset, None, [ds.key, tr.model_key, link_note], **PRIVATE).then(
            _level(show_dataset), [state, ds.key, ds.show_class, ds.seed], ds.outputs, **PRIVATE).then(
            describe_model, [tr.model_key, state], [tr.model_info, tr.epochs, tr.batch_size],
            **PRIVATE).then(link_form, None, [tr.form[i] for i in LINKED_AT], **PRIVATE)
        wire_dataset(state, active, ds, tr)
        wire_own_classes(state, ds, tr, train_page)
        wire_train(state, active, ds.key, tr, pr, ev)
        wire_predict(state, active, pr, ev)
        wire_inside(state, ins, inside_page)
        wire_evaluate(state, ev, evaluate)
        wire_compare(state, cmp, compare)
        wire_api()
    demo.queue(max_size=256, default_concurrency_limit=8,
               api_open=False)  # /run/<name> would skip the queue and its limits
    FairQueue.install(demo)  # limits per session and per network, a fair order (fair_queue.py)
    return demo


def sample_api(dataset: str = "fashion_mnist", count: int = 25, seed: int = 0) -> list[dict]:
    """Random training images of a built-in dataset: their labels and 28x28 pixels (API endpoint)."""
    from classifier.datasets import DATASETS, load_dataset
    try:
        dataset = arguments.choice("dataset", dataset, list(DATASETS))
        count = arguments.integer("count", count, 1, 100)
        seed = arguments.integer("seed", seed, 0, SEED_MAX)
        data = load_dataset(dataset)
    except ValueError as exc:
        raise gr.Error(str(exc))
    idx = figures.sample_indices(data, count, seed=seed)
    return [{"label": data.class_names[data.y_train[i]],  # (H, W) grey, (H, W, 3) colour
             "pixels": np.squeeze(data.x_train[i], axis=-1 if data.image_shape[-1] == 1 else ()).tolist()}
            for i in idx]


# ---------------------------------------------------------------- idle sessions
_SWEEPER = threading.Lock()


def watch_sessions() -> None:
    """Start, once, the thread that forgets sessions with no open page and no event for
    SESSION_IDLE_SECONDS (Gradio keeps each session's copy of the page for up to 10,000
    sessions, ~185 KB each, and a closed tab's state for an hour)."""
    if _SWEEPER.acquire(blocking=False):
        threading.Thread(target=_sweep_forever, name="session-sweeper", daemon=True).start()


def _sweep_forever(every: float = 15.0) -> None:
    while True:
        time.sleep(min(every, SESSION_IDLE_SECONDS))
        try:
            if forgotten := forget_idle_sessions(demo, SESSION_IDLE_SECONDS):
                print(f"session sweeper: forgot {forgotten} idle session(s)", flush=True)
        except Exception as exc:  # never let the sweeper die; say why in the log
            print(f"session sweeper: {type(exc).__name__}: {exc}")


def forget_idle_sessions(blocks: gr.Blocks, idle: float, tab_idle: float | None = None) -> int:
    """Drop every session with no event for `idle` s and no open page, and every open page
    with no event for `tab_idle` s (TAB_IDLE_SECONDS; TAB_IDLE_SHORT_SECONDS while the memory
    budget is over PRESSURE): its state (closing its Session: models, files, training) and
    Gradio's per-session bookkeeping. A page that comes back is told why (fair_queue.RELEASED).
    Returns how many were dropped."""
    import datetime
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
        RELEASED.add(sid, help_texts.released_line(quiet))
    if stale:
        release_memory()
    return len(stale)


def start_trainer() -> None:
    """Choose where trainings run (trainers.py: local worker processes unless RAY_ADDRESS
    says a cluster), admit as many at a time as it has slots, and warm its workers now rather
    than at the first Train."""
    from classifier import trainers
    back_end = trainers.trainer()
    ADMISSION.slots = back_end.slots
    if hasattr(back_end, "start"):
        back_end.start()


limit_heap_arenas()
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Gradio's own decoding too (it refuses past twice this)
demo = build()
watch_sessions()
start_trainer()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), **LAUNCH)
