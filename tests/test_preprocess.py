"""preprocess.py checked against hand-made arrays: every image is built here or in tmp_path."""
import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from classifier.images.errors import ImageTooLarge, NotAnImage
from classifier.images.preprocess import (
    Prepared,
    open_image,
    prepare,
    resize_plain,
    to_gray,
    to_rgb,
)

BLANK = "the image is blank"
NOTHING = "nothing to classify"


def drawing(ink: int = 0, paper: int = 255, size: int = 280) -> Image.Image:
    """A digit-like stroke (a '7') on a square canvas, as a user would draw it."""
    img = Image.new("L", (size, size), paper)
    ImageDraw.Draw(img).line([(60, 50), (200, 60), (120, 240)], fill=ink, width=18)
    return img


def sketchpad_rgba(gray: Image.Image) -> np.ndarray:
    """Gradio's default Sketchpad composite: transparent background, black strokes."""
    rgba = np.zeros((*gray.size[::-1], 4), np.uint8)
    rgba[..., 3] = 255 - np.asarray(gray)
    return rgba


def ink_box(seen: np.ndarray, threshold: int = 0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) rows/cols, inclusive, of pixels above threshold."""
    rows = np.flatnonzero((seen > threshold).any(axis=1))
    cols = np.flatnonzero((seen > threshold).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    a = a.astype(np.float64)
    return (ys * a).sum() / a.sum(), (xs * a).sum() / a.sum()


def encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


# --- the recipes -------------------------------------------------------------------------

def test_fashion_centred_rectangle_fills_longest_edge():
    x = np.zeros((28, 28), np.uint8)
    x[10:18, 6:22] = 255  # 8 tall, 16 wide
    p = prepare(x, (28, 28, 1), "fashion")
    expected = np.zeros((28, 28), np.uint8)
    expected[7:21, :] = 255  # 16 -> 28 wide, so 8 -> 14 tall, centred: rows 7..20
    assert isinstance(p, Prepared) and not p.inverted
    assert p.batch.shape == (1, 28, 28, 1) and p.batch.dtype == np.uint8
    np.testing.assert_array_equal(p.seen, expected)
    np.testing.assert_array_equal(p.batch[0, :, :, 0], p.seen)


def test_mnist_square_fits_20_box_and_is_centred_by_mass():
    x = np.zeros((50, 50), np.uint8)
    x[2:7, 3:8] = 255  # 5x5 in a corner
    p = prepare(x, style="mnist")
    expected = np.zeros((28, 28), np.uint8)
    expected[4:24, 4:24] = 255  # 20x20, mass centre 9.5 -> offset round(14 - 9.5) = 4
    np.testing.assert_array_equal(p.seen, expected)


def test_mnist_off_centre_blob_moves_mass_to_centre():
    x = np.zeros((100, 100), np.uint8)
    x[5:45, 60:70] = 255  # an 'L': a tall bar and a foot, top-right of the canvas
    x[35:45, 60:90] = 255
    p = prepare(x, style="mnist")
    cy, cx = centre_of_mass(p.seen)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    top, bottom, left, right = ink_box(p.seen)
    assert bottom - top + 1 == 20  # the longest side (40 px) became 20
    assert right - left + 1 == 15  # 30 px wide -> 15


def test_mnist_shift_drops_pixels_instead_of_wrapping():
    x = np.zeros((60, 60), np.uint8)
    x[10:50, 30] = 255  # a thin bar with a heavy block at its bottom: mass low in the box
    x[40:50, 30:50] = 255
    seen = prepare(x, style="mnist").seen
    top, bottom, _, _ = ink_box(seen)
    assert top == 0 and bottom < 20  # moved up past the top edge; the cut rows did not wrap
    assert seen[20:].max() == 0


def test_dark_on_light_is_inverted_and_matches_light_on_dark():
    for style in ("mnist", "fashion"):
        black_on_white = prepare(drawing(0, 255), style=style)
        white_on_black = prepare(drawing(255, 0), style=style)
        assert black_on_white.inverted and not white_on_black.inverted
        assert black_on_white.seen[0, 0] == 0 and black_on_white.seen.max() == 255
        np.testing.assert_allclose(black_on_white.seen, white_on_black.seen, atol=1)


def test_grey_paper_becomes_black_background():
    p = prepare(drawing(ink=40, paper=200), style="mnist")
    assert p.inverted and p.seen.max() == 255
    assert np.count_nonzero(p.seen) < 0.5 * p.seen.size  # the paper is 0, not 55


def test_fashion_makes_a_pale_item_as_bright_as_fashion_mnists_are():
    x = np.full((60, 60), 255, np.uint8)
    x[10:50, 20:40] = 175  # light grey on white: 80 above the background once negated
    p = prepare(x, style="fashion")
    assert p.inverted and p.seen.max() >= 254  # every Fashion-MNIST image's brightest: 254-255
    assert (p.seen >= 250).sum() > 0.9 * (p.seen > 0).sum()  # evenly: a plain item stays plain


def test_thin_vertical_line_survives_mnist():
    x = np.full((280, 280), 255, np.uint8)
    x[40:240, 140] = 0
    seen = prepare(x, style="mnist").seen
    top, bottom, left, right = ink_box(seen, 127)
    assert seen.max() == 255
    assert bottom - top + 1 > 3 * (right - left + 1)


def test_thin_cross_keeps_full_brightness():
    x = np.zeros((280, 280), np.uint8)
    x[40:240, 140] = 255  # 1-px lines in a 200x200 box: a tenth of a pixel wide after fitting
    x[140, 40:240] = 255
    for style in ("mnist", "fashion"):
        seen = prepare(x, style=style).seen
        assert seen.max() == 255
        assert np.count_nonzero(seen > 127) >= 2 * 18  # both lines still visible


def test_horizontal_line_is_at_least_one_pixel_tall():
    x = np.zeros((280, 280), np.uint8)
    x[100, 20:260] = 255
    for style, longest in (("mnist", 20), ("fashion", 28)):
        top, bottom, left, right = ink_box(prepare(x, style=style).seen, 127)
        assert right - left + 1 == longest and bottom - top + 1 >= 1


def test_plain_resizes_whole_image():
    x = np.zeros((320, 320, 3), np.uint8)
    x[:, :160] = (255, 0, 0)
    x[:, 160:] = (0, 0, 255)
    p = prepare(x, (160, 160, 3), "plain")
    assert p.batch.shape == (1, 160, 160, 3) and p.batch.dtype == np.uint8 and not p.inverted
    assert (p.seen[:, :78] == (255, 0, 0)).all() and (p.seen[:, 82:] == (0, 0, 255)).all()
    g = prepare(x, (32, 32, 1), "plain")
    assert g.batch.shape == (1, 32, 32, 1) and g.seen.shape == (32, 32)
    assert g.seen[0, 0] == 76 and g.seen[0, -1] == 29  # 0.299 * 255, 0.114 * 255


def test_plain_keeps_a_one_pixel_image():
    p = prepare(np.array([[[10, 20, 30]]], np.uint8), (4, 4, 3), "plain")
    assert (p.seen == (10, 20, 30)).all()


@pytest.mark.parametrize("style", ["mnist", "fashion"])
@pytest.mark.parametrize("value", [0, 255, 128])
def test_uniform_image_is_blank(style, value):
    with pytest.raises(ValueError, match=BLANK):
        prepare(np.full((280, 280), value, np.uint8), style=style)


def test_faint_noise_and_one_pixel_are_blank():
    noise = np.full((50, 50), 255, np.uint8)
    noise[20:30, 20:30] = 250  # 5 grey levels: JPEG noise, not ink
    with pytest.raises(ValueError, match=BLANK):
        prepare(noise, style="mnist")
    with pytest.raises(ValueError, match=BLANK):
        prepare(np.zeros((1, 1), np.uint8), style="fashion")


def test_shape_and_style_errors():
    x = drawing()
    with pytest.raises(ValueError, match="makes 28x28x1 images, got image_shape \\(32, 32, 1\\)"):
        prepare(x, (32, 32, 1), "mnist")
    with pytest.raises(ValueError, match="got image_shape \\(28, 28, 3\\)"):
        prepare(x, (28, 28, 3), "fashion")
    with pytest.raises(ValueError, match="style must be one of .* got 'cifar'"):
        prepare(x, style="cifar")
    with pytest.raises(ValueError, match="1 or 3"):
        prepare(x, (28, 28, 2), "plain")


# --- modes -------------------------------------------------------------------------------

def test_rgba_transparent_background_composites_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1, 1] = (0, 0, 0, 255)
    rgba[2, 2] = (0, 0, 0, 128)
    gray = to_gray(open_image(rgba))
    assert gray[0, 0] == 255 and gray[1, 1] == 0 and abs(gray[2, 2] - 127) <= 1
    assert (to_rgb(open_image(rgba))[0, 0] == 255).all()


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 0, 0, 255])  # index 0 black (transparent), 1 blue
    img.paste(1, (2, 2, 6, 6))
    img.save(tmp_path / "p.png", transparency=0)
    rgb = to_rgb(open_image(tmp_path / "p.png"))
    assert (rgb[0, 0] == 255).all() and (rgb[3, 3] == (0, 0, 255)).all()


def test_cmyk(tmp_path):
    img = Image.new("CMYK", (4, 4), (0, 0, 0, 0))  # no ink: white
    img.paste((255, 0, 0, 0), (0, 0, 2, 4))  # cyan
    img.save(tmp_path / "c.tif")
    rgb = to_rgb(open_image(tmp_path / "c.tif"))
    assert (rgb[0, 0] == (0, 255, 255)).all() and (rgb[0, 3] == 255).all()


def test_16_bit_grayscale_keeps_contrast(tmp_path):
    x = np.array([[0, 64 * 257], [128 * 257, 65535]], np.uint16)  # 65535 = 255 * 257
    Image.fromarray(x).save(tmp_path / "16.png")
    img = open_image(tmp_path / "16.png")
    assert img.mode.startswith("I")
    np.testing.assert_allclose(to_gray(img), [[0, 64], [128, 255]], atol=1e-3)
    canvas = np.full((100, 100), 65535, np.uint16)
    canvas[20:80, 45:55] = 1000  # dark bar on a white 16-bit page
    p = prepare(canvas, style="mnist")
    assert p.inverted and p.seen.max() == 255


def test_other_modes_and_dtypes():
    assert to_gray(Image.new("1", (2, 2), 1)).tolist() == [[255, 255], [255, 255]]
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    np.testing.assert_allclose(to_gray(f), [[0, 127.5, 255]])
    la = Image.new("LA", (2, 1), (0, 0))
    assert to_gray(la).tolist() == [[255, 255]]
    assert np.asarray(open_image(np.array([[True, False]]))).tolist() == [[255, 0]]
    assert np.asarray(open_image(np.array([[0.0, 1.0]]))).tolist() == [[0, 255]]
    assert np.asarray(open_image(np.array([[0.0, 200.0]]))).tolist() == [[0, 200]]
    assert np.asarray(open_image(np.zeros((2, 2, 1), np.uint8))).shape == (2, 2)


def test_bad_arrays():
    with pytest.raises(ValueError, match="HxW, HxWx1, HxWx3 or HxWx4, got \\(2, 2, 2\\)"):
        open_image(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="pixel values must be in"):
        open_image(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="pixel values must be in"):
        open_image(np.array([[-1.0, 3.0]]))
    with pytest.raises(ValueError, match=NOTHING):
        open_image(np.zeros((0, 5), np.uint8))


def test_exif_rotated_jpeg(tmp_path):
    img = Image.new("L", (40, 20), 255)  # stored 40 wide, 20 tall
    img.paste(0, (0, 0, 10, 10))  # dark block top-left as stored
    exif = img.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif)
    gray = to_gray(open_image(tmp_path / "r.jpg"))
    assert gray.shape == (40, 20)  # now 20 wide, 40 tall
    assert gray[:10, 10:].mean() < 40 and gray[:10, :10].mean() > 215  # block is top-right


def test_animated_gif_uses_first_frame(tmp_path):
    first = Image.new("L", (20, 20), 255)
    first.paste(0, (5, 5, 15, 15))
    second = Image.new("L", (20, 20), 0)
    first.save(tmp_path / "a.gif", save_all=True, append_images=[second], duration=100, loop=0)
    gray = to_gray(open_image(tmp_path / "a.gif"))
    assert gray[0, 0] == 255 and gray[10, 10] == 0


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_allowed_formats_open_from_bytes_and_paths(fmt, tmp_path):
    data = encoded(drawing(), fmt)
    (tmp_path / "x").write_bytes(data)
    for source in (data, tmp_path / "x", str(tmp_path / "x")):
        assert prepare(source, style="mnist").seen.max() == 255


def test_one_pixel_image_opens():
    img = open_image(encoded(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG"))
    assert img.size == (1, 1) and to_rgb(img).tolist() == [[[9, 8, 7]]]


# --- errors ------------------------------------------------------------------------------

def test_not_an_image_file(tmp_path):
    (tmp_path / "notes.png").write_text("this is text, not a picture")
    with pytest.raises(ValueError, match="could not read the image .*notes.png.*not a PNG/JPEG"):
        open_image(tmp_path / "notes.png")


def test_format_outside_the_list_is_refused():
    with pytest.raises(ValueError, match="not a PNG/JPEG/GIF/BMP/WEBP/TIFF file"):
        open_image(encoded(drawing(), "PPM"))


def test_empty_missing_and_truncated_files(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty \\(0 bytes\\)"):
        open_image(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="empty \\(0 bytes\\)"):
        open_image(b"")
    with pytest.raises(ValueError, match="no file at"):
        open_image(tmp_path / "missing.png")
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)
    data = encoded(Image.fromarray(noisy), "PNG")
    with pytest.raises(ValueError, match="could not read the image .*truncated or damaged"):
        open_image(data[: len(data) // 2])


def test_decompression_bomb_guard(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ValueError, match="image is too large"):
        open_image(encoded(Image.new("L", (20, 20)), "PNG"))  # over 2x the limit: Pillow's error
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ValueError, match="too large"):
        open_image(encoded(Image.new("L", (12, 12)), "PNG"))  # between 1x and 2x: a warning


def test_error_kinds_are_value_errors_a_caller_can_tell_apart(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("text")
    (tmp_path / "empty.png").write_bytes(b"")
    for path in (tmp_path / "notes.txt", tmp_path / "empty.png"):
        with pytest.raises(NotAnImage):
            open_image(path)
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)
    data = encoded(Image.fromarray(noisy), "PNG")
    with pytest.raises(ValueError) as damaged:
        open_image(data[: len(data) // 2])
    assert not isinstance(damaged.value, (NotAnImage, ImageTooLarge))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageTooLarge, match="image is too large"):
        open_image(encoded(Image.new("L", (20, 20)), "PNG"))
    assert issubclass(ImageTooLarge, ValueError) and issubclass(NotAnImage, ValueError)


def test_draft_size_decodes_a_big_jpeg_at_reduced_scale():
    data = encoded(Image.new("RGB", (1600, 1200), (200, 100, 50)), "JPEG")
    assert open_image(data).size == (1600, 1200)
    small = open_image(data, draft_size=(100, 100))
    assert small.size == (200, 150)  # 1/8 scale: the largest reduction that keeps 100x100
    assert np.abs(to_rgb(small).astype(int) - (200, 100, 50)).max() <= 3
    assert open_image(data, draft_size=(1000, 1000)).size == (1600, 1200)  # 1/2 would be too small
    png = encoded(Image.new("L", (400, 300)), "PNG")  # no draft: reduced by a whole factor
    assert open_image(png, draft_size=(10, 10)).size == (14, 10)  # 400/30 rounded up
    assert open_image(png, draft_size=(300, 300)).size == (400, 300)  # 1/2 would be too small


def test_a_big_png_is_refused_from_its_header_below_pillows_limit():
    """9400x9400 is under Pillow's 89 MP bomb limit but far over what this app needs."""
    from test_reliability import _png_header_only
    with pytest.raises(ImageTooLarge, match="(9400x9400|88,360,000) pixels, over the limit of 25,000,000"):
        open_image(_png_header_only(9400, 9400))


