"""A class in headless Chromium (issue 24): a teacher and three students, each in a browser
context of their own (so their own session and their own localStorage). They join; the students
train and the board shows their runs; the teacher's run plays on every student's Train tab and
becomes their model; the teacher sends the class to Predict and the pages that follow go.

Run with `python -m pytest tests/test_browser_class.py -q` (or `-m browser`)."""
from __future__ import annotations

import re

import pytest
from conftest import running_app
from test_browser import (  # noqa: F401
    LOAD_TIMEOUT,
    TRAIN_TIMEOUT,
    browser,
    open_tab,
    opened,
    screenshot,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need PyPI playwright")
expect = sync_api.expect
pytestmark = pytest.mark.browser

QUICK = "epochs=1&data=5"  # each run: one epoch on 5% of Fashion-MNIST (3,000 images, seconds)
CODE = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")


@pytest.fixture(scope="module")
def app_url():
    with running_app() as url:
        yield url


def _open(browser, url: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    return opened(context, url)


def _selected(page) -> str:
    return page.get_by_role("tab", selected=True).inner_text().strip()


def test_a_teacher_and_three_students(browser, app_url):
    teacher = _open(browser, f"{app_url}?class=new&{QUICK}")
    expect(teacher.get_by_role("tab", selected=True)).to_have_text("Class", timeout=LOAD_TIMEOUT)
    panel = teacher.get_by_role("tabpanel")
    shown = panel.locator("span").filter(has_text=CODE)
    expect(shown).to_have_count(1, timeout=LOAD_TIMEOUT)
    code = shown.inner_text().strip()
    expect(panel.get_by_role("link", name="Your teacher's link")).to_have_attribute(
        "href", re.compile(r"teacher="))

    nicknames = ["Ann", "Bo", "<b>Cy</b>"]  # the last one must stay plain text
    students = []
    for name in nicknames:
        page = _open(browser, f"{app_url}?class={code}&{QUICK}")
        expect(page.get_by_role("tab", selected=True)).to_have_text("Class", timeout=LOAD_TIMEOUT)
        room = page.get_by_role("tabpanel")
        expect(room.get_by_label("Class code")).to_have_value(code)  # the link filled it in
        room.get_by_label("Your nickname (shown on the class's board)").fill(name)
        room.get_by_role("button", name="Join", exact=True).click()
        expect(room.get_by_text(f"You are in class {code} as {name}")).to_be_visible(timeout=20_000)
        students.append(page)
    assert students[2].locator("b", has_text=re.compile(r"^Cy$")).count() == 0  # no markup made

    for page in students:  # the three press Train at once
        panel = open_tab(page, "Train")
        expect(panel.get_by_label("number input for Epochs")).to_have_value("1")
        panel.get_by_role("button", name="Train", exact=True).click()
    for page in students:
        expect(page.get_by_role("tabpanel").get_by_text(re.compile(r"^Done after 1"))).to_be_visible(
            timeout=TRAIN_TIMEOUT)

    board = teacher.locator("#class-board")
    for name in nicknames:  # the teacher's board, refreshed by its tick
        expect(board.get_by_text(name, exact=True).locator("visible=true")).to_have_count(
            1, timeout=20_000)
    assert board.locator("b").count() == 0 and board.locator("a").count() == 0
    expect(teacher.locator("#class-chart img")).to_be_visible()
    screenshot(teacher, "class-board")

    # the teacher trains once; every student's Train tab plays it, then keeps its model
    panel = open_tab(teacher, "Train")
    epochs = panel.get_by_label("number input for Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    panel.get_by_role("button", name="Train", exact=True).click()
    for page in students:
        expect(page.get_by_role("tabpanel").get_by_text(re.compile(r"Your teacher's run"))
               ).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(panel.get_by_text(re.compile(r"^Done after 3"))).to_be_visible(timeout=TRAIN_TIMEOUT)
    for page in students:
        status = page.get_by_role("tabpanel").get_by_text(re.compile(r"Your teacher's run · Done after 3"))
        expect(status).to_be_visible(timeout=20_000)
    screenshot(students[0], "class-teacher-run")
    for page in students:
        picker = open_tab(page, "Predict").get_by_label("Model", exact=True)
        expect(picker).to_have_value(re.compile(r"^Teacher's #\d+ Fashion-MNIST: MLP"))

    # Bo opts out of following; the teacher sends the class to Evaluate
    room = open_tab(students[1], "Class")
    room.get_by_label(re.compile("Follow the teacher")).uncheck()
    open_tab(students[0], "Dataset")
    open_tab(students[2], "Dataset")
    room = open_tab(teacher, "Class")
    room.get_by_label("Send the whole class to").click()
    teacher.get_by_role("option", name="Evaluate", exact=True).click()
    room.get_by_role("button", name="Send the class there").click()
    for page in (students[0], students[2]):
        expect(page.get_by_role("tab", selected=True)).to_have_text("Evaluate", timeout=20_000)
    students[1].wait_for_timeout(4000)  # two ticks
    assert _selected(students[1]) == "Class"
    assert _selected(teacher) == "Class"  # the teacher stays where they are

    # the teacher walks the walk-through: the following pages show the teacher's step
    walk = teacher.locator("#walk")
    for step in (2, 3):  # a click while the last one is answered is dropped (Gradio's "once")
        walk.get_by_role("button", name="Next ▶").click()
        expect(walk.get_by_text(re.compile(rf"^Step {step} of 11"))).to_be_visible(timeout=20_000)
    for page in (students[0], students[2]):
        expect(page.locator("#walk").get_by_text(re.compile(r"^Step 3 of 11: Train it"))
               ).to_be_visible(timeout=20_000)
        expect(page.get_by_role("tab", selected=True)).to_have_text("Train")
    expect(students[1].locator("#walk").get_by_text(re.compile(r"^Step 1 of 11"))).to_be_visible()
