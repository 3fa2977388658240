"""Stop, in headless Chromium, after several runs in one page (issue: Stop was sometimes ignored
after a few runs while fresh pages stopped fine)."""
import re

import pytest

from test_browser import (CHROMIUM, app_url, browser, expect, no_error_toast, page,  # noqa: F401
                          percent, start_training)

pytestmark = pytest.mark.browser


def test_stop_works_after_several_runs_in_one_page(page):
    for run in range(1, 4):
        panel = start_training(page, 1)
        done = panel.get_by_text(re.compile(r"^Done after 1 (complete )?epoch"))
        expect(done).to_be_visible(timeout=120_000)
        expect(page.get_by_label("Model", exact=True).first).to_be_visible()
    panel = start_training(page, 30)
    expect(panel.get_by_text(re.compile(r"Epoch \*?\*?2/30|Epoch 2/30"))).to_be_visible(timeout=120_000)
    panel.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text("Stopping after the current step")).to_be_visible(timeout=10_000)
    stopped = panel.get_by_text("Stopped as you asked")
    expect(stopped).to_be_visible(timeout=20_000)
    assert percent(stopped, r"after (\d+) (?:complete )?epoch") < 30
    panel.get_by_role("button", name="Stop", exact=True).click()  # nothing running now
    expect(page.get_by_text("Nothing is training now")).to_be_visible(timeout=10_000)
    no_error_toast(page)
