"""Your own classes, a section of the Dataset tab (dataset_tab.py lays it out and wires it): name them, fill them from the webcam (capture, or Record
at 3 frames a second), files or the clipboard, see and delete their pictures, download them as a
zip or load one. Every image counts against the server's memory budget."""
from __future__ import annotations

import os
import time
from types import SimpleNamespace

import gradio as gr

from ..core import arguments
from ..data import own_classes
from ..data.folders import ZIP_IMAGE_CHOICES, zip_file_count
from ..images.webcam import webcam_frame
from ..serving.session import HELD_PER_IMAGE, OWN_IMAGES, Session
from ..views import figures
from . import words
from .common import (
    CHECKED,
    PRIVATE,
    WEBCAM,
    WEBCAM_STREAM,
    frame_slot,
    level,
    model_text,
    session_of,
)


def screen(session: Session):
    """What this section shows for `session`: `picked` ((class, index) of the image clicked, for
    Delete) and `recorded_at` (time.monotonic() of the latest webcam frame recorded)."""
    return session.screen("own classes", picked=None, recorded_at=0.0)


def own_view(session: Session, chosen=None):
    """The classes made in this tab, `chosen` (else the first) picked: the class picker with
    counts, its pictures, the text with the baseline and what training needs, the count bars."""
    own = session.own
    counts = own.counts()
    chosen = chosen if isinstance(chosen, str) and chosen in counts else next(iter(counts), None)
    screen(session).picked = None  # the pictures may have moved: pick one again to delete it
    picker = gr.update(choices=[(f"{n} ({c})", n) for n, c in counts.items()], value=chosen)
    pictures = gr.update(value=own.thumbnails(chosen) if chosen else [],
                         label=words.own_images_label(chosen, counts.get(chosen, 0)))
    info = words.own_info(counts, own.baseline(), own.training_problem(), own.nbytes)
    frame = figures.pd.DataFrame({"class": list(counts), "images": list(counts.values())})
    top = max(5, int(max(counts.values(), default=0) * 1.1) + 1)
    bars = gr.update(value=frame, y_lim=[0, top], sort=list(counts))
    return picker, pictures, info, bars


VIEW = 4  # the outputs of own_view: picker, pictures, info, bars


def refused(exc: Exception, outputs: int = VIEW) -> tuple:
    """A refused value (a name taken or empty, no class picked, a full class): said once, as a
    warning, and every output left as it was. A gr.Error would mark each output of the event
    with Gradio's red "Error" until the next success, the class picker too."""
    gr.Warning(str(exc))
    return (gr.skip(),) * outputs


def own_add_class(state, name):
    """Add class: a new empty class, picked to fill; the name box empties (a refused name
    stays in it, to correct)."""
    session = session_of(state)
    try:
        name = session.own.add_class(name)
    except ValueError as exc:
        return refused(exc, VIEW + 1)
    return (*own_view(session, name), "")


def own_rename_class(state, chosen, name):
    """Rename: the picked class takes the name in the box (its pictures stay)."""
    session = session_of(state)
    try:
        name = session.own.rename_class(_picked_class(chosen), name)
    except ValueError as exc:
        return refused(exc, VIEW + 1)
    return (*own_view(session, name), "")


def own_remove_class(state, chosen):
    """Remove: the picked class and its pictures go."""
    session = session_of(state)
    try:
        gone = session.own.remove_class(_picked_class(chosen))
    except ValueError as exc:
        return refused(exc)
    gr.Info(f"Removed the class and its {gone} image{'s' * (gone != 1)}.")
    return own_view(session)


def _picked_class(chosen) -> str:
    if chosen is None or chosen == "":
        raise ValueError("add a class first: type its name and press Add class")
    return chosen


def own_add_frame(state, chosen, frame):
    """Capture: the webcam's picture, grabbed by the page (GRAB_FRAME), into the picked class."""
    session = session_of(state)
    try:
        session.reserve_images(1)
        report = session.own.add_images(_picked_class(chosen), webcam_frame(frame))
    except ValueError as exc:
        return refused(exc)
    if report.skipped:
        return refused(ValueError(f"Not added: {report.skipped[0][1]}"))
    return own_view(session, chosen)


