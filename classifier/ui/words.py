"""The plain-language words the app shows: header, how-to lines, explanations, status lines."""
from __future__ import annotations

import html
import math
import time

from ..data.own_classes import MAX_IMAGES, MAX_PER_CLASS
from ..models.registry import MODELS
from ..serving.session import MAX_SESSION_MODELS

HEADER = ("# Train an image classifier, live\n"
          "Look at the images, train a neural network while its accuracy curve grows, then draw "
          "or upload a picture and watch its softmax scores answer. Runs on TensorFlow/Keras; "
          "what you train stays in your browser session.")

LAB = ("Train on **1%** of the training images for 30 epochs at a constant learning rate: "
       "training accuracy races towards 100% while validation stalls (the MLP on Fashion-MNIST: "
       "98% against 79%): **overfitting**, seen. Make some labels "
       "**wrong** and watch the model learn the mistakes too. **Dropout** and **weight decay** hold "
       "a model back from memorising. Validation and test images stay whole and correctly "
       "labelled; the settings go into the run's name, so **Compare** puts 100% and 1% on one chart.")

BREAK_IT = ("Change what the model sees and watch its answer. **Sweep** moves one change step "
            "by step and charts the confidence in the answer, for this model and a second one: "
            "an MLP's answer often collapses when the drawing moves a few pixels, where a CNN's "
            "holds. Its filters slide over the whole image: that is why convolutions exist.")

TEST_MAP = ("Each dot is a test image, placed by what the model's last hidden layer makes of it, "
            "squeezed to two dimensions; colours are the true classes, ringed dots the model's "
            "mistakes, the star your drawing. Where a class forms its own island the model tells "
            "it apart; set an MLP beside a CNN to see which keeps the classes further apart.")
MAP_CLICK = "**Click a dot** to see its test image and the model's answer."

HOW = {
    "dataset": "**How to use:** pick a dataset, shuffle the samples, filter one class; or pick "
               "**Your own classes** and make them from your webcam or your files.",
    "train": "**How to use:** pick a model and epochs (or a time: *train for 30 s*), press "
             "**Train**, watch the curves; **Stop** keeps what was learned so far. Try the "
             "**Quick CNN** beside the MLP: it beats it in the same seconds. Each model starts "
             "from settings chosen for accuracy per second; the tutorials' own recipe is batch "
             "32, learning rate 0.001, constant schedule. Your session keeps its latest "
             f"{MAX_SESSION_MODELS} trained runs; older ones are dropped.",
    "predict": "**How to use:** draw with the mouse (white on black), upload an image or press "
               "**Record** on your webcam; the bars answer as you draw. Draw shoes from the side "
               "with the toe to the left, as in Fashion-MNIST.",
    "inside": "**How to use:** draw or upload in **Predict** (or pick a test image here) and see "
              "what every layer of the active model makes of it, and the filters its first layer "
              "learned. After a run of your own, move the epoch slider to watch them form.",
    "evaluate": "**How to use:** pick a model and press **Evaluate** to see it on test images "
                "it never trained on; click a cell of the confusion matrix to see its images.",
    "class": "**A class:** the teacher presses **Start a class** and reads out the code; each "
             "student types it with a nickname and presses **Join**. Every finished run of the "
             "class lands on the board below, best first. The teacher's runs play live on every "
             "student's **Train** tab and become their model; the teacher can send the whole "
             "class to a tab.",
    "compare": "**How to use:** train a few models in the Train tab (try the MLP, then a CNN), "
               "then tick the runs to overlay; switch the x axis to seconds to see what each "
               "extra point of accuracy costs.",
}

