"""The Inside the network tab: every layer's response to the input and the first layer's filters,
a clicked map enlarged; a map of the test set by the model's last hidden layer."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..core import arguments
from ..images.errors import BlankImage
from ..images.preprocess import upscale
from ..serving.session import Session
from ..views import inside, network_pictures, test_map
from . import words
from .common import (
    CHECKED,
    PRIVATE,
    epoch_slider,
    pick_second,
    session_of,
    short_name,
    what_is_happening,
)

# What each picture's place says before the picture exists (an empty figure box says nothing)
NETWORK_HINT = ("*Every layer's response to the input appears here: draw or upload an image in "
                "**Predict**, or pick **a test image** above.*")
ENLARGE_HINT = "*Click a map in the network picture to see it enlarged here.*"
FILTERS_HINT = "*The first layer's filters appear here with the layers.*"
MAP_HINT = "*Press **Draw the map**: 2,000 test images appear here, one dot each.*"
POINT_HINT = "*Click a dot of the map to see its test image here.*"


def shown(value):
    """An update that shows a picture (or hides its place when there is none)."""
    return gr.update(value=value, visible=value is not None)


def weights_words(session: Session, name: str, epoch: int) -> str:
    """Which weights of model `name` the tab uses at the epoch slider's `epoch`, in words: "after
    epoch 1 of 3", "after the last epoch (3)", "as the run stopped, in epoch 2"; "" for a model
    without a run's epochs (a shipped one)."""
    kept = len(session.epoch_weights(name))
    if session.weights_at(name, epoch) is not None:
        return f"weights after epoch {epoch} of {kept}"
    model = session.trained.get(name)
    if model is None:
        return ""
    result = model.run.result
    if result.stopped_in:
        return f"weights as the run stopped, in epoch {result.stopped_in[0]}"
    done = kept or result.epochs_done
    return f"weights after the last epoch ({done})" if done else "weights as the run ended"


def screen(session: Session):
    """What this tab shows for `session`, for clicks on it: `network` (the layers' views, their
    picture, the class names), `map` (the test set's map picture and its maps), and `test_pick`,
    which test image is the input when one is."""
    return session.screen("inside", network=None, map=None, test_pick=0)


def show_inside(state, source, epoch):
    """Every layer's response to the input and the first layer's filters, for the active model
    as it was after `epoch`."""
    session = session_of(state)
    name = session.active_model
    try:
        source = arguments.choice("input", source, ["drawing", "test"])
        epoch = arguments.integer("epoch", epoch or 0, 0, 10_000)
        predictor = session.predictor(name)
        batch, what = session.model_input(name, source, screen(session).test_pick)
        views, filters = predictor.using(session.weights_at(name, epoch), lambda model: (
            inside.layer_views(model, batch), inside.first_layer_filters(model)))
    except BlankImage as exc:
        return _inside_message(f"Nothing to read: {exc}.")
    except ValueError as exc:
        return _inside_message(str(exc))
    picture = network_pictures.network_picture(views, predictor.class_names)
    screen(session).network = views, picture, predictor.class_names
    scores = views[-1].values
    at = weights_words(session, name, epoch)
    text = (f"**{name}**{', ' + at if at else ''}, looking at {what}: it answers "
            f"**{predictor.class_names[int(scores.argmax())]} {scores.max():.0%}**. "
            f"{len(views)} layers, input at the top, scores at the bottom; **click a map** to "
            "enlarge it.")
    return (text, shown(picture.image), shown(None),
            shown(network_pictures.filters_picture(filters)), filters.caption,
            gr.update(visible=False), gr.update(visible=True))


def _inside_message(message: str):
    """Outputs for no network: the message, each picture's place saying what will be there."""
    return (message, shown(None), shown(None), shown(None), FILTERS_HINT, gr.update(visible=True),
            gr.update(visible=True))


def enlarge_map(state, evt: gr.SelectData):
    """A clicked tile of the network picture: that map enlarged, with a colour bar, in place of
    the hint (a click beside every tile changes nothing)."""
    seen = screen(session_of(state)).network
    index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
    unchanged = gr.update(), gr.update()
    if seen is None or index is None:
        return unchanged
    views, picture, class_names = seen
    try:
        hit = picture.at(float(index[0]), float(index[1]))
    except (TypeError, ValueError):
        return unchanged
    if hit is None:
        return unchanged
    view, channel = views[hit[0]], hit[1]
    figure = network_pictures.feature_map_figure(view, channel, class_names)
    which = (class_names[channel] if view.kind == "scores" and channel < len(class_names)
             else "the colour image" if channel < 0 else
             f"{'unit' if view.values.ndim == 1 else 'channel'} {channel}")
    return (gr.update(value=figure, visible=True, label=f"Enlarged: {view.title}, {which}"),
            gr.update(visible=False))


def another_test_image(state):
    """The Inside tab's next test image."""
    session = session_of(state)
    screen(session).test_pick += 1
    return "test"


