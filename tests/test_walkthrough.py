"""The walk-through (issue 25): the lectures' steps in order, each step's Keras code cut from the
take-home script (and run in a fresh Python, where it does what the app does), the panel's
handlers with any value, a teacher's step that moves the class, and the panel's events attacked
over HTTP."""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import HOSTILE, call_event, make_dataset, served_app

from classifier.core.settings import TrainSettings
from classifier.export.take_home import plan_script, reproduce_script, script_parts
from classifier.inference.evaluation import evaluate
from classifier.serving import walkthrough
from classifier.serving.classroom import STEPS as CLASS_STEPS
from classifier.serving.session import Session
from classifier.serving.walkthrough import STEPS, code, step_at, step_form
from classifier.training.lab import training_share
from classifier.training.run import run_training
from classifier.views import robustness
from classifier.views.figures import class_counts

FORM = ["mlp", 5, 64, "recipe's own", 0, "cosine", 0.1, 0, 100, 0, "the recipe's own", "off"]


def test_the_steps_follow_the_lectures():
    assert [s.key for s in STEPS] == ["data", "mlp", "train", "softmax", "draw", "evaluate",
                                      "overfit", "cnn", "breaks", "inside", "own"]
    for step in STEPS:
        sentences = re.findall(r"[.:!?](\s|$)", step.text)
        assert 2 <= len(sentences) <= 5, (step.key, step.text)
        assert step.question.endswith("?") and len(step.choices) >= 2
        assert 0 <= step.right < len(step.choices) and step.answer
        assert step.tab in CLASS_STEPS and f"walk:{step.key}" in CLASS_STEPS  # a class goes there
        assert step.code and step.button
    assert step_at("nonsense") is STEPS[0] and step_at(99) is STEPS[-1] and step_at(-3) is STEPS[0]
    assert step_at(float("nan")) is STEPS[0] and step_at(1e309) is STEPS[0] and step_at([2]) is STEPS[0]


def test_a_steps_form_starts_from_its_models_own_settings_unless_the_form_has_that_model():
    cnn = next(s for s in STEPS if s.key == "cnn")
    filled = dict(zip(walkthrough.FORM_FIELDS, step_form(cnn, FORM)))
    assert (filled["model"], filled["epochs"], filled["batch"], filled["seconds"]) == (
        "cnn_quick", 2, 128, 30)
    mine = ["cnn_quick", 9, 256, *FORM[3:]]
    filled = dict(zip(walkthrough.FORM_FIELDS, step_form(cnn, mine)))
    assert (filled["epochs"], filled["batch"]) == (9, 256)  # the student's own, kept
    overfit = dict(zip(walkthrough.FORM_FIELDS, step_form(step_at(6), FORM)))
    assert (overfit["data"], overfit["epochs"], overfit["model"]) == (1, 30, "mlp")


def test_a_steps_code_follows_the_form_and_any_form_gives_code():
    data = make_dataset(classes=10)
    train = code(step_at(2), data, ["mlp", 7, 128, *FORM[3:]])
    assert "EPOCHS = 7" in train and "BATCH_SIZE = 128" in train and "def train(" in train
    overfit = code(step_at(6), data, FORM)
    assert "DATA_SHARE = 0.01" in overfit and "EPOCHS = 30" in overfit
    assert "Conv2D" in code(step_at(7), data, FORM)  # the Quick CNN, whatever the form's model
    for hostile in ([None] * 12, ["../x", -5, "y", {}, [], 1e308, None, "z", 1e9, -1, 7, 0], []):
        assert "def build_model" in code(step_at(1), data, hostile)


def test_each_steps_code_is_cut_from_the_take_home_script_a_run_gets():
    """The code shown is the code a student takes home: for the same model and settings, every
    part a step shows is in the script of a finished run, character for character."""
    data = make_dataset(n_train=60, n_test=20, classes=10)
    settings = TrainSettings(epochs=1, batch_size=64)
    for model_key in ("mlp", "cnn_quick"):
        run = run_training(data, model_key, settings)
        taken_home = reproduce_script(run)
        for step in STEPS:
            form = [model_key, 1, 64, *FORM[3:]]
            if step.form.get("model", model_key) != model_key or step.key == "overfit":
                continue
            shown = code(step, data, form)
            for part in [p for p in shown.split("\n\n\n") if p.strip()]:
                for line in part.splitlines():
                    assert line in taken_home, (model_key, step.key, line)


def test_script_parts_names_functions_and_constants():
    parts = script_parts(plan_script(make_dataset(classes=10), "mlp"))
    assert parts["EPOCHS"] == "EPOCHS = 5"
    assert parts["build_model"].startswith("def build_model():")
    assert {"train", "logits", "softmax", "predict", "confusion_matrix", "shifted",
            "layer_outputs", "class_counts", "load_data", "lab", "main"} <= set(parts)