@frame_slot
def own_record(state, chosen, frame):
    """Record: each frame the webcam streams (3 a second) into the picked class. One that
    cannot be added says why beside the webcam (an error would repeat at every frame)."""
    session = session_of(state)
    screen(session).recorded_at = time.monotonic()
    try:
        session.reserve_images(1)
        report = session.own.add_images(_picked_class(chosen), webcam_frame(frame))
        problem = report.skipped[0][1] if report.skipped else None
    except ValueError as exc:
        problem = str(exc)
    if problem:  # said until the frames stop (own_settle)
        said = f"**Not recording:** {problem}. Press **Stop**."
        return said, *[gr.update()] * 4, gr.Timer(active=True)
    return RECORDING, *own_view(session, chosen), gr.Timer(active=True)


RECORDING = "**Recording**: hold the object in the middle of the frame; move it a little."


SETTLED = 0.8  # s without a frame: the recording has stopped (frames come every 0.33 s)


def own_settle(state, chosen):
    """The timer, while frames come: once they stop, the classes once more (the count bars
    show the update before the last, see _level) and the timer stops."""
    session = session_of(state)
    if time.monotonic() - screen(session).recorded_at < SETTLED:
        return (gr.update(),) * 6
    return "", *own_view(session, chosen), gr.Timer(active=False)


def own_add_files(state, chosen, files):
    """Files (several at once) or a pasted picture into the picked class; the box empties
    (refused too: drop them again once a class is picked)."""
    return (*_own_add(session_of(state), chosen, files, gr.utils.get_upload_folder()), None)


def _own_add(session: Session, chosen, sources, uploads=None):
    try:
        session.reserve_images(len(sources) if isinstance(sources, (list, tuple)) else 1)
        report = session.own.add_images(_picked_class(chosen), sources, uploads=uploads)
    except ValueError as exc:
        return refused(exc)
    if report.skipped:
        gr.Warning(report.summary())
    return own_view(session, chosen)


def own_pick(state, chosen, evt: gr.SelectData):
    """A clicked picture: remembered for Delete."""
    index = evt.index if isinstance(evt.index, int) and not isinstance(evt.index, bool) else None
    screen(session_of(state)).picked = (chosen, index) if index is not None else None


def own_delete_image(state, chosen):
    """Delete: the clicked picture of the picked class."""
    session = session_of(state)
    picked = screen(session).picked
    if picked is None or picked[0] != chosen:
        return refused(ValueError("Click an image of the class first, then Delete."))
    try:
        session.own.delete_image(*picked)
    except ValueError as exc:
        return refused(exc)
    return own_view(session, chosen)


def own_show_class(state, chosen):
    """Another class picked: its pictures."""
    return own_view(session_of(state), chosen)


def own_download(state):
    """The classes as a zip of class folders, to keep and load again later: the hidden file
    that SAVE_ZIP hands to the browser (none when refused: nothing is saved)."""
    session = session_of(state)
    try:
        return str(session.own.to_zip(session.workdir / "my-classes.zip"))
    except ValueError as exc:
        gr.Warning(str(exc))
        return None


# after own_download: the browser saves the zip at once, one click. The zip is made when asked
# for: its PNGs took ~7 ms a picture here (1.4 s for 200), too much to make again at every
# capture for a DownloadButton holding it ready (its click saves the value it already has)
SAVE_ZIP = """(file) => {
  if (!file || !file.url) return;
  const link = document.createElement("a");
  link.href = file.url;
  link.download = file.orig_name || "my-classes.zip";
  document.body.appendChild(link);
  link.click();
  link.remove();
}"""


