"""Issue 12 in headless Chromium: inside the network, the map of the test set, what breaks a
model, and the lab's overfitting run, driven as a student would. Screenshots go to
docs/screenshots/ (inside, inside-map, break-it, lab-compare). Issue 26 (11, 18): the layers in
words, text a projector shows readably, a sentence in each picture's place until it exists."""
# ruff: noqa: F811 (the fixtures imported from test_browser are the tests' arguments)
from __future__ import annotations

import io
import re

import pytest
from test_browser import (  # noqa: F401
    CHROMIUM,
    LOAD_TIMEOUT,
    TRAIN_TIMEOUT,
    app_url,
    block,
    browser,
    choose,
    draw_shoe,
    expect,
    inside,
    no_error_toast,
    open_tab,
    page,
    predict_panel,
    screenshot,
    settled,
)

pytestmark = pytest.mark.browser

RAW = re.compile(r"\w_\w|conv2d|re_?lu_|dense|pooling2d|batch_normalization|Conv1", re.I)
READABLE = 14  # px on screen: text a class reads on a projector


def tile(model, kind: str, classes: int = 10) -> tuple[float, float, str]:
    """(x, y) of the first tile of `model`'s first `kind` view in its network picture, and that
    view's title: the picture's layout depends on the layers' shapes only."""
    import numpy as np

    from classifier.views.inside import layer_views
    from classifier.views.network_pictures import network_picture
    views = layer_views(model, np.zeros((1, *model.input_shape[1:]), np.float32))
    picture = network_picture(views, [f"class {k}" for k in range(classes)])
    x0, y0, x1, y1, view, _ = next(b for b in picture.boxes if views[b[4]].kind == kind)
    return (x0 + x1) / 2, (y0 + y1) / 2, views[view].title


def scale(image) -> float:
    """How much smaller than its natural size `image` shows its picture (<= 1)."""
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    box = image.bounding_box()
    return min(box["width"] / width, box["height"] / height, 1)


def enlarge(panel, network, at: tuple[float, float, str]) -> None:
    """Click tile `at` of the network picture: the hint gives way to that map enlarged, labelled
    in words (the figure's title, drawn in the picture, is tested in test_inside_tab.py)."""
    hint = panel.get_by_text("Click a map in the network picture to see it enlarged here.")
    expect(hint).to_be_visible()
    expect(panel.locator("[data-testid=matplotlib] img")).to_have_count(0)
    network.click(position=on_screen(network, at[0], at[1]))
    expect(panel.locator("[data-testid=matplotlib] img")).to_have_count(1, timeout=20_000)
    expect(hint).to_be_hidden()
    label = panel.locator("[data-testid=block-label], [data-testid=block-info]",
                          has_text=re.compile(r"^\s*Enlarged: "))
    expect(label).to_contain_text(f"Enlarged: {at[2]}, ")
    assert not RAW.search(label.inner_text()), label.inner_text()


def pixels(element) -> bytes:
    """What `element` shows on screen, as PNG bytes (two equal pictures give equal bytes)."""
    return element.screenshot()


def on_screen(image, x: float, y: float) -> dict:
    """Where pixel (x, y) of `image`'s picture lies in its element, which shows it scaled to fit
    and centred (as Gradio's click coordinates assume)."""
    width, height = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    box = image.bounding_box()
    r = min(box["width"] / width, box["height"] / height, 1)
    return {"x": (box["width"] - width * r) / 2 + x * r, "y": (box["height"] - height * r) / 2 + y * r}


def set_number(panel, label: str, value) -> None:
    box = panel.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))


def train(page, epochs: int, run: int, share: int | None = None):
    """The MLP for `epochs`, on `share`% of the images when given, as the page's run number
    `run`; waits for its end."""
    panel = open_tab(page, "Train")
    expect(panel.get_by_text(re.compile(r"[\d,]+ parameters for Fashion-MNIST"))).to_be_visible(
        timeout=LOAD_TIMEOUT)
    settled(page)  # the load chain's model defaults (epochs 5) arrive before the form is filled
    set_number(panel, "Epochs", epochs)
    if share is not None:
        panel.get_by_text("Lab: make it overfit, or hold it back").click()
        expect(panel.get_by_label("number input for Train on this share")).to_be_visible()
        page.wait_for_timeout(1000)  # the accordion renders its contents as it opens
        set_number(panel, "Train on this share", share)
    panel.get_by_role("button", name="Train", exact=True).click()
    header = page.locator("strong", has_text=re.compile(rf"^#{run} Fashion-MNIST"))
    expect(header).to_be_visible(timeout=TRAIN_TIMEOUT)  # this run's end, not the last one's
    return panel


