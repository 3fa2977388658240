"""The walk-through in headless Chromium (issue 25): every step walked with only the panel's own
buttons (a guess, Do it, Show the answer, Next) and one drawing; the step kept across a reload;
the panel readable at 800 px and on a phone.

Trainings are capped at a few seconds here (CLASSIFIER_MAX_TRAIN_SECONDS): a capped run stops
as Stop would, evaluated and kept, so each training step still ends in a test accuracy.
Run with `python -m pytest tests/test_browser_walk.py -q` (or `-m browser`)."""
from __future__ import annotations

import re

import pytest
from conftest import running_app
from test_browser import (  # noqa: F401
    LOAD_TIMEOUT,
    TRAIN_TIMEOUT,
    block,
    browser,
    draw_shoe,
    no_error_toast,
    opened,
    screenshot,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need PyPI playwright")
expect = sync_api.expect
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLASSIFIER_MAX_TRAIN_SECONDS", "4")
        with running_app() as url:
            yield url


def _open(browser, url: str, width: int = 1280, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    return opened(context, url)


def _at(walk, number: int, title: str):
    expect(walk.get_by_text(re.compile(rf"^Step {number} of 11: {re.escape(title)}"))).to_be_visible(
        timeout=20_000)


def _do(page, walk, tab: str, guess: str | None = None):
    """Guess (if given), press the step's button, and see its tab open."""
    if guess is not None:
        walk.get_by_label(guess, exact=True).check()
    walk.locator("#walk-do").click()
    expect(page.get_by_role("tab", selected=True)).to_have_text(tab, timeout=20_000)


def _answer(walk, offered: bool, contains: str):
    """The answer: offered behind its button, or shown at once once the result is there."""
    if offered:
        walk.locator("#walk-reveal").click()
    said = walk.locator("#walk-answer")
    expect(said).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(said).to_contain_text(contains)


def test_walk_every_step_with_the_panels_buttons_and_one_drawing(browser, app_url):
    page = _open(browser, app_url)
    walk = page.locator("#walk")
    panel = page.get_by_role("tabpanel")
    _at(walk, 1, "The data")
    _do(page, walk, "Dataset", "1 time in 10 (10%)")
    _answer(walk, True, "right!")
    expect(panel.get_by_text("Always answering the largest class would score 10.0%")).to_be_visible()

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 2, "A first network: the MLP")
    _do(page, walk, "Train", "about 10 million")
    expect(panel.get_by_label("Model", exact=True)).to_have_value("MLP (Flatten-Dense-128)")
    expect(panel.get_by_text("101,770 parameters for Fashion-MNIST")).to_be_visible()
    _answer(walk, True, "not this time")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 3, "Train it, live")
    walk.get_by_text("The Keras code of this step").click()
    code = walk.locator("#walk-code")
    expect(code).to_contain_text("EPOCHS = 5", timeout=20_000)
    expect(code).to_contain_text("def train(model, x_train, y_train, val, epochs):")
    _do(page, walk, "Train", "about 88%")
    expect(panel.get_by_text(re.compile(r"Test accuracy \d"))).to_be_visible(timeout=TRAIN_TIMEOUT)
    _answer(walk, False, "About 88%")
    screenshot(page, "walk-train")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 4, "Logits and softmax")
    expect(code).to_contain_text("def softmax(z):", timeout=20_000)
    _do(page, walk, "Predict")
    _answer(walk, True, "About 7 times")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 5, "Draw and predict")
    _do(page, walk, "Predict")
    canvas = block(panel, "Draw here").locator(".pixi-target canvas")
    draw_shoe(page, canvas)  # the one drawing
    expect(panel.locator("[data-testid=markdown] ol > li")).to_have_count(3, timeout=30_000)
    _answer(walk, True, "Less well")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 6, "Evaluate")
    _do(page, walk, "Evaluate", "Shirt and T-shirt/top")
    expect(panel.get_by_text(re.compile(r"Test accuracy \d"))).to_be_visible(timeout=60_000)
    _answer(walk, False, "right!")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 7, "Overfitting")
    _do(page, walk, "Train")
    expect(panel.get_by_label("number input for Epochs")).to_have_value("30")
    expect(panel.get_by_text(re.compile(r"Test accuracy \d"))).to_be_visible(timeout=TRAIN_TIMEOUT)
    _answer(walk, False, "Training near 100%")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 8, "A CNN beats the MLP")
    expect(code).to_contain_text("Conv2D", timeout=20_000)
    _do(page, walk, "Train", "yes")
    expect(panel.get_by_label("Model", exact=True)).to_have_value("Quick CNN")
    expect(panel.get_by_text(re.compile(r"Test accuracy \d"))).to_be_visible(timeout=TRAIN_TIMEOUT)
    _answer(walk, False, "right!")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 9, "What breaks it")
    _do(page, walk, "Predict")
    expect(panel.locator("[data-testid=matplotlib] img")).to_have_count(1, timeout=60_000)
    strip = block(panel, "The images it swept").last.locator("img")
    strip.scroll_into_view_if_needed()  # (loaded lazily: shown once on screen)
    expect(strip).to_be_visible()
    _answer(walk, False, "The CNN's")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 10, "Inside the network")
    _do(page, walk, "Inside the network")
    _answer(walk, True, "Edges and strokes")

    walk.get_by_role("button", name="Next ▶").click()
    _at(walk, 11, "Your own classes")
    expect(walk.get_by_role("button", name="Next ▶")).to_be_disabled()
    _do(page, walk, "Dataset")
    expect(panel.get_by_role("button", name="Add class")).to_be_visible(timeout=20_000)
    _answer(walk, True, "Cup or pen")
    no_error_toast(page)

    walk.get_by_role("button", name="◀ Back").click()
    _at(walk, 10, "Inside the network")
    page.reload()  # the browser keeps the student's place
    _at(page.locator("#walk"), 10, "Inside the network")
    page.get_by_role("button", name=re.compile("^Walk-through")).click()  # folded away...
    expect(page.locator("#walk-do")).to_be_hidden()
    page.wait_for_timeout(1000)
    page.reload()  # ...stays folded
    expect(page.get_by_text("60,000 train / 10,000 test")).to_be_visible(timeout=LOAD_TIMEOUT)
    page.wait_for_timeout(3000)
    expect(page.locator("#walk-do")).to_be_hidden()


@pytest.mark.parametrize("width,height", [(800, 1000), (390, 844)])
def test_the_panel_is_readable_at_800_px_and_on_a_phone(browser, app_url, width, height):
    page = _open(browser, app_url, width, height)
    walk = page.locator("#walk")
    _at(walk, 1, "The data")
    walk.get_by_text("The Keras code of this step").click()
    expect(walk.locator("#walk-code")).to_contain_text("def load_data", timeout=20_000)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow} px wider than the screen at {width}"
    sizes = walk.locator("p, li, label span, button").evaluate_all(
        "els => els.filter(e => e.offsetParent && e.innerText.trim())"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 14, sorted(sizes)[:5]  # a projector's back row
    box = walk.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    screenshot(page, f"walk-{width}")
