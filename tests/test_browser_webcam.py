"""Issue 14, item 1 in headless Chromium with its fake camera: classes made from the webcam,
trained, and answered live from the webcam on Predict; files added to a class, one deleted, the
set downloaded as a zip and loaded back. Screenshots: docs/screenshots/webcam-classes.png and
webcam-predict.png.

The camera is a Y4M video this module writes (Chromium loops it): a red square on grey for
SHOWN seconds, then a blue circle, then a green triangle, each for SHOWN seconds. Each step reads which shape the page's
<video> shows (its middle pixel) and acts while that shape is on screen.
"""
from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_browser import (  # noqa: F401
    CHROMIUM,
    LOAD_TIMEOUT,
    TRAIN_TIMEOUT,
    app_url,
    block,
    expect,
    no_error_toast,
    open_tab,
    opened,
    screenshot,
    sync_api,
    top_bar,
)

pytestmark = pytest.mark.browser

FPS, SHOWN = 10, 4  # frames a second; seconds each shape stays on screen
SIZE = (240, 320)  # the video's height and width
OWN = "Your own classes: webcam or files"
SHAPES = ("square", "circle", "triangle")


def shape_frame(kind: str) -> np.ndarray:
    """A big red square, blue circle or green triangle in the middle of a grey frame, RGB."""
    h, w = SIZE
    img = np.full((h, w, 3), 128, np.uint8)
    yy, xx = np.mgrid[:h, :w]
    r = h // 3
    if kind == "square":
        img[(abs(yy - h // 2) < r) & (abs(xx - w // 2) < r)] = (220, 30, 30)
    elif kind == "circle":
        img[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < r * r] = (30, 60, 220)
    else:  # apex up, 2r high and 2r wide at its base
        below_apex = yy - (h // 2 - r)
        img[(below_apex >= 0) & (below_apex < 2 * r) & (2 * abs(xx - w // 2) < below_apex)] = (
            30, 180, 60)
    return img


def write_y4m(path, frames, fps: int = FPS) -> None:
    """Frames as a YUV4MPEG2 video, 4:2:0 (BT.601 full range, as C420jpeg says)."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u, v = (b - y) * 0.564 + 128, (r - y) * 0.713 + 128
            half = [p.reshape(h // 2, 2, w // 2, 2).mean((1, 3)) for p in (u, v)]
            f.write(b"FRAME\n")
            for plane in (y, *half):
                f.write(np.clip(plane + 0.5, 0, 255).astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory):
    video = tmp_path_factory.mktemp("camera") / "shapes.y4m"
    write_y4m(video, [shape_frame(k) for k in SHAPES for _ in range(FPS * SHOWN)])
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        yield b
        b.close()


@pytest.fixture
def page(camera_browser, app_url):
    """A fresh tab (a fresh app session) on the Dataset tab with your own classes picked."""
    context = camera_browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = opened(context, app_url)
    train = open_tab(pg, "Train")  # the page's load sets the Train form last: wait for it
    expect(train.get_by_text(re.compile(r"[\d,]+ parameters for Fashion-MNIST"))).to_be_visible(
        timeout=LOAD_TIMEOUT)
    panel = open_tab(pg, "Dataset")
    panel.get_by_label("Dataset", exact=True).click()
    pg.get_by_role("option", name=OWN).click()
    expect(panel.get_by_text("none yet. Type a name")).to_be_visible(timeout=30_000)
    yield pg
    context.close()


def add_class(panel, name: str) -> None:
    box = panel.get_by_label("Class name")
    box.fill(name)
    panel.get_by_role("button", name="Add class").click()
    expect(panel.get_by_role("radio", name=re.compile(rf"^{name} \(0\)$"))).to_be_checked()
    expect(box).to_have_value("")


def count_of(panel, name: str):
    """The class picker's radio for `name`; its name holds the count: 'square (6)'."""
    return panel.get_by_role("radio", name=re.compile(rf"^{name} \(\d+\)$"))


def count(panel, name: str) -> int:
    label = count_of(panel, name).evaluate("radio => radio.labels[0].innerText")
    return int(re.search(r"\((\d+)\)", label).group(1))


def pick(panel, name: str) -> None:
    count_of(panel, name).check()
    expect(block(panel, f"{name}:")).to_have_count(1)  # its images are shown


def bars(panel) -> dict[str, int]:
    """The class-count bars as drawn (the chart's own marks)."""
    labels = block(panel, "Images per class").locator("[aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    found = (re.match(r"class: (.*); images: (\d+)", label) for label in labels)
    return {m.group(1): int(m.group(2)) for m in found if m}


def bars_show(panel, counts: dict[str, int], seconds: float = 10) -> None:
    """Wait until the count bars show `counts`."""
    end = time.monotonic() + seconds
    while bars(panel) != counts:
        assert time.monotonic() < end, (bars(panel), counts)
        panel.page.wait_for_timeout(200)


def start_webcam(panel, element: str):
    """Click the webcam's access button; wait until its video plays."""
    cam = panel.locator(f"#{element}")
    cam.get_by_text("Click to Access Webcam").click()
    panel.page.wait_for_function(
        f"() => document.querySelector('#{element} video')?.videoWidth > 0", timeout=20_000)
    return cam


def showing(page, element: str) -> str | None:
    """The shape the webcam shows now (its middle pixel): one of SHAPES, or None."""
    r, g, b = page.evaluate(f"""() => {{
        const v = document.querySelector('#{element} video');
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        const pen = c.getContext('2d'); pen.drawImage(v, 0, 0);
        const middle = pen.getImageData(c.width / 2, c.height / 2, 1, 1).data;
        return Array.from(middle.slice(0, 3)); }}""")
    return ("square" if r > 150 and g < 100 and b < 100 else
            "circle" if b > 150 and r < 100 and g < 100 else
            "triangle" if g > 150 and r < 100 and b < 100 else None)


def wait_for_shape(page, element: str, kind: str, fresh: bool = False) -> None:
    """Wait until the webcam shows `kind`; with `fresh`, until it has just switched to it (so
    nearly SHOWN seconds of it lie ahead)."""
    end = time.monotonic() + (len(SHAPES) + 1) * SHOWN
    if fresh:
        while showing(page, element) == kind and time.monotonic() < end:
            page.wait_for_timeout(40)
    while showing(page, element) != kind:
        assert time.monotonic() < end, f"the webcam never showed a {kind}"
        page.wait_for_timeout(40)


def capture(panel, kind: str, times: int) -> None:
    """Capture `times` images into class `kind`, each while the webcam shows that shape."""
    pick(panel, kind)
    for _ in range(times):
        before = count(panel, kind)
        wait_for_shape(panel.page, "own-webcam", kind)
        panel.get_by_role("button", name="Capture one image").click()
        expect(count_of(panel, kind)).to_have_accessible_name(f"{kind} ({before + 1})",
                                                              timeout=10_000)


def record(panel, cam, kind: str, seconds: float = 2.0) -> None:
    """Record class `kind` for `seconds` from the moment the webcam switches to its shape."""
    pick(panel, kind)
    wait_for_shape(panel.page, "own-webcam", kind, fresh=True)
    cam.locator("button", has_text="Record").click()
    panel.page.wait_for_timeout(seconds * 1000)
    assert showing(panel.page, "own-webcam") == kind  # stopped before the shape changed
    cam.locator("button", has_text="Stop").click()


def test_three_classes_from_the_webcam_trained_and_answered_live(page):
    """The issue's test: three classes made from webcam captures and a recording, the Quick CNN
    trained with the defaults the set gets, and Predict's webcam answered live, shape by shape."""
    panel = open_tab(page, "Dataset")
    started = time.monotonic()
    for name in SHAPES:
        add_class(panel, name)
    cam = start_webcam(panel, "own-webcam")
    capture(panel, "square", 6)
    record(panel, cam, "circle")
    expect(panel.get_by_text("Recording", exact=False)).to_have_count(0, timeout=10_000)
    recorded = count(panel, "circle")
    assert recorded >= 3, recorded  # 3 a second (6 on a quiet machine)
    capture(panel, "circle", max(0, 6 - recorded))
    capture(panel, "triangle", 6)
    print(f"three classes made in {time.monotonic() - started:.0f} s "
          "(captures wait for their shape on the looping video)")
    counts = {"square": 6, "circle": max(recorded, 6), "triangle": 6}
    bars_show(panel, counts)  # the bars follow, level with the counts
    expect(panel.get_by_text(re.compile(r"Your own classes: 3 classes, \d+ images"))
           ).to_be_visible()
    baseline = max(counts.values()) / sum(counts.values())
    expect(panel.get_by_text(f"would score {baseline:.1%}")).to_be_visible()
    expect(panel.get_by_text("Ready to train:")).to_be_visible()
    pick(panel, "square")
    expect(block(panel, "square: 6 images").locator(".grid-container img")).to_have_count(6)
    no_error_toast(page)
    screenshot(page, "webcam-classes")

    train = open_tab(page, "Train")  # set for a small set when it was picked
    expect(train.get_by_label("Model", exact=True)).to_have_value("Quick CNN")
    expect(train.get_by_label("number input for Epochs")).to_have_value("20")
    expect(train.get_by_label("Batch size")).to_have_value("16")
    expect(train.get_by_text(re.compile(r"[\d,]+ parameters for Your own classes \(64x64\)"))
           ).to_be_visible(timeout=30_000)
    train.get_by_role("button", name="Train", exact=True).click()
    done = train.get_by_text(re.compile(r"^Done after 20 complete epochs"))
    expect(done).to_be_visible(timeout=TRAIN_TIMEOUT)
    expect(done).to_contain_text("This model is now active")

    predict = open_tab(page, "Predict")
    expect(predict.get_by_label("Model", exact=True)).to_have_value(
        re.compile(r"^#1 Your own classes: Quick CNN, 20 epochs"))
    live = start_webcam(predict, "predict-webcam")
    live.locator("button", has_text="Record").click()
    top = predict.locator("[data-testid=markdown] ol > li").first.locator("strong")
    for kind in ("circle", "triangle", "square"):  # each answered while shown, the bars too
        wait_for_shape(page, "predict-webcam", kind, fresh=True)
        expect(top).to_have_text(kind, timeout=(SHOWN - 2) * 1000)
        for _ in range(20):  # the bars a frame later: they draw the update before the last
            if top_bar(predict) == kind:
                break
            page.wait_for_timeout(100)
        assert (top_bar(predict), showing(page, "predict-webcam")) == (kind, kind)
    no_error_toast(page)
    screenshot(page, "webcam-predict")
    live.locator("button", has_text="Stop").click()


def solid_png(path, colour) -> str:
    Image.new("RGB", (60, 40), colour).save(path)
    return str(path)


def test_files_into_a_class_delete_one_download_the_zip_and_load_it_back(page, tmp_path):
    """Several files into a class at once (one not an image: said), a pasted picture, one image
    deleted, the zip downloaded, the classes removed and the zip loaded back."""
    panel = open_tab(page, "Dataset")
    add_class(panel, "red")
    reds = [solid_png(tmp_path / f"red{i}.png", (250 - 40 * i, 0, 0)) for i in range(4)]
    files = block(panel, "…or add image files").locator("input[type=file]")
    files.set_input_files(reds)
    expect(count_of(panel, "red")).to_have_accessible_name("red (4)", timeout=20_000)
    add_class(panel, "blue")
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    files.set_input_files([solid_png(tmp_path / f"blue{i}.png", (0, 0, 250 - 40 * i))
                           for i in range(5)] + [str(notes)])
    expect(count_of(panel, "blue")).to_have_accessible_name("blue (5)", timeout=20_000)
    skipped = page.locator("[data-testid=toast-body]", has_text="added 5 images; skipped 1")
    expect(skipped).to_contain_text("'notes.png'")
    skipped.get_by_text("×").click()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("""async () => {  // a copied picture: 40x30 blue
        const c = document.createElement('canvas'); c.width = 40; c.height = 30;
        const pen = c.getContext('2d'); pen.fillStyle = '#0000c8'; pen.fillRect(0, 0, 40, 30);
        const png = await new Promise(done => c.toBlob(done, 'image/png'));
        await navigator.clipboard.write([new ClipboardItem({'image/png': png})]); }""")
    block(panel, "…or paste an image").get_by_text("Paste from Clipboard").click()
    expect(count_of(panel, "blue")).to_have_accessible_name("blue (6)", timeout=20_000)

    box = panel.get_by_label("Class name")  # a name taken: one warning, nothing marked "Error"
    box.fill("RED")
    panel.get_by_role("button", name="Add class").click()
    taken = page.locator("[data-testid=toast-body]", has_text="already a class called 'red'")
    expect(taken).to_be_visible(timeout=10_000)
    expect(box).to_have_value("RED")  # kept, to correct
    expect(panel.locator("[data-testid=status-tracker]", has_text="Error")).to_have_count(0)
    taken.get_by_text("×").click()
    pick(panel, "red")  # the picker still works (a gr.Error blocked it); delete the second
    # red: its images follow without it
    block(panel, "red: 4 images").locator(".grid-container button").nth(1).click()
    panel.get_by_role("button", name="Delete the clicked image").click()
    expect(count_of(panel, "red")).to_have_accessible_name("red (3)", timeout=10_000)
    bars_show(panel, {"red": 3, "blue": 6})

    with page.expect_download(timeout=20_000) as saved:  # one click: the browser saves it
        panel.get_by_role("button", name="Download the classes as a zip").click()
    assert saved.value.suggested_filename == "my-classes.zip"
    body = Path(saved.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(n for n in zf.namelist() if n.endswith(".png")) == [
            *(f"blue/000{i}.png" for i in range(1, 7)), *(f"red/000{i}.png" for i in range(1, 4))]
        second = np.asarray(Image.open(io.BytesIO(zf.read("red/0002.png"))))
    assert abs(int(second[48, 48, 0]) - 170) <= 2  # the third file's red: the second is gone
    saved = tmp_path / "my-classes.zip"
    saved.write_bytes(body)

    for name in ("red", "blue"):  # start again, then load the zip back
        pick(panel, name)
        panel.get_by_role("button", name="Remove the picked class").click()
        expect(count_of(panel, name)).to_have_count(0, timeout=10_000)
    expect(panel.get_by_text("none yet. Type a name")).to_be_visible()
    load = block(panel, "…or load a zip you downloaded").locator("input[type=file]")
    load.set_input_files(str(saved))
    expect(count_of(panel, "red")).to_have_accessible_name("red (3)", timeout=20_000)
    expect(count_of(panel, "blue")).to_have_accessible_name("blue (6)")
    bars_show(panel, {"blue": 6, "red": 3})  # folder order
    expect(page.get_by_text("Loaded 2 classes, 9 images.")).to_be_visible()
    no_error_toast(page)