def drawn_then_inside(page, model):
    """A shoe drawn in Predict for `model`, answered; then the Inside tab's panel."""
    panel, canvas, answers = predict_panel(page, model)
    draw_shoe(page, canvas)
    expect(answers).to_have_count(3, timeout=60_000)  # a new run's first answer builds its model
    return open_tab(page, "Inside the network")


def test_inside_shows_every_layer_and_the_filters_form_epoch_by_epoch(page):
    train(page, 3, run=1)
    panel = drawn_then_inside(page, re.compile(r"^#1 "))
    caption = panel.get_by_text(re.compile(r"looking at your drawing or upload"))
    expect(caption).to_be_visible(timeout=30_000)
    network = block(panel, "Every layer's response").locator("img")
    expect(network).to_be_visible()
    assert network.evaluate("img => img.naturalWidth") > 900
    filters = block(panel, "What the first layer looks for").locator("img")
    expect(filters).to_be_visible()
    expect(panel.get_by_text(re.compile(r"128 hidden neurons|128 neurons"))).to_be_visible()
    last = pixels(filters)
    slider = panel.get_by_label("number input for Weights after epoch")
    expect(slider).to_have_value("3")
    expect(panel.get_by_text(re.compile(r"weights after the last epoch \(3\), looking at"))
           ).to_be_visible()
    slider.fill("1")
    slider.press("Enter")
    expect(panel.get_by_text(re.compile(r"weights after epoch 1 of 3, looking at"))
           ).to_be_visible(timeout=20_000)
    page.wait_for_timeout(500)
    assert pixels(filters) != last  # the filters as they were after the first epoch
    # a click on a feature map (here the hidden layer's strip) enlarges it
    from classifier.models.registry import build_model
    at = tile(build_model("mlp", (28, 28, 1), 10), "dense")
    assert at[2] == "Hidden layer (128 neurons)"
    enlarge(panel, network, at)
    # the test-set map at the slider's epoch says which epoch's weights it shows
    panel.get_by_role("button", name="Draw the map").click()
    expect(panel.get_by_text(re.compile(r"The map uses .*#1 .* with its weights after epoch 1 "
                                        r"of 3 \(the epoch slider above\)"))).to_be_visible(
        timeout=60_000)
    no_error_toast(page)
    screenshot(page, "inside-mlp")


def test_a_cnns_feature_maps_enlarge_on_a_click(page):
    panel = drawn_then_inside(page, "Fashion-MNIST: our CNN (shipped)")
    expect(panel.get_by_text(re.compile(r"our CNN \(shipped\)\*\*, looking at|our CNN \(shipped\), looking at"))
           ).to_be_visible(timeout=30_000)
    network = block(panel, "Every layer's response").locator("img")
    expect(network).to_be_visible()
    assert inside(network.bounding_box(), panel.bounding_box())  # fits its panel at 1280 px
    # its headings readable on a projector: FONT px letters, shown scaled to the panel
    from classifier.serving.session import shipped_predictor
    from classifier.views.network_pictures import FONT, TITLE_PT
    shown = FONT * scale(network)
    assert shown >= READABLE, f"the headings show at {shown:.1f} px at 1280 px wide"
    model = shipped_predictor("Fashion-MNIST: our CNN (shipped)").trained
    at = tile(model, "conv")
    assert at[2] == "1st block: convolution"
    enlarge(panel, network, at)  # the first conv's strongest map
    enlarged = panel.locator("[data-testid=matplotlib] img")
    assert enlarged.evaluate("img => img.naturalWidth") > 300
    title = TITLE_PT * 100 / 72 * scale(enlarged)  # points at the figure's 100 dpi
    assert title >= READABLE, f"the enlarged map's title shows at {title:.1f} px"
    panel.get_by_role("button", name="Another test image").click()
    expect(panel.get_by_text(re.compile(r"looking at test image [\d,]+: a "))).to_be_visible(timeout=20_000)
    expect(enlarged).to_have_count(0)  # a new input: the old map goes, the hint comes back
    enlarge(panel, network, at)
    no_error_toast(page)
    screenshot(page, "inside")


