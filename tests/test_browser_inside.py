"""Issue 12 in headless Chromium: inside the network, the map of the test set, what breaks a
model, and the lab's overfitting run, driven as a student would. Screenshots go to
docs/screenshots/ (inside, inside-map, break-it, lab-compare)."""
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
    no_error_toast,
    open_tab,
    page,
    predict_panel,
    screenshot,
)

pytestmark = pytest.mark.browser


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
    expect(answers).to_have_count(3, timeout=30_000)
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
    slider.fill("1")
    slider.press("Enter")
    expect(panel.get_by_text(re.compile(r"after epoch 1, looking at"))).to_be_visible(timeout=20_000)
    page.wait_for_timeout(500)
    assert pixels(filters) != last  # the filters as they were after the first epoch
    # a click on a feature map (here the hidden layer's strip) enlarges it
    network.click(position=on_screen(network, 100, 176))  # the hidden layer's strip: 160-202 px
    expect(panel.locator("[data-testid=matplotlib] img")).to_have_count(1, timeout=20_000)
    no_error_toast(page)
    screenshot(page, "inside-mlp")


def test_a_cnns_feature_maps_enlarge_on_a_click(page):
    panel = drawn_then_inside(page, "Fashion-MNIST: our CNN (shipped)")
    expect(panel.get_by_text(re.compile(r"our CNN \(shipped\)\*\*, looking at|our CNN \(shipped\), looking at"))
           ).to_be_visible(timeout=30_000)
    network = block(panel, "Every layer's response").locator("img")
    expect(network).to_be_visible()
    network.click(position=on_screen(network, 36, 188))  # the first conv's strongest map
    enlarged = panel.locator("[data-testid=matplotlib] img")
    expect(enlarged).to_have_count(1, timeout=20_000)
    assert enlarged.evaluate("img => img.naturalWidth") > 300
    panel.get_by_role("button", name="Another test image").click()
    expect(panel.get_by_text(re.compile(r"looking at test image [\d,]+: a "))).to_be_visible(timeout=20_000)
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
    panel.get_by_role("button", name="Draw the map").click()
    shown = block(panel, "2,000 test images").locator("img")
    expect(shown).to_be_visible(timeout=60_000)
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
    no_error_toast(page)
    screenshot(page, "inside-map")