def show_map(state, beside, method, epoch, progress=gr.Progress()):
    """The test set's map for the active model (at the slider's epoch) and, beside it, another
    model; the input as a star. Maps are kept per model, epoch and projection (t-SNE is slow)."""
    session = session_of(state)
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
    # the slider's epoch is the active model's; the one beside it is as its run ended
    used = [weights_words(session, n, epoch if k == 0 else 0) for k, (n, _) in enumerate(models)]
    picture = test_map.map_picture(
        [(short_name(n) + (f"\n{u}" if u else ""), m) for (n, _), m, u in zip(models, maps, used)],
        classes, star=list(stars))
    screen(session).map = picture, [(n, m) for (n, _), m in zip(models, maps)]
    notes = {m.note for m in maps if m.note}
    which = (f"The map uses **{short_name(name)}** with its {used[0]}"
             f"{' (the epoch slider above)' if session.epoch_weights(name) else ''}. "
             if used[0] else "")
    return (shown(picture.image), shown(None),
            which + words.MAP_CLICK + (" " + " ".join(notes) if notes else ""),
            gr.update(visible=False))


def show_map_point(state, evt: gr.SelectData):
    """A clicked dot of the map: its test image, and what the model answered."""
    session = session_of(state)
    index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
    if screen(session).map is None or index is None:
        return gr.update(), gr.update()
    picture, maps = screen(session).map
    try:
        hit = picture.nearest(float(index[0]), float(index[1]))
    except (TypeError, ValueError):
        hit = None
    if hit is None:
        return gr.update(), "No test image there: click a dot."
    name, tmap = maps[hit[0]]
    data = session.dataset_of(name)
    image = data.x_test[tmap.indices[hit[1]]]
    return shown(upscale(image, 196)), (f"**{short_name(name)}**: "
                                        + test_map.describe_point(tmap, hit[1], data.class_names))


def sync_inside(state):
    """The Inside tab opened: its epoch slider for the active model's run, and the map's
    second picker: every other model, one with the same classes chosen."""
    session = session_of(state)
    return epoch_slider(session, session.active_model), pick_second(state, session.active_model)


def create() -> SimpleNamespace:
    gr.Markdown(words.HOW["inside"])
    with gr.Row():
        source = gr.Radio([("your drawing or upload (Predict tab)", "drawing"),
                           ("a test image", "test")], value="drawing", label="Input", scale=2)
        another = gr.Button("Another test image", scale=0)
        epoch = gr.Slider(1, 2, value=1, step=1, visible=False, scale=2,
                          label="Weights after epoch (your latest run)")
    caption = gr.Markdown()
    with gr.Row():  # each picture hidden until it exists, a hint in its place
        with gr.Column(scale=3, min_width=480):
            network_hint = gr.Markdown(NETWORK_HINT)
            network = gr.Image(label="Every layer's response, input at the top (click a map)",
                               interactive=False, buttons=[], elem_classes="preview",
                               visible=False)
        with gr.Column(scale=2, min_width=320):
            enlarged_hint = gr.Markdown(ENLARGE_HINT)
            enlarged = gr.Plot(label="Enlarged: the clicked map", visible=False,
                               elem_classes="preview")  # its label: the map in words
            filters = gr.Image(label="What the first layer looks for: its filters",
                               interactive=False, buttons=[], elem_classes="preview",
                               visible=False)
            filters_caption = gr.Markdown(FILTERS_HINT)
    gr.Markdown("### A map of the test set")
    gr.Markdown(words.TEST_MAP)
    with gr.Row():
        beside = gr.Dropdown(label="Beside it, another model", choices=[], value=None, scale=2)
        method = gr.Radio([("PCA (at once)", "pca"), ("t-SNE (10-20 s, then kept)", "tsne")],
                          value="pca", label="Projection", scale=2)
        draw = gr.Button("Draw the map", variant="primary", scale=0)
    with gr.Row():
        with gr.Column(scale=3, min_width=480):
            map_hint = gr.Markdown(MAP_HINT)
            map_image = gr.Image(label="2,000 test images, one dot each (click a dot)",
                                 interactive=False, buttons=[], elem_classes="preview",
                                 visible=False)
        with gr.Column(scale=1, min_width=200):
            point = gr.Image(label="The clicked test image", interactive=False, buttons=[],
                             height=200, elem_classes="preview", visible=False)
            point_text = gr.Markdown(POINT_HINT)
    what_is_happening("inside")
    return SimpleNamespace(source=source, another=another, epoch=epoch, network=network,
                           enlarged=enlarged, enlarged_hint=enlarged_hint,
                           outputs=[caption, network, enlarged, filters, filters_caption,
                                    network_hint, enlarged_hint],
                           beside=beside, method=method, draw=draw, map_image=map_image,
                           map_outputs=[map_image, point, point_text, map_hint],
                           point=[point, point_text])


def wire(state, ins, tab) -> None:
    """Opening the tab, another input or epoch: every layer again; a click enlarges a map."""
    show = dict(fn=show_inside, inputs=[state, ins.source, ins.epoch], outputs=ins.outputs,
                **CHECKED)
    tab.select(sync_inside, state, [ins.epoch, ins.beside], **PRIVATE).then(**show)
    ins.another.click(another_test_image, state, ins.source, **PRIVATE).then(**show)
    gr.on([ins.source.input, ins.epoch.input], trigger_mode="always_last", **show)
    ins.network.select(enlarge_map, state, [ins.enlarged, ins.enlarged_hint], **PRIVATE)
    ins.draw.click(show_map, [state, ins.beside, ins.method, ins.epoch], ins.map_outputs,
                   concurrency_limit=2, **CHECKED)  # t-SNE takes a core for 10-20 s
    ins.map_image.select(show_map_point, state, ins.point, **PRIVATE)