WHAT = {
    "dataset": (
        "Each picture is a grid of numbers: 28x28 pixels from 0 (black) to 255 (white) for "
        "Fashion-MNIST and MNIST. A model learns from the **training** images and is judged on "
        "separate **test** images. The bar chart shows whether every class is equally common; "
        "the baseline is what you would score by always guessing the most common class. "
        "Augmentation layers show the model flipped and rotated copies while it trains, so it "
        "cannot just memorise exact pixels."),
    "train": (
        "An **epoch** is one pass over all training images, in small **batches**; after each "
        "batch the weights move a little to reduce the **loss** (how wrong the answers are). "
        "The training curve updates every few batches; the **validation** curve is measured "
        "once per epoch on images held out of training, so it shows how well the model "
        "generalises. Validation accuracy usually lags training accuracy; when training keeps "
        "rising but validation stalls or falls, the model is **overfitting**: memorising the "
        "training images instead of learning what the classes look like."),
    "predict": (
        "Your drawing is cleaned up the way the dataset's images were made (cropped, scaled, "
        "centred, white on black) and shrunk to the 28x28 the model takes: that is 'what the "
        "model sees'. The last layer's **softmax** turns the model's scores into probabilities "
        "that add up to 100%. The model only knows what its training images looked like: every "
        "shoe in Fashion-MNIST points left, so a shoe pointing right may look like something else "
        "to it. A model always answers one of the classes it knows, even for a "
        "drawing of something else: a low top probability is its way of saying it is unsure."),
    "inside": (
        "A **convolution** slides each of its small filters over the image and writes how "
        "strongly each spot matches: one **feature map** a filter, bright where it matched. "
        "Early layers match edges and strokes; **pooling** keeps the strongest response of each "
        "2x2 patch, halving the map; later layers combine maps into parts of objects. **Dense** "
        "layers weigh every value of the layer before; the **scores** at the bottom are the "
        "softmax answer. An MLP has no filters to slide: each hidden neuron weighs every pixel at "
        "once, and its 784 weights, drawn as a 28x28 picture, show what it looks for. The maps "
        "are shown strongest first, on one colour scale a layer, so a dark map is a quiet one."),
    "evaluate": (
        "**Test accuracy** is the share of test images answered correctly. The **confusion "
        "matrix** counts, for each true class (row), which class the model answered (column): "
        "the diagonal is right, everything else shows which classes it mixes up (in "
        "Fashion-MNIST, shirts with T-shirts and pullovers with coats). The most confident "
        "mistakes are often mislabelled or truly ambiguous images."),
    "compare": (
        "Each line is one run's **validation accuracy** after each epoch (the shipped models' "
        "curves were recorded when they were trained; a dotted one is the training accuracy of a "
        "model that trained on every image, as our shipped Fashion-MNIST CNN did). Against **epochs**, it shows which model "
        "learns more per pass over the data; against **seconds**, which gets further for the "
        "same wait. The table adds the size of each model (params), the images it trained on, "
        "and its accuracy on its training images at the end (train acc), on the validation "
        "images at best, and on the test set: a training accuracy far above the validation one "
        "is **overfitting**, the model memorising its training images (try the lab's 1%)."),
}


OWN_HOW = (
    "**Make your own classes**\n"
    "1. Type a class name (*thumbs up*, *mug*...) and press **Add class**: 2 to 10 classes.\n"
    "2. Pick the class to fill, click **Click to Access Webcam** and hold the object in the "
    "middle of the frame: **Capture** adds one image, the webcam's **Record** adds three a second "
    "until **Stop**. Image files (several at once) and pasted images work too.\n"
    "3. At least 5 images a class; 20 or more, from a few angles, work better.\n"
    "4. Open **Train** (the Quick CNN is set for you), then **Predict** answers your webcam "
    "live.\n\n"
    f"Your images stay in this browser tab, at most {MAX_PER_CLASS} a class and {MAX_IMAGES:,} "
    "in all, and are gone when you close it: **Download** keeps them as a zip that you can load "
    "again.")


def own_info(counts: dict[str, int], baseline: float, problem: str | None, nbytes: int) -> str:
    """The Dataset tab's text for the classes made in the tab: their size, the baseline, and
    what training still needs (`problem`) or that it is ready."""
    if not counts:
        return ("**Your own classes**: none yet. Type a name and press **Add class** "
                "(2 to 10 classes).")
    images = sum(counts.values())
    text = (f"**Your own classes: {len(counts)} class{'es' * (len(counts) != 1)}, {images:,} "
            f"image{'s' * (images != 1)}** ({nbytes / 1e6:.1f} MB, kept in this tab only).")
    if images:
        text += (f"  \nAlways answering the largest class would score **{baseline:.1%}**: a "
                 "model must beat that to have learned anything.")
    if problem:
        return text + f"  \n**Not ready to train yet:** {problem}."
    return text + ("  \n**Ready to train:** open the **Train** tab and press **Train** (the Quick "
                   "CNN, 20 epochs at batch 16, takes seconds).")


def own_images_label(name: str | None, count: int) -> str:
    """The label of the picked class's images."""
    if name is None:
        return "Images of the picked class"
    return f"{name}: {count} image{'s' * (count != 1)} (click one, then Delete)"