DRIVER = textwrap.dedent('''
    import importlib.util, json, sys
    import numpy as np

    def load(name):
        spec = importlib.util.spec_from_file_location(name, f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    x_train, y_train, x_test, y_test = (np.load(f"{n}.npy") for n in ("xtr", "ytr", "xte", "yte"))
    out = {}
    mlp = load("step_mlp")  # the steps of the MLP: its code, as the walk-through shows it
    out["counts"], out["chance"] = mlp.class_counts(y_train)
    model = mlp.build_model()
    out["params"] = model.count_params()
    kept, held = mlp.hold_out(y_train, mlp.VALIDATION_SPLIT, mlp.SEED)
    fit = mlp.train(model, x_train[kept], y_train[kept], (x_train[held], y_train[held]), 1)
    out["history"] = sorted(fit.history)
    scores = mlp.softmax(mlp.logits(model, x_test[:4]))
    out["softmax_gap"] = float(np.abs(scores - model.predict(x_test[:4], verbose=0)).max())
    out["predict"] = mlp.predict(model, x_test[0])
    out["confusion"] = mlp.confusion_matrix(model, x_test, y_test).tolist()
    np.save("shifted.npy", mlp.shifted(x_test[:3], right=3, down=-2))
    out["layers"] = {k: list(v.shape) for k, v in mlp.layer_outputs(model, x_test[:2]).items()}
    model.save("mlp.keras")
    overfit = load("step_overfit")
    xs, ys = overfit.lab(x_train, y_train, len(x_train))
    np.save("lab.npy", ys)
    out["cnn_params"] = load("step_cnn").build_model().count_params()
    json.dump(out, open("out.json", "w"))
''')