def test_a_large_transparent_png_is_read_at_working_size_and_upright():
    img = Image.new("RGBA", (4000, 3000), (0, 0, 0, 0))
    img.paste((200, 200, 200, 255), (1000, 500, 2000, 2500))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    small = open_image(encoded(img, "PNG", exif=exif), draft_size=(1024, 1024))
    assert small.size == (1500, 2000)  # halved (3000 // 1024 = 2), then turned upright
    assert prepare(encoded(img, "PNG")).seen.max() > 0


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_draft_does_not_get_round_the_bomb_guard(monkeypatch):
    data = encoded(Image.new("L", (400, 300)), "JPEG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400 * 300 - 1)  # full size over, 1/8 under
    with pytest.raises(ImageTooLarge):
        open_image(data, draft_size=(28, 28))


def test_resize_plain_shapes():
    img = Image.new("RGBA", (10, 6), (255, 0, 0, 0))  # transparent: white
    assert resize_plain(img, 3, 5, 3).shape == (3, 5, 3)
    assert (resize_plain(img, 3, 5, 1) == 255).all() and resize_plain(img, 3, 5, 1).shape == (3, 5)


def test_unsupported_source_type():
    with pytest.raises(ValueError, match="cannot read an image from a int"):
        open_image(42)


# --- Gradio Sketchpad --------------------------------------------------------------------

def test_sketchpad_nothing_drawn():
    with pytest.raises(ValueError, match=NOTHING):
        prepare({"background": None, "layers": [], "composite": None})
    with pytest.raises(ValueError, match=NOTHING):
        prepare(None)
    empty = np.zeros((280, 280, 4), np.uint8)  # a transparent canvas
    with pytest.raises(ValueError, match=NOTHING):
        prepare({"background": empty, "layers": [empty], "composite": empty})


def test_sketchpad_rgba_composite_matches_the_drawing(tmp_path):
    rgba = sketchpad_rgba(drawing())
    value = {"background": None, "layers": [rgba], "composite": rgba}
    for style in ("mnist", "fashion"):
        p = prepare(value, style=style)
        assert p.inverted
        np.testing.assert_array_equal(p.seen, prepare(drawing(), style=style).seen)
    Image.fromarray(rgba).save(tmp_path / "composite.png")  # type="filepath" and "pil"
    for composite in (str(tmp_path / "composite.png"), Image.fromarray(rgba)):
        p = prepare({"background": None, "layers": [], "composite": composite}, style="mnist")
        np.testing.assert_array_equal(p.seen, prepare(value, style="mnist").seen)


def test_no_tensorflow_keras_or_gradio_import():
    # scipy (the clean-up's filters, classifier/images/cleanup.py) loads on the first drawing, not here
    code = ("import sys, classifier.images.preprocess; "
            "print(sorted({'tensorflow', 'keras', 'gradio', 'scipy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unreadable_file_is_a_value_error(tmp_path, monkeypatch):
    from classifier.images import preprocess
    path = tmp_path / "locked.png"
    Image.new("L", (8, 8), 255).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(preprocess.Image, "open", denied)
    with pytest.raises(ValueError, match="could not read the image .*Permission denied"):
        preprocess.open_image(path)