def model_note(model_key: str, dataset_key: str, pretrained: bool = False) -> str:
    """What to know about training `model_key` here: where MobileNetV2 starts from, and the
    defaults for classes made in the browser."""
    note = ""
    if model_key == "mobilenetv2" and pretrained:
        note += ("  \n*It starts from **ImageNet's weights**: what it learned from 1.2 million "
                 "photos makes 20 photos a class enough.*")
    elif model_key == "mobilenetv2":
        note += ("  \n*Here it starts from **random weights**, not ImageNet's (they are not "
                 "cached and cannot be downloaded here), so it needs thousands of images: for a "
                 "few photos a class, use the Quick CNN.*")
    if dataset_key == "own":
        note += ("  \n*Your own classes: batch 16 and 20 epochs suit a few dozen images. Hold "
                 "each object in the middle of the frame, as in its images.*")
    return note


def upload_prompt(in_use: str) -> str:
    """The Dataset tab's text while "upload" is picked and nothing is uploaded yet."""
    return ("**Upload a zip** with one folder of images per class (2 to 100 classes), e.g. "
            "`cats/1.jpg, dogs/2.jpg`, after choosing what its images become (size and colour). "
            f"Until then **{in_use}** stays in use.")


def refused_dataset(message: str, in_use: str) -> str:
    """The Dataset tab's text when the picked dataset cannot be loaded."""
    return (f"**That dataset cannot be used now.** {message.rstrip('.')}.  \n"
            f"Still using **{in_use}**.")


def pair_line(count: int, true: str, pred: str, shown: int) -> str:
    """The text above a clicked confusion-matrix cell's test images."""
    if count == 0:
        return f"No test image was **{true}** predicted as **{pred}**."
    kind = "right" if true == pred else "wrong"
    were = "image was" if count == 1 else "images were"
    which = "it" if count == 1 else (f"all {count}" if shown == count
                                     else f"the {shown} the model was surest of")
    return (f"**{count:,}** test {were} **{true}** predicted as **{pred}** ({kind}); "
            f"showing {which}.")


def _model_title(key: str) -> str:
    return MODELS[key].title if key in MODELS else key


def progress_bar(done: float, width: int = 10) -> str:
    """How far a run is, in the status line's own text (nothing drawn over the curves):
    "▰▰▰▰▱▱▱▱▱▱ 42%"."""
    done = min(max(float(done), 0.0), 1.0) if math.isfinite(done) else 0.0
    full = int(done * width)
    return f"{'▰' * full}{'▱' * (width - full)} **{done:.0%}**"


def _eta(seconds: float) -> str:
    return "…" if math.isnan(seconds) else f"{seconds:.0f}s"


BEFORE_TRAINING = ("Press **Train** to start. Its accuracy and loss curves grow here as it "
                   "learns, and after each epoch a heat-map shows how well each class is learnt.")


def status_line(points: list[dict], title: str = "") -> str:
    """The live text under the curves: the model training (the form may show another by now),
    how far, epoch, batch, numbers so far, ETA."""
    last = points[-1]
    epochs = [p for p in points if p["kind"] == "epoch"]
    text = ((f"Training **{title}** · " if title else "")
            + f"{progress_bar(last['progress'])} · "
            f"Epoch **{last['epoch']}/{last['epochs']}**"  # a time budget's: an estimate
            + (f", batch {last['step']}/{last['steps']}" if last["kind"] == "batch" else "")
            + f" · {last['seconds']:.0f}s elapsed · ETA {_eta(last['eta'])}")
    if "accuracy" in last:
        text += f"  \ntraining accuracy {last['accuracy']:.3f}, loss {last['loss']:.3f}"
    if epochs and "val_accuracy" in epochs[-1]:
        e = epochs[-1]
        text += (f"  \nvalidation accuracy {e['val_accuracy']:.3f} after epoch {e['epoch']} "
                 f"({e['epoch_seconds']:.1f}s per epoch)")
    return text


