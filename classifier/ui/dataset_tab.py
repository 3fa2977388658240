"""The Dataset tab: pick a dataset (a built-in one, a zip of class folders, or your own classes:
own_classes_section.py), shuffle and filter its samples, its class counts and one image's
pixels and augmentations."""
from __future__ import annotations

import os
from types import SimpleNamespace

import gradio as gr

from ..core import arguments
from ..core.memory import array_bytes
from ..data.folders import ZIP_IMAGE_CHOICES, zip_file_count
from ..models.registry import MODELS
from ..serving.session import dataset_choices
from ..views import figures
from . import own_classes_section, words
from .common import PRIVATE, SEED_MAX, level, model_text, session_of, what_is_happening


def show_dataset(state, key, class_filter, seed):
    """Dataset `key` becomes the session's: its samples, class counts, one image's pixels and
    augmentations. One that cannot be loaded is refused with a warning and the info text, and
    the previous dataset stays in use (the picker goes back to it)."""
    session = session_of(state)
    try:
        seed = arguments.integer("shuffle seed", seed, 0, SEED_MAX)
    except ValueError as exc:
        raise gr.Error(str(exc))
    if key == "upload" and session.uploaded is None:
        return (words.upload_prompt(session.dataset_title()), *[gr.update()] * 6)
    if key == "own":  # in use as it grows; Train says what it lacks until it can train
        session.dataset_key = "own"
        _, _, info, counts = own_classes_section.own_view(session)
        return (info, gr.update(), counts, gr.update(choices=["all classes"], value="all classes"),
                gr.update(), gr.update(), gr.update())
    try:
        data = session.use_dataset(key)
    except ValueError as exc:
        gr.Warning(str(exc))
        return (words.refused_dataset(str(exc), session.dataset_title()), *[gr.update()] * 5,
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


def header(state) -> str:
    """The line under the title, for the dataset now in use."""
    return session_of(state).header()


def upload_zip(state, file, images=None):
    """A zip of class folders becomes the session's uploaded dataset; `images`, a key of
    ZIP_IMAGE_CHOICES, says what its images become (default: the first, 28x28 grey)."""
    from classifier.data.folders import load_image_zip
    session = session_of(state)
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


def suggest_training(state, key):
    """Switching to your own classes picks the Quick CNN with epochs and batch for a small set."""
    if key != "own":
        return gr.update(), gr.update(), gr.update()
    epochs, batch = session_of(state).training_defaults("cnn_quick")
    return gr.update(value="cnn_quick"), gr.update(value=epochs), gr.update(value=batch)


def switch_to(state, key, seed, model_key):
    """Dataset `key` as if picked in this tab (the walk-through's steps pick theirs): its view,
    the header, the Train form's suggestion and model text; nothing at all when `key` is None or
    already the session's. Outputs: the tab's, the header, model, epochs, batch, model text."""
    session = session_of(state)
    if not isinstance(key, str) or key == session.dataset_key:
        return (gr.skip(),) * 12
    shown = list(show_dataset(state, key, "all classes", seed))
    if "value" not in shown[-1]:  # used (a refused one puts the picker back by itself)
        shown[-1] = gr.update(value=key)
    model, epochs, batch = suggest_training(state, session.dataset_key)
    picked = model.get("value") or model_key
    return (*shown, session.header(), model, epochs, batch,
            model_text(picked, state) if isinstance(picked, str) and picked in MODELS else gr.skip())


def dataset_parts(key):
    """What the picked dataset shows: the zip upload, the own classes, or the samples."""
    return (*[gr.update(visible=key == "upload")] * 2, gr.update(visible=key == "own"),
            *[gr.update(visible=key != "own")] * 5)


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["dataset"])
    with gr.Row():
        key = gr.Dropdown(dataset_choices(), value="fashion_mnist", label="Dataset", scale=2,
                          min_width=300)  # its longest name whole at 800 px; a row on a phone
        show_class = gr.Dropdown(["all classes"], value="all classes", label="Show class",
                                 min_width=160)
        seed = gr.Number(0, label="Shuffle seed", precision=0, visible=False)
        shuffle = gr.Button("Shuffle", scale=0)
    with gr.Row():
        zip_file = gr.File(label="Zip with one folder of images per class",
                           file_types=[".zip"], height=140, visible=False, scale=3)
        zip_images = gr.Radio(list(ZIP_IMAGE_CHOICES), value=next(iter(ZIP_IMAGE_CHOICES)),
                              label="What the zip's images become", visible=False, scale=2)
    own = own_classes_section.create()
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
    what_is_happening("dataset")
    own.view = [own.picker, own.pictures, info, counts]  # what every change to the classes shows
    # the picker last: a refused dataset puts it back
    return SimpleNamespace(key=key, show_class=show_class, seed=seed, shuffle=shuffle,
                           zip_file=zip_file, zip_images=zip_images, own=own,
                           samples=[show_class, shuffle, grid, pixels, aug],
                           outputs=[info, grid, counts, show_class, pixels, aug, key])


def wire(state, active, ds, tr, train_page) -> None:
    """Picking, filtering, shuffling and uploading; the header and the model's size follow.
    Then the own-classes section's events."""
    show = level(show_dataset)
    inputs = [state, ds.key, ds.show_class, ds.seed]
    ds.key.change(dataset_parts, ds.key, [ds.zip_file, ds.zip_images, ds.own.section, *ds.samples],
                  **PRIVATE)
    for event in (gr.on([ds.key.input, ds.show_class.input], show, inputs, ds.outputs, **PRIVATE),
                  ds.zip_file.upload(upload_zip, [state, ds.zip_file, ds.zip_images], ds.key,
                                     **PRIVATE).then(show, inputs, ds.outputs, **PRIVATE)):
        event.then(header, state, active, **PRIVATE).then(
            suggest_training, [state, ds.key], [tr.model_key, tr.epochs, tr.batch_size],
            **PRIVATE).then(model_text, [tr.model_key, state], tr.model_info, **PRIVATE)
    ds.shuffle.click(lambda s: int(s) + 1, ds.seed, ds.seed, **PRIVATE).then(
        show, inputs, ds.outputs, **PRIVATE)
    own_classes_section.wire(state, ds, tr, train_page)