def test_a_sweep_charts_the_mlp_failing_under_shift_where_the_cnn_holds(page):
    panel, canvas, answers = predict_panel(page, "Fashion-MNIST: MLP (shipped)")
    draw_shoe(page, canvas)
    expect(answers).to_have_count(3, timeout=30_000)
    panel.get_by_text("What breaks it?").click()
    second = panel.get_by_label("…for a second model too")
    expect(second).to_have_value("Fashion-MNIST: our CNN (shipped)", timeout=20_000)
    set_number(panel, "shift right (px)", 4)
    changed = panel.get_by_text(re.compile(r"^Changed, it reads"))
    expect(changed).to_be_visible(timeout=20_000)
    panel.get_by_role("button", name="Sweep", exact=True).click()
    chart = panel.locator("[data-testid=matplotlib] img")
    expect(chart).to_have_count(1, timeout=30_000)
    expect(block(panel, "The images it swept").last.locator("img")).to_be_visible()
    no_error_toast(page)
    screenshot(page, "break-it")


def test_a_one_percent_run_overfits_beside_the_full_one_in_compare(page):
    train(page, 2, run=1)
    train(page, 20, run=2, share=1)
    panel = open_tab(page, "Compare")
    table = panel.get_by_role("grid", name=re.compile("^The runs"))
    small = table.get_by_role("row", name=re.compile(r"^#2 .*1% of the data"))
    expect(small).to_have_count(1, timeout=30_000)
    expect(small).to_contain_text(" 600 ")  # its training images
    train_acc, best_val, _ = (float(v) for v in re.findall(r"([\d.]+)%", small.inner_text())[-3:])
    assert train_acc - best_val >= 10, small.inner_text()  # overfitting: it memorised the 600
    expect(table.get_by_role("row", name=re.compile(r"^#1 .* 54,000 "))).to_have_count(1)
    no_error_toast(page)
    screenshot(page, "lab-compare")


def test_the_map_places_the_drawing_and_a_click_shows_a_test_image(page):
    panel = drawn_then_inside(page, "Fashion-MNIST: our CNN (shipped)")
    expect(panel.get_by_label("Beside it, another model")).to_have_value(
        "Fashion-MNIST: MLP (shipped)", timeout=20_000)
    map_hint = panel.get_by_text("2,000 test images appear here, one dot each.")
    point_hint = panel.get_by_text("Click a dot of the map to see its test image here.")
    expect(map_hint).to_be_visible()  # a sentence where the map will be, no empty box
    expect(point_hint).to_be_visible()
    expect(block(panel, "2,000 test images")).to_be_hidden()
    expect(block(panel, "The clicked test image")).to_be_hidden()
    panel.get_by_role("button", name="Draw the map").click()
    shown = block(panel, "2,000 test images").locator("img")
    expect(shown).to_be_visible(timeout=60_000)
    expect(map_hint).to_be_hidden()
    natural = shown.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural[0] >= 1000  # two panels side by side
    # click where dots are: find a non-white, non-grey pixel in the left panel from the picture
    from PIL import Image
    picture = Image.open(io.BytesIO(shown.screenshot())).convert("RGB")
    w, h = picture.size
    spot = next((x, y) for y in range(h // 4, 3 * h // 4, 3) for x in range(w // 20, w // 2, 3)
                if max(picture.getpixel((x, y))) - min(picture.getpixel((x, y))) > 80)
    shown.click(position={"x": spot[0], "y": spot[1]})
    expect(panel.get_by_text(re.compile(r"Test image [\d,]+: an? .*, answered .* \(\d+%\)"))
           ).to_be_visible(timeout=20_000)
    expect(block(panel, "The clicked test image").locator("img")).to_be_visible()
    expect(point_hint).to_be_hidden()
    no_error_toast(page)
    screenshot(page, "inside-map")