def final_line(run, dropped: list[str] = (), shared: int | None = None, share: float = 0) -> str:
    """The text after a run: how it ended, its test accuracy and what to make of it, whether
    it became the active model, and the session runs it pushed out (`Session.dropped`).
    `shared`: the trainings that were waiting when the run gave its trainer up after `share` s."""
    r, ev = run.result, run.evaluation
    head = {"stop requested": "Stopped as you asked", "time limit": "Stopped at the time limit"}
    text = head.get(r.stopped, "Done")
    if shared is not None and r.stopped == "stop requested":
        text = (f"Stopped to let others train ({shared} waited for a trainer; while others "
                f"wait, runs take turns of up to {_duration(share)})")
    budget = run.settings.seconds
    if budget and not r.stopped:  # a time budget, spent: say how far it got in that time
        epochs = r.epochs_done + (r.stopped_in[1] / r.stopped_in[2] if r.stopped_in else 0)
        text += f": {budget:g}s of training as planned ({epochs:.1f} epochs, {r.seconds:.1f}s)"
    else:
        if r.stopped_in:
            text += " in epoch {} at batch {}/{}".format(*r.stopped_in)
        done = r.epochs_done
        text += f" after {done} complete epoch{'s' * (done != 1)}, {r.seconds:.0f}s"
    text += f" ({_model_title(run.model_key)}, {run.dataset.title})"  # the run's, not the form's
    text += f". **Test accuracy {ev.accuracy:.2%}** on {len(ev.y_true):,} test images."
    if ev.near_chance():
        text += (f"  \n**That is chance level** (always answering the largest class scores "
                 f"{ev.baseline:.2%}): {chance_cause(run)} This run is listed in Predict and "
                 f"Evaluate but was not made the active model.")
    else:
        text += batch_norm_note(run) + "  \nThis model is now active in Predict and Evaluate."
    if dropped:
        text += (f"  \nYour session keeps its latest {MAX_SESSION_MODELS} runs: "
                 f"{', '.join(dropped)} {'is' if len(dropped) == 1 else 'are'} gone from "
                 f"Predict, Evaluate and Compare.")
    return text


def chance_cause(run) -> str:
    """Why a run that ended at chance level most likely failed, and what to try."""
    from ..models.registry import DEFAULT_LEARNING_RATES
    from ..training.loop import initial_learning_rate
    opt = type(run.model.optimizer).__name__.lower()
    rate, usual = initial_learning_rate(run.model), DEFAULT_LEARNING_RATES.get(opt, 1e-3)
    losses = run.result.history.get("loss", [])
    if run.result.epochs_done == 0 and run.result.stopped:
        return "it stopped before one complete epoch; train longer."
    if rate >= 20 * usual or not all(math.isfinite(v) for v in losses):
        return (f"the learning rate {rate:g} is most likely too high for {opt}: each step "
                f"overshoots and the loss cannot fall. Try {usual:g} (or 0, the recipe's own).")
    if rate <= usual / 100:
        return (f"the learning rate {rate:g} is most likely too low for {opt}: the weights "
                f"barely moved. Try {usual:g} (or 0, the recipe's own).")
    return ("the model learned nothing useful; try more epochs, the recipe's own settings "
            "(optimizer and learning rate) or another model.")


def batch_norm_note(run) -> str:
    """Why a stopped batch-norm model tests far below its training accuracy, or ''."""
    train_acc = (run.result.history.get("accuracy") or [math.nan])[-1]
    if not (run.result.stopped and _trains_batch_norm(run.model)
            and train_acc - run.evaluation.accuracy > 0.15):
        return ""
    when = "a partial epoch" if run.result.stopped_in else "a run stopped early"
    return (f"  \n*Why below the training accuracy ({train_acc:.2f}): at test time the "
            f"batch-norm layers use running averages of what they saw in training, and after "
            f"{when}, with the weights still changing fast, those averages have not settled. "
            f"A full run (the learning rate decays at its end) closes the gap.*")


def _trains_batch_norm(model) -> bool:
    """True if a trainable BatchNormalization layer is in `model` (nested models included)."""
    return any(layer.trainable and (type(layer).__name__ == "BatchNormalization"
                                    or _trains_batch_norm(layer))
               for layer in getattr(model, "layers", []))


KNOWN = {"mnist": "digits", "fashion_mnist": "garments"}  # what a dataset's images are


def top_line(prediction, low: float, dataset: str | None = None) -> str:
    """The top three answers, and a word when the model is unsure: "I am not sure" from its
    calibrated threshold (calibration.py) where it has one, else a low top probability."""
    top = prediction.top(3)
    text = "  \n".join(f"{i + 1}. **{name}** {p:.1%}" for i, (name, p) in enumerate(top))
    if prediction.unsure:
        text += (f"  \n**I am not sure**: this does not look like the {KNOWN.get(dataset, 'images')}"
                 " I was trained on.")
    elif top[0][1] < low:
        text += f"  \n*Low confidence: the model is unsure ({top[0][1]:.0%}).*"
    return text


