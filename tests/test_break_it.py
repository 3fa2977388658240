"""What breaks it, on the Predict tab: the sliders and the sweep through the app's handlers."""
import os

os.environ.setdefault("CLASSIFIER_TRAINER", "inline")

import gradio as gr
import numpy as np
import pytest

from classifier.images.preprocess import upscale
from classifier.serving.session import Session
from classifier.ui import common, predict_tab
from classifier.views import robustness

MLP, CNN = "Fashion-MNIST: MLP (shipped)", "Fashion-MNIST: our CNN (shipped)"
SNEAKER = "assets/examples/fashion-sneaker.png"


@pytest.fixture
def session():
    s = Session()
    s.active_model, s.last_image = MLP, SNEAKER
    yield s
    s.close()


def test_the_sliders_answer_the_changed_image(session):
    picture, text = predict_tab.show_changed(session, MLP, 0, 3, 0, 0, 1, 0, 0, 0)
    predictor = session.predictor(MLP)
    seen = robustness.apply(predictor.prepare(SNEAKER).seen, shift_right=3)
    assert np.array_equal(picture, upscale(seen, 196))
    p = predictor.probabilities(seen[None, :, :, None])[0]
    assert f"**{predictor.class_names[int(np.argmax(p))]} {p.max():.0%}**" in text


def test_the_mlp_breaks_under_a_shift_where_the_cnn_holds(session):
    """The lesson itself, on the shipped models and a real test image: the CNN keeps 'Sneaker'
    over more of the shift sweep than the MLP does."""
    swept = robustness.sweep_models([(n, session.predictor(n), None) for n in (MLP, CNN)],
                                    SNEAKER, "shift_right")
    (_, mlp, _), (_, cnn, _) = swept
    assert mlp.class_index == cnn.class_index == session.predictor(MLP).class_names.index("Sneaker")
    width = lambda s: s.holds()[1] - s.holds()[0]
    assert width(cnn) >= width(mlp) + 4
    figure, strip = predict_tab.show_sweep(session, MLP, CNN, "shift_right", 0)
    assert len(figure.axes[0].lines) >= 3 and strip.ndim == 2


def test_the_second_picker_offers_a_model_with_the_same_classes(session):
    update = common.pick_second(session, MLP)
    assert update["value"] == CNN and MLP not in update["choices"]


@pytest.mark.parametrize("args, message", [
    ((MLP, None, "twist", 0), "change must be one of"),
    ((MLP, None, "rotate", -1), "epoch must be"),
    ((MLP, "no such model", "rotate", 0), "pick a model"),
])
def test_hostile_sweeps_get_a_message(session, args, message):
    with pytest.raises(gr.Error, match=message):
        predict_tab.show_sweep(session, *args)


@pytest.mark.parametrize("amounts, message", [
    ((99, 0, 0, 1, 0, 0, 0), "shift right must be"),
    ((0, 0, 0, "nan", 0, 0, 0), "scale factor must be"),
    ((0, 0, 0, 1, 0, None, 0), "noise must be"),
])
def test_hostile_slider_values_get_a_message(session, amounts, message):
    with pytest.raises(gr.Error, match=message):
        predict_tab.show_changed(session, MLP, 0, *amounts)


def test_nothing_drawn_yet_says_so():
    s = Session()
    assert predict_tab.show_changed(s, MLP, 0, *[0] * 7)[0] is None
    with pytest.raises(gr.Error, match="Draw something"):
        predict_tab.show_sweep(s, MLP, None, "rotate", 0)
