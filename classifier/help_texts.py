"""The plain-language words the app shows: header, how-to lines, explanations, status lines."""
from __future__ import annotations

import math

HEADER = ("# Train an image classifier, live\n"
          "Look at the images, train a neural network while its accuracy curve grows, then draw "
          "or upload a picture and watch its softmax scores answer. Runs on TensorFlow/Keras; "
          "what you train stays in your browser session.")

HOW = {
    "dataset": "**How to use:** pick a dataset, shuffle the samples, filter one class.",
    "train": "**How to use:** pick a model and epochs, press **Train**, watch the curves; "
             "**Stop** keeps what was learned so far.",
    "predict": "**How to use:** draw with the mouse (white on black) or upload an image; "
               "the bars answer as you draw. Draw shoes from the side with the toe to the "
               "left, as in Fashion-MNIST.",
    "evaluate": "**How to use:** pick a model and press **Evaluate** to see it on test images "
                "it never trained on; click a cell of the confusion matrix to see its images.",
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
    "evaluate": (
        "**Test accuracy** is the share of test images answered correctly. The **confusion "
        "matrix** counts, for each true class (row), which class the model answered (column): "
        "the diagonal is right, everything else shows which classes it mixes up (in "
        "Fashion-MNIST, shirts with T-shirts and pullovers with coats). The most confident "
        "mistakes are often mislabelled or truly ambiguous images."),
    "compare": (
        "Each line is one run's **validation accuracy** after each epoch (the shipped models' "
        "curves were recorded when they were trained). Against **epochs**, it shows which model "
        "learns more per pass over the data; against **seconds**, which gets further for the "
        "same wait. The table adds the size of each model (parameters) and its test accuracy."),
}


def _eta(seconds: float) -> str:
    return "…" if math.isnan(seconds) else f"{seconds:.0f}s"


def status_line(points: list[dict]) -> str:
    """The live text under the curves: epoch, batch, numbers so far, ETA."""
    last = points[-1]
    epochs = [p for p in points if p["kind"] == "epoch"]
    text = (f"Epoch **{last['epoch']}/{last['epochs']}**"
            + (f", batch {last['step']}/{last['steps']}" if last["kind"] == "batch" else "")
            + f" · {last['seconds']:.0f}s elapsed · ETA {_eta(last['eta'])}")
    if "accuracy" in last:
        text += f"  \ntraining accuracy {last['accuracy']:.3f}, loss {last['loss']:.3f}"
    if epochs and "val_accuracy" in epochs[-1]:
        e = epochs[-1]
        text += (f"  \nvalidation accuracy {e['val_accuracy']:.3f} after epoch {e['epoch']} "
                 f"({e['epoch_seconds']:.1f}s per epoch)")
    return text


def final_line(run) -> str:
    r = run.result
    why = {"stop requested": "Stopped as you asked", "time limit": "Stopped at the time limit"}
    head = why.get(r.stopped, "Done")
    return (f"{head} after {r.epochs_done} epoch(s), {r.seconds:.0f}s. **Test accuracy "
            f"{run.evaluation.accuracy:.2%}** on {len(run.evaluation.y_true):,} test images. "
            f"This model is now active in Predict and Evaluate.")


def top_line(prediction, low: float) -> str:
    top = prediction.top(3)
    text = "  \n".join(f"{i + 1}. **{name}** {p:.1%}" for i, (name, p) in enumerate(top))
    if top[0][1] < low:
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