def shrunk_line(raw, cleaned) -> str:
    """The answer on the image merely shrunk to 28x28, beside the cleaned-up one's."""
    same = "the same answer" if raw.label == cleaned.label else "a different answer"
    return (f"  \nWithout the clean-up (merely shrunk): **{raw.label}** "
            f"{raw.probabilities[raw.label]:.1%}, {same}.")


def why_line(method: str, label: str) -> str:
    """What the saliency picture shows."""
    how = ("where the last convolution layer's features pushed the score up (Grad-CAM)"
           if method == "Grad-CAM" else "pixel brightness times how much each pixel moves the score")
    return f"  \n*Why {label}: bright means {how}.*"


def waiting_line(ahead: int, slots: int, estimate: float | None = None) -> str:
    """The status while a training waits for one of the server's trainers: its place, and
    when it should start (from recent runs' lengths, once there are some)."""
    where = "next in line" if ahead == 0 else f"{ahead} training{'s' if ahead != 1 else ''} ahead"
    when = ("" if estimate is None else "; it should start any moment now (the run ahead is "
            "finishing)" if estimate < 2.5 else f"; it should start in about {_duration(estimate)}")
    return (f"**Waiting for a free trainer** ({slots} trainings run at a time on this server; "
            f"{where}{when}). It starts by itself; keep this page open.")


LEFT_THE_LINE = "You left the line: press **Train** when you want to train."


def released_line(idle_seconds: float) -> str:
    """What a page hears when it comes back after the server let its idle session go."""
    return (f"This page was idle for {_duration(idle_seconds)}, so the server let its session go "
            "(your models and images) to make room for others: reload the page to start again.")


def _duration(seconds: float) -> str:
    seconds = max(5, int(round(seconds / 5.0)) * 5)  # to 5 s: an estimate, not a promise
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


def starting_line(model_title: str, dataset_title: str) -> str:
    """The status as a run starts, before its first numbers."""
    return f"Starting **{model_title}** on **{dataset_title}**: building the model..."


def changed_line(class_names: list[str], probabilities) -> str:
    """The answer to the changed image: its top three classes."""
    order = sorted(range(len(class_names)), key=lambda k: -probabilities[k])[:3]
    top = ", ".join(f"{class_names[k]} {probabilities[k]:.0%}" for k in order[1:])
    return (f"Changed, it reads **{class_names[order[0]]} {probabilities[order[0]]:.0%}**"
            + (f" (then {top})" if top else "") + ".")


def class_where(member, ends: float | None) -> str:
    """The Class tab's line once in a class (HTML: the nickname escaped, never markup)."""
    hours = (ends - time.time()) / 3600 if ends else 0
    until = (f" It ends in {hours:.0f} hours." if hours >= 1.5 else
             " It ends within the hour." if ends else "")
    code = f"<span style='font-size:1.6em;font-weight:700;letter-spacing:0.08em'>" \
           f"{member.shown_code}</span>"
    if member.teacher:
        return (f"<p>You lead class {code}.{until}</p><p>Students open this page, go to the "
                f"<b>Class</b> tab and type the code with a nickname, or open "
                f"<a href='?class={member.code}'>the students' link</a>. "
                f"<a href='?class={member.code}&amp;teacher={html.escape(member.secret)}'>Your "
                f"teacher's link</a> opens this class as its teacher on any browser: keep it to "
                f"yourself.</p><p>Your runs play live on every student's Train tab and become "
                f"their model when they end.</p>")
    return (f"<p>You are in class {code} as <b>{html.escape(member.nickname)}</b>.{until}</p>"
            f"<p>Your finished runs go on the board below; your teacher's runs play on your "
            f"Train tab and become your model when they end.</p>")


def teacher_run_line(status: str) -> str:
    """A student's Train status while the teacher's run plays there."""
    return f"**Your teacher's run** · {status}"


def board_settings(run) -> str:
    """A run's settings in a few words, for the class's board."""
    s = run.settings
    epochs = run.result.epochs_done
    parts = [f"{s.seconds:g} s" if s.seconds else f"{epochs} epoch{'s' * (epochs != 1)}",
             f"batch {s.batch_size}"]
    if s.learning_rate:
        parts.append(f"lr {s.learning_rate:g}")
    if s.data_share < 1:
        parts.append(f"{s.data_share:.0%} of the images")
    if s.label_noise:
        parts.append(f"{s.label_noise:.0%} wrong labels")
    return ", ".join(parts)