def test_each_steps_code_runs_in_a_fresh_python_and_does_what_the_app_does(tmp_path):
    """The steps' code (their parts of the take-home script) in a Python without `classifier`,
    on tiny data: a model that trains; the app's parameter counts, softmax scores, answer,
    confusion matrix, shift, layers and lab share."""
    import keras

    from classifier.models.registry import build_model
    data = make_dataset(n_train=200, n_test=40, classes=10)
    for name, array in zip(("xtr", "ytr", "xte", "yte"),
                           (data.x_train, data.y_train, data.x_test, data.y_test)):
        np.save(tmp_path / f"{name}.npy", array)
    plans = {"mlp": (step_at(2), FORM), "overfit": (step_at(6), FORM), "cnn": (step_at(7), FORM)}
    for name, (step, form) in plans.items():
        values = step_form(step, form)
        from classifier.serving.train_form import train_settings
        script = plan_script(data, values[0], train_settings(*values))
        shown = code(step, data, form)
        assert all(line in script for line in shown.splitlines()), name  # the code shown is in it
        (tmp_path / f"step_{name}.py").write_text(script)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no `classifier` there
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run([sys.executable, "driver.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())

    frame, chance = class_counts(data)  # the Dataset tab's counts and chance
    assert out["counts"] == dict(zip(frame["class"], frame["images"].tolist()))
    assert out["chance"] == pytest.approx(chance)
    assert out["params"] == 101_770 == build_model("mlp", (28, 28, 1), 10).count_params()  # step 2
    assert {"accuracy", "loss", "val_accuracy", "val_loss"} <= set(out["history"])
    assert out["softmax_gap"] < 1e-5  # softmax of the logits is what the model answers
    model = keras.saving.load_model(tmp_path / "mlp.keras")
    scores = model.predict(data.x_test[:1], verbose=0)[0]
    assert out["predict"][0] == data.class_names[int(scores.argmax())]
    assert out["predict"][1] == pytest.approx(float(scores.max()), abs=1e-5)
    assert np.array_equal(out["confusion"], evaluate(model, data).confusion_matrix())
    shifted = np.load(tmp_path / "shifted.npy")
    for mine, image in zip(shifted, data.x_test[:3]):
        np.testing.assert_array_equal(mine, robustness.apply(image, shift_right=3, shift_down=-2))
    assert list(out["layers"]) == [layer.name for layer in model.layers[1:]]
    assert out["layers"]["scores"] == [2, 10]
    _, app_share = training_share(data.x_train, data.y_train, 0.01, len(data.y_train), 0)
    np.testing.assert_array_equal(np.load(tmp_path / "lab.npy"), app_share)
    assert out["cnn_params"] == build_model("cnn_quick", (28, 28, 1), 10).count_params()


# ------------------------------------------------------------------ the panel's handlers
def test_the_panel_shows_any_step_asked_for_and_says_the_answer_after():
    from classifier.ui import walk_panel
    session = Session()
    for index, shown in ((0, 0), (3, 3), (10, 10), (-4, 0), (99, 10), ("2", 2), (None, 0),
                         ([1], 0), ({"a": 1}, 0), (float("nan"), 0), ("x" * 10_000, 0)):
        out = walk_panel.show_step(session, index, *FORM)
        assert out[0] == shown and out[1].startswith(f"### Step {shown + 1} of 11")
        assert out[4]["value"] == STEPS[shown].button and out[5]["visible"] is False
    said, offer = walk_panel.answer(0, "1 time in 10 (10%)")
    assert "right!" in said["value"] and said["visible"] and not offer["visible"]
    said, _ = walk_panel.answer(0, "1 time in 2 (50%)")
    assert "not this time" in said["value"] and STEPS[0].answer in said["value"]
    for guess in (None, ["x"], "<b>x</b>", 5):
        said, _ = walk_panel.answer(0, guess)
        assert said["value"] == STEPS[0].answer  # no guess, no verdict, no markup echoed
    assert walk_panel.done(2, None)[0]["visible"]  # a training step: the answer at once
    assert walk_panel.done(3, None)[1]["visible"]  # an opening one: offered
    assert walk_panel.moved(session, "4:7", *FORM)[0] == 7
    came = walk_panel.arrive(session, 5, "folded", *FORM)  # a reload: the step, the fold kept
    assert came[0] == 5 and came[-1]["open"] is False
    assert walk_panel.arrive(session, "junk", {"x": 1}, *FORM)[-1]["open"] is True
    assert all(o == {"__type__": "update"} for o in walk_panel.moved(session, "nonsense", *FORM))
    filled = walk_panel.fill(session, 1, *FORM)  # the MLP step fills the form
    assert filled[0] == {"__type__": "update"} and "101,770" in filled[-1]  # MLP already there
    filled = walk_panel.fill(session, 7, *FORM)  # the CNN step: its model, epochs, batch, budget
    assert [filled[i].get("value") for i in (0, 1, 2, 7)] == ["cnn_quick", 2, 128, 30]
    assert filled[3] == {"__type__": "update"}  # the rest of the form as it was
    assert all(isinstance(o, dict) for o in walk_panel.fill(session, 0, *FORM))  # skips
    assert "def build_model" in walk_panel.step_code(session, 1, *FORM)


def test_a_teachers_step_moves_the_class_and_a_students_page_follows():
    from classifier.ui import class_tab, common, walk_panel
    teacher, student = Session(), Session()
    teacher.membership = common.CLASSES.start("walk-test-net")
    student.membership = common.CLASSES.join(teacher.membership.code, "Ann", "walk-test-net")
    class_tab.follow(student, True)  # the page as it stands
    walk_panel.show_step(teacher, 7, *FORM)  # the teacher moves to the CNN step
    out = class_tab.follow(student, True)
    tab, to = out[1], out[-1]
    assert tab.selected == "train" and to.endswith(":7")  # the step's tab, and the step
    assert walk_panel.moved(student, to, *FORM)[0] == 7
    assert _skipped(class_tab.follow(student, True))  # no news, nothing sent
    walk_panel.show_step(teacher, 5, *FORM)
    assert _skipped(class_tab.follow(student, False))  # opted out: the page stays where it is
    walk_panel.show_step(teacher, 3, *FORM)
    out = class_tab.follow(student, True)
    assert out[1].selected == "predict" and out[-1].endswith(":3")


def _skipped(out) -> bool:
    """A tick's outputs leave the tab and the walk-through's step as they are."""
    return isinstance(out[1], dict) and isinstance(out[-1], dict) and len(out[1]) == 1


# ------------------------------------------------------------------ over HTTP, as a stranger
@pytest.fixture(scope="module")
def server():
    with served_app() as served:
        yield served


def test_the_walk_events_called_by_strangers_with_hostile_values(server):
    """Every event of the panel by name with hostile values: done or a one-line message, never
    a traceback; the server goes on."""
    events = {"show_step": 14, "back_step": 14, "next_step": 14, "moved": 14, "step_code": 14,
              "go": 1, "switch": 4, "fill": 14, "train_step": 14, "evaluate_step": 4,
              "sweep_step": 5, "done": 2, "answer": 2, "arrive": 15, "folded": 0,
              "unfolded": 0}
    for fn, arity in events.items():
        assert fn in server.fns, fn
        for value in HOSTILE:
            many = arity if len(str(value)) < 50_000 else 3  # (the body cap refuses 14 of them)
            done = call_event(server, fn, ([value] * many + [None] * arity)[:arity])[-1]
            assert done["msg"] == "process_completed", (fn, value)
            if not done["success"]:
                said = done["output"].get("error") or ""
                assert said and "Traceback" not in said and "Error(" not in said, (fn, value, said)
                assert "\n" not in said and "/work" not in said, (fn, value, said)
    for fn, index in (("evaluate_step", 5), ("sweep_step", 8), ("train_step", 2), ("fill", 1),
                      ("switch", 10)):  # the steps where each one acts
        for value in HOSTILE:
            many = events[fn] - 2 if len(str(value)) < 50_000 else 2
            done = call_event(server, fn, ([None, index] + [value] * many + [None] * 14)[:events[fn]])[-1]
            assert done["msg"] == "process_completed", (fn, value)
            said = "" if done["success"] else done["output"].get("error") or ""
            assert done["success"] or (said and "\n" not in said and "Traceback" not in said), (
                fn, value, said)
    shown = call_event(server, "show_step", [None, 4, *FORM])[-1]
    assert shown["success"] and shown["output"]["data"][0] == 4
