"""The walk-through: the lectures' path through the app in eleven steps (issue 25).

Each step has a few plain sentences, a question to answer before its result, the answer, the tab
it happens in, what its button does (opens the tab, fills the Train form, or trains), and the
Keras code it runs: parts of the take-home script (`export/take_home.py`) generated for the
step's settings, so the code shown is the code a student takes home, never a second copy. No
Gradio here: the page is `ui/walk_panel.py`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ..core.dataset import Dataset
from ..export.take_home import plan_script, script_parts
from ..models.registry import MODELS
from .train_form import train_settings

# The Train form's fields, in the form's order (ui/train_tab.py), and what each takes.
FORM_FIELDS = ("model", "epochs", "batch", "optimizer", "lr", "schedule", "validation",
               "seconds", "data", "wrong", "dropout", "decay")
# what a step's button does: open its tab; fill the Train form; fill it and train; evaluate the
# active model; sweep a shift of the latest drawing for two models
OPEN, FILL, TRAIN, EVALUATE, SWEEP = "open", "fill", "train", "evaluate", "sweep"


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    text: str  # two to four plain sentences (Markdown)
    question: str
    choices: tuple[str, ...]
    answer: str  # shown once the step's button has done its work
    tab: str  # the page's tab id where it happens
    action: str  # OPEN, FILL, TRAIN, EVALUATE or SWEEP
    button: str
    code: tuple[str, ...]  # names of the take-home script's parts: functions and constants
    form: dict = field(default_factory=dict)  # FORM_FIELDS name -> value, the rest as the form has it
    dataset: str | None = None  # the dataset the step is about (its button picks it)
    right: int = 0  # the right one of `choices`


STEPS: tuple[Step, ...] = (
    Step("data", "The data",
         "Fashion-MNIST: 70,000 small grey photos of clothes, 28 × 28 pixels, in **10 classes**: "
         "60,000 to learn from and 10,000 kept aside to test. Every class has as many photos as "
         "the others. A network sees only the pixels (784 numbers from 0 to 255) and the label.",
         "A network that only guesses, without looking, is right how often?",
         ("1 time in 2 (50%)", "1 time in 10 (10%)", "1 time in 100 (1%)"),
         "**1 time in 10 (10%)**: ten classes of the same size, so a guess is right one time "
         "in ten. That is *chance*; every accuracy from now on is measured against it.",
         "dataset", OPEN, "Show me the data", ("CLASS_NAMES", "load_data", "class_counts"),
         dataset="fashion_mnist", right=1),
    Step("mlp", "A first network: the MLP",
         "The lectures' first network **flattens** the 28 × 28 photo into one row of 784 "
         "numbers, passes it through **128 neurons** (a Dense layer), and ends in **10 "
         "neurons**, one for each class. Each neuron multiplies what it reads by its weights and "
         "adds them up; training will set those weights.",
         "How many weights (numbers to learn) does this network have?",
         ("about 1,000", "about 100,000", "about 10 million"),
         "**About 100,000: 101,770.** The first layer has 784 × 128 weights plus 128 biases; the "
         "last 128 × 10 plus 10. Almost all of them sit between the pixels and the 128 neurons.",
         "train", FILL, "Put the MLP in the Train form", ("build_model",),
         form={"model": "mlp"}, dataset="fashion_mnist", right=1),
    Step("train", "Train it, live",
         "Training shows the network the photos in small **batches**; after each batch it nudges "
         "every weight so that its answers are a little less wrong (the **loss** falls). One "
         "pass over all the photos is an **epoch**. Blue is accuracy on the photos it learns "
         "from, orange on photos it never learns from (validation).",
         "After 5 epochs, how often will it be right on test photos it never saw?",
         ("about 50%", "about 70%", "about 88%", "100%"),
         "**About 88%** (your run says its own figure under the curves): far above the 10% of "
         "guessing, but not perfect. Shirts, T-shirts, pullovers and coats look alike at 28 × 28.",
         "train", TRAIN, "Train the MLP", ("EPOCHS", "BATCH_SIZE", "LEARNING_RATE",
                                           "compile_model", "train"),
         form={"model": "mlp", "seconds": 0, "data": 100, "wrong": 0}, dataset="fashion_mnist",
         right=2),
    Step("softmax", "Logits and softmax",
         "The last layer gives one number per class, the **logits**: any size, positive or "
         "negative. **Softmax** turns them into scores that are all positive and add up to "
         "100%: it takes *e* to the power of each number and divides by their sum, so the "
         "biggest logit gets the biggest share. The bars in **Predict** are these scores.",
         "If the logits of Trouser and Dress are 4 and 2, how many times likelier does softmax "
         "make Trouser?",
         ("2 times", "about 7 times", "100 times"),
         "**About 7 times**: e⁴ / e² = e² ≈ 7.4. Softmax cares only about the *differences* "
         "between logits: add 10 to every logit and the scores do not change.",
         "predict", OPEN, "Open Predict", ("logits", "softmax"), right=1),
    Step("draw", "Draw and predict",
         "Draw a piece of clothing with the mouse or a finger, **white on black** like the "
         "training photos (shoes from the side, toe to the left). The bars answer as you draw: "
         "the softmax scores of your active model.",
         "Will it read your drawing as well as the test photos?",
         ("just as well", "less well"),
         "**Less well**, usually: it learned from photos of real clothes, centred and filling "
         "the frame. A drawing like them (thick, centred, filled in) does best; the app cleans a "
         "drawing up first to help, and says *not sure* when no class stands out.",
         "predict", OPEN, "Open Predict", ("predict",), right=1),
    Step("evaluate", "Evaluate: where does it go wrong?",
         "The **confusion matrix** counts the 10,000 test photos: a row for the true class, a "
         "column for the network's answer. The diagonal is right; every other cell is a "
         "mistake. Click a cell to see its photos.",
         "Which two classes will it mix up most?",
         ("Sneaker and Bag", "Shirt and T-shirt/top", "Trouser and Sandal"),
         "**Shirt and T-shirt/top** (and Shirt with Pullover and Coat): at 28 × 28 pixels they "
         "look alike. Click that cell: some of the labels are hard even for a person.",
         "evaluate", EVALUATE, "Evaluate the active model", ("confusion_matrix",), right=1),
    Step("overfit", "Overfitting: learning by heart",
         "With only **1%** of the photos, a network can learn each one by heart: training "
         "accuracy climbs towards 100% while validation stops climbing. That gap is "
         "**overfitting**: it remembers photos instead of learning what a shirt looks like.",
         "Trained on 1% of the photos for 30 epochs, where do the two curves end?",
         ("together, near 88%", "training near 100%, validation far below", "both near 10%"),
         "**Training near 100%, validation far below**: measured here, 98% against 79% after "
         "30 epochs, and the validation loss climbs again after epoch 10. More photos close "
         "the gap; dropout and weight decay (in the **Lab**) narrow it.",
         "train", TRAIN, "Train on 1% for 30 epochs", ("DATA_SHARE", "EPOCHS", "lab"),
         form={"model": "mlp", "epochs": 30, "seconds": 0, "data": 1, "wrong": 0,
               "schedule": "constant"}, dataset="fashion_mnist", right=1),
    Step("cnn", "A CNN beats the MLP in the same time",
         "A **convolutional** network (CNN) slides small filters over the photo, so a pattern "
         "is found wherever it is. The Quick CNN trains for 30 seconds here; then **Compare** "
         "puts it beside your MLP on a seconds axis.",
         "Given the same 30 seconds, will the CNN beat the MLP?",
         ("yes", "no, the MLP is faster", "they tie"),
         "**Yes**, though not by much in 30 s: measured here with 30 s each, the Quick CNN "
         "reached 90.2% and the MLP 89.2%. Tick both in **Compare** and switch the x axis to "
         "seconds; the longer they train, the further the CNN pulls ahead.",
         "train", TRAIN, "Train the Quick CNN for 30 s", ("build_model",),
         form={"model": "cnn_quick", "seconds": 30, "data": 100, "wrong": 0},
         dataset="fashion_mnist", right=0),
    Step("breaks", "What breaks it",
         "Move your drawing a few pixels and watch the answer. The sweep (in **Predict**, "
         "under **What breaks it**) shifts your drawing from 8 pixels left to 8 right and "
         "charts how sure your model and a second one stay of their answer.",
         "Shifted 4 pixels to the right, whose answer holds: the MLP's or the CNN's?",
         ("the MLP's", "the CNN's", "both", "neither"),
         "**The CNN's**, usually: the MLP learned each pixel's place, so its answer collapses "
         "when the photo moves; the CNN's filters slide, so its answer holds.",
         "predict", SWEEP, "Sweep a shift of my drawing", ("shifted",), right=1),
    Step("inside", "Inside the network",
         "Each layer turns the image into new images (**feature maps**) or numbers. The first "
         "layer's filters are small patterns it learned; early maps light up at edges, later "
         "ones at parts such as sleeves or heels.",
         "What does a first-layer filter look for?",
         ("a whole shoe", "edges and strokes", "colours"),
         "**Edges and strokes**: small patterns. Later layers combine them into bigger parts, "
         "and the last one into a class.",
         "inside", OPEN, "Open Inside the network", ("layer_outputs",), right=1),
    Step("own", "Your own classes",
         "Make classes of your own: pick **Your own classes** in **Dataset**, hold things up to "
         "the webcam (a cup, a pen, your hand), 20 or so photos each, and train the Quick CNN "
         "on them. It needs only to tell apart what you showed it.",
         "Trained on a cup and a pen, what does it say when you show it a banana?",
         ("banana", "cup or pen, and often sure of it", "nothing"),
         "**Cup or pen**: a classifier knows only the classes it was given, and softmax always "
         "adds up to 100%. The app says *not sure* when no class stands out, but a confident "
         "wrong answer is common.",
         "dataset", OPEN, "Make your own classes", ("load_images", "build_model"),
         form={"model": "cnn_quick"}, dataset="own", right=1),
)
KEYS = tuple(step.key for step in STEPS)


def step_at(index) -> Step:
    """The step at `index` (0-based), any value clamped to the steps there are."""
    try:
        i = int(index)
    except (TypeError, ValueError, OverflowError):
        i = 0
    return STEPS[min(max(i, 0), len(STEPS) - 1)]


def index_of(key) -> int:
    return KEYS.index(key) if key in KEYS else 0


def step_form(step: Step, form: list, defaults=None) -> list:
    """The Train form's values once the step has set its own: `form` in FORM_FIELDS order.
    A step that picks another model than the form's starts from that model's (epochs, batch
    size), from `defaults(model_key)` (else the registry's), unless it says its own."""
    values = dict(zip(FORM_FIELDS, form))
    model = step.form.get("model")
    if model is not None and model != values.get("model"):
        values["epochs"], values["batch"] = (defaults or _defaults)(model)
    values.update(step.form)
    return [values.get(name) for name in FORM_FIELDS]


def _defaults(model_key: str) -> tuple[int, int]:
    spec = MODELS[model_key]
    return spec.default_epochs, spec.batch_size


def code(step: Step, dataset: Dataset, form: list, defaults=None) -> str:
    """The Keras code of `step` for `dataset` and the form's values (after the step's own): the
    take-home script's parts it names, constants first. A form the Train tab would refuse
    gives the model's own settings."""
    values = step_form(step, form, defaults)
    if not isinstance(values[0], str) or values[0] not in MODELS:
        values[0] = "mlp"
    try:
        settings = train_settings(*values)
    except ValueError:
        settings = train_settings(values[0], *_defaults(values[0]), *_PLAIN)
    key = (step.code, dataset.key, tuple(dataset.class_names), tuple(dataset.image_shape),
           values[0], repr(settings.to_dict()))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    parts = script_parts(plan_script(dataset, values[0], settings))  # builds the model: ~50 ms
    found = [parts[name] for name in step.code if name in parts]
    constants = [p for p in found if not p.startswith("def ")]
    functions = [p for p in found if p.startswith("def ")]
    text = "\n\n\n".join(filter(None, ["\n".join(constants), *functions])) + "\n"
    with _LOCK:
        _CACHE[key] = text
        while len(_CACHE) > CACHED:
            _CACHE.popitem(last=False)
    return text


_PLAIN = ("recipe's own", 0, "cosine", 0.1, 0, 100, 0, "the recipe's own", "off")
CACHED = 256  # codes kept (a few kilobytes each)
_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()
