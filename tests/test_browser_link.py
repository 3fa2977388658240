"""Issue 14, item 3 in headless Chromium: a teacher's link opens the page with its settings, a
garbled one opens with the defaults and a note, and the Train tab's button writes the link.
Screenshot: docs/screenshots/link.png."""
from __future__ import annotations

import re

import pytest
from test_browser import (  # noqa: F401
    CHROMIUM,
    LOAD_TIMEOUT,
    app_url,
    block,
    browser,
    expect,
    no_error_toast,
    open_tab,
    opened,
    screenshot,
)

pytestmark = pytest.mark.browser
NOTE = "Some of this link's settings could not be used"


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    yield ctx
    ctx.close()


def form_values(page) -> dict:
    panel = open_tab(page, "Train")
    expect(panel.get_by_text(re.compile(r"[\d,]+ parameters for"))).to_be_visible(timeout=LOAD_TIMEOUT)
    panel.get_by_text("Lab: make it overfit").click()  # the lab's settings are folded away
    return {"model": panel.get_by_label("Model", exact=True).input_value(),
            "epochs": panel.get_by_label("number input for Epochs").input_value(),
            "batch": panel.get_by_label("Batch size").input_value(),
            "seconds": panel.get_by_label(re.compile("number input for .*train for a time")).input_value(),
            "data": panel.get_by_label(re.compile("number input for Train on this share")).input_value()}


def test_a_teachers_link_fills_the_page(context, app_url):
    page = opened(context, app_url + "?dataset=mnist&model=cnn_quick&seconds=30&epochs=4&data=10",
                  "4,000 train / 1,000 test")
    expect(page.get_by_text(NOTE)).to_have_count(0)
    # issue 26 item 7: the header names the link's dataset at once (it said Fashion-MNIST until
    # a run ended)
    expect(page.get_by_text(re.compile(r"^Browsing: MNIST( digits)? · Active model"))).to_be_visible()
    # the link's epochs win over the model's own default (2), which is shown first
    expect(open_tab(page, "Train").get_by_text(re.compile(r"[\d,]+ parameters for MNIST"))).to_be_visible(
        timeout=LOAD_TIMEOUT)
    assert form_values(page) == {"model": "Quick CNN", "epochs": "4", "batch": "128", "seconds": "30",
                                 "data": "10"}
    no_error_toast(page)


def test_a_garbled_link_opens_with_the_defaults_and_a_note(context, app_url):
    page = opened(context, app_url + "?model=resnet&epochs=banana&seconds=-5&x=%3Cscript%3Ealert(1)%3C/script%3E"
                  "&dataset=../../etc/passwd", "60,000 train / 10,000 test")
    note = page.get_by_text(NOTE)
    expect(note).to_be_visible()
    for said in ("model must be one of", "epochs must be a number", "'x' is not a setting",
                 "dataset must be one of"):
        assert said in note.inner_text()
    assert form_values(page) == {"model": "MLP (Flatten-Dense-128)", "epochs": "5", "batch": "64",
                                 "seconds": "0", "data": "100"}
    no_error_toast(page)


def test_the_copy_button_writes_a_link_that_opens_with_these_settings(context, app_url):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = opened(context, app_url, "60,000 train / 10,000 test")
    panel = open_tab(page, "Train")
    expect(panel.get_by_text(re.compile(r"[\d,]+ parameters for"))).to_be_visible(timeout=LOAD_TIMEOUT)
    box = panel.get_by_label("number input for Epochs")
    box.fill("7")
    box.press("Enter")
    panel.get_by_role("button", name="Copy the link to these settings").click()
    link_box = block(panel, "Link to these settings").locator("textarea")
    expect(link_box).to_have_value(re.compile(r"\?dataset=fashion_mnist&model=mlp&epochs=7&batch=64$"))
    link = link_box.input_value()
    assert link.startswith(app_url.rstrip("/"))
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    screenshot(page, "link")
    again = opened(context, link, "60,000 train / 10,000 test")
    assert form_values(again)["epochs"] == "7"