def own_load_zip(state, file):
    """A zip of class folders (a download of this tab's, or any) replaces the classes."""
    session = session_of(state)
    try:
        path = arguments.uploaded_path(file, gr.utils.get_upload_folder())
        room = min(zip_file_count(path), own_classes.MAX_IMAGES) * HELD_PER_IMAGE
        with session.holding(room):  # what the new set may hold, while it is read
            loaded, report = own_classes.ClassSet.from_zip(
                path, session.workdir / f"own-zip-{os.urandom(3).hex()}")
    except ValueError as exc:
        return (*refused(exc), None)
    replaced, session.own = session.own.total(), loaded
    if report.skipped:
        gr.Warning(report.summary())
    gr.Info(f"Loaded {len(loaded.names())} classes, {report.added:,} images"
            + (f", in place of the {replaced:,} you had." if replaced else "."))
    return (*own_view(session), None)


def own_image_size(state, images):
    """What the classes' pictures become for training."""
    try:
        session_of(state).own_images = arguments.choice("images", images, list(ZIP_IMAGE_CHOICES))
    except ValueError as exc:
        gr.Warning(str(exc))


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


def create() -> SimpleNamespace:
    """Your own classes: name them, fill them from the webcam, files or the clipboard, see and
    delete their pictures, download them as a zip or load one (shown for the "own" dataset)."""
    with gr.Column(visible=False) as section:
        gr.Markdown(words.OWN_HOW)
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
                pictures = gr.Gallery(label=words.own_images_label(None, 0),
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
                zipped = gr.File(visible=False, interactive=False)  # saved by SAVE_ZIP
                load = gr.File(label="…or load a zip you downloaded", file_types=[".zip"],
                               height=140)
        images = gr.Radio(list(ZIP_IMAGE_CHOICES), value=OWN_IMAGES,
                          label="What the images become for training")
    return SimpleNamespace(section=section, name=name, add=add, rename=rename, remove=remove,
                           picker=picker, webcam=webcam, status=status, capture=capture,
                           frame=frame, settle=settle, pictures=pictures, delete=delete,
                           files=files, paste=paste, download=download, zipped=zipped,
                           load=load, images=images)


def wire(state, ds, tr, train_page) -> None:
    """Making classes: every change shows the classes, their pictures, count bars and baseline
    again; the Train tab's text follows when it opens."""
    own, view = ds.own, ds.own.view
    own.add.click(level(own_add_class), [state, own.name], [*view, own.name], **CHECKED)
    own.name.submit(level(own_add_class), [state, own.name], [*view, own.name], **CHECKED)
    own.rename.click(level(own_rename_class), [state, own.picker, own.name], [*view, own.name],
                     **CHECKED)
    own.remove.click(level(own_remove_class), [state, own.picker], view, **CHECKED)
    own.picker.input(own_show_class, [state, own.picker], view, **CHECKED)
    own.capture.click(level(own_add_frame), [state, own.picker, own.frame], view, js=GRAB_FRAME,
                      **CHECKED)
    recorded = [own.status, *view, own.settle]
    own.webcam.stream(own_record, [state, own.picker, own.webcam], recorded, time_limit=70,
                      **WEBCAM_STREAM)  # 70 s: a class's 200 images
    own.settle.tick(level(own_settle), [state, own.picker], recorded, show_progress="hidden",
                    **CHECKED)
    for box in (own.files, own.paste):  # unopened: add_images reads uploads only
        box.upload(level(own_add_files), [state, own.picker, box], [*view, box], **CHECKED)
    own.pictures.select(own_pick, [state, own.picker], None, **CHECKED)
    own.delete.click(level(own_delete_image), [state, own.picker], view, **CHECKED)
    own.download.click(own_download, state, own.zipped, **CHECKED).success(
        None, own.zipped, None, js=SAVE_ZIP, **PRIVATE)
    own.load.upload(level(own_load_zip), [state, own.load], [*view, own.load], **CHECKED)
    own.images.input(own_image_size, [state, own.images], None, **CHECKED)
    train_page.select(model_text, [tr.model_key, state], tr.model_info, **PRIVATE)
