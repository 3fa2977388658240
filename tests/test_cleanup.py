"""cleanup.py step by step, on arrays made here: each step does what its docstring says."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from classifier.images import cleanup
from classifier.images.cleanup import (
    digit,
    filled_outline,
    flatten,
    garment,
    ink_of,
    main_strokes,
    normalise_width,
    otsu,
    polarity,
    shading,
    stroke_width,
    strokes,
    without_lines,
)
from classifier.images.errors import BlankImage


def seven(size=280, width=18, ink=0, paper=255, mode="L") -> Image.Image:
    """A '7' drawn as a user would, on a square canvas."""
    img = Image.new(mode, (size, size), paper)
    s = size / 280
    ImageDraw.Draw(img).line([(60 * s, 50 * s), (200 * s, 60 * s), (120 * s, 240 * s)], fill=ink,
                             width=max(1, round(width * s)))
    return img


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, np.float32)


def overlap(a: np.ndarray, b: np.ndarray, level: int = 64) -> float:
    """Intersection over union of two 28x28 images' ink above `level`."""
    a, b = a > level, b > level
    return (a & b).sum() / max(1, (a | b).sum())


def test_otsu_splits_two_levels():
    values = np.concatenate([np.full(900, 20.0), np.full(100, 200.0)])
    assert 20 < otsu(values) < 200


def test_polarity_light_border_is_negated():
    assert polarity(pixels(seven()), find_paper=True) == (True, None)
    assert polarity(pixels(seven(ink=255, paper=0)), find_paper=True) == (False, None)


def test_polarity_finds_a_page_inside_a_dark_border():
    photo = np.full((200, 300), 40.0)  # a dark table
    photo[30:170, 60:240] = 210.0  # the page
    photo[80:120, 140:146] = 30.0  # a stroke on it
    negate, page = polarity(photo, find_paper=True)
    assert negate and page[100, 100] and page[100, 143] and not page[10, 10]
    assert polarity(photo, find_paper=False) == (False, None)  # garments: the border rules


def test_a_digit_loop_is_not_paper():
    zero = np.zeros((28, 28), np.float32)
    yy, xx = np.ogrid[:28, :28]
    ring = np.abs(np.hypot(yy - 14, xx - 14) - 8) < 2.5  # a fat '0' on black: a loop with a hole
    zero[ring] = 255
    assert polarity(zero, find_paper=True) == (False, None)


def test_coloured_ink_counts_in_its_strongest_channel():
    img = seven(mode="RGB", ink=(30, 60, 220), paper=(255, 255, 255))  # blue ballpoint
    ink = ink_of(pixels(img), True, None, per_channel=True)
    assert ink.max() == pytest.approx(225)  # red channel: 255 - 30; grey would give 255 - 69
    assert ink[5, 5] == 0
    assert ink_of(pixels(img), True, None, per_channel=False).max() < 190


def test_flatten_removes_shading_and_keeps_strokes():
    shade = np.tile(np.linspace(0, 60, 280, dtype=np.float32), (280, 1))  # paper darker to the right
    stroke = 255 - pixels(seven())
    flat = flatten(np.maximum(shade, stroke))
    assert flat[140, 270] < 10 and flat[140, 10] < 10  # paper
    assert flat[55, 130] > 150  # on the 7's bar


def test_strokes_zero_texture_away_from_the_strokes():
    rng = np.random.default_rng(0)
    ink = rng.uniform(0, 30, (200, 200)).astype(np.float32)  # paper texture
    ink[50:150, 95:105] = 220  # a stroke
    cleaned, mask = strokes(ink)
    assert mask[100, 100] and not mask[10, 10]
    assert cleaned[10, 10] == 0 and cleaned[100, 100] == 220
    with pytest.raises(BlankImage):
        strokes(np.full((50, 50), 5, np.float32))


def test_ruled_lines_go_and_a_long_stroke_stays():
    mask = np.zeros((200, 200), bool)
    mask[40, :] = mask[80, :] = mask[120, :] = True  # ruled paper
    mask[60:150, 100:106] = True  # a '1' across the lines
    clean = without_lines(mask)
    assert not clean[40, 10] and not clean[80, 190]
    assert clean[70, 103] and clean[140, 103]
    alone = np.zeros((200, 200), bool)
    alone[2:198, 100:104] = True  # a tall '1' from edge to edge is the drawing
    np.testing.assert_array_equal(without_lines(alone), alone)


def test_main_strokes_drops_specks_and_edge_pieces():
    mask = np.zeros((200, 200), bool)
    mask[50:150, 90:110] = True  # the digit
    mask[20, 20] = mask[180, 170] = True  # specks
    mask[0:200, 0:8] = True  # a table's edge along the left side
    kept = main_strokes(mask)
    np.testing.assert_array_equal(kept, np.pad(np.ones((100, 20), bool), ((50, 50), (90, 90))))
    edge_only = np.zeros((100, 100), bool)
    edge_only[0:60, 40:46] = True  # a drawing that touches the edge is kept when it is all there is
    np.testing.assert_array_equal(main_strokes(edge_only), edge_only)


@pytest.mark.parametrize("width", [4, 8, 12, 20])
def test_stroke_width_of_a_bar(width):
    bar = np.zeros((80, 80), np.float32)
    bar[5:75, 30:30 + width] = 255
    assert stroke_width(bar) == pytest.approx(width, rel=0.15)


def width_in_box(patch: np.ndarray) -> float:
    """Stroke width in pixels once the patch is fitted into MNIST's 20-px box."""
    return stroke_width(cleanup.resized(patch, 20 * cleanup.FINE)) / cleanup.FINE


def test_thin_strokes_thicken_to_mnists_width_and_normal_ones_stay():
    thin = np.zeros((200, 200), np.float32)
    thin[10:190, 100] = 255  # 1 px in 180: 0.1 px once in the 20-px box
    low, _, high = cleanup.MNIST_STROKE
    assert width_in_box(thin) < low
    assert low <= width_in_box(normalise_width(thin)) <= high
    normal = np.zeros((80, 80), np.float32)
    normal[4:76, 36:46] = 255  # 10 px at 4x: 2.5 px, inside MNIST's range
    assert normalise_width(normal) is normal


def test_marker_strokes_thin_down():
    marker = 255 - pixels(seven(width=80))
    low, _, high = cleanup.MNIST_STROKE
    assert width_in_box(marker) > high
    assert low <= width_in_box(normalise_width(marker)) <= high


def test_a_photographed_digit_reads_like_the_drawing():
    drawn = digit(pixels(seven()))[0]
    photo = Image.new("RGB", (640, 480), (60, 50, 40))  # a table
    page = seven(size=360, width=14, ink=(25, 40, 170), paper=(235, 230, 215), mode="RGB")
    photo.paste(page, (140, 60))
    a = np.asarray(photo, np.float32).copy()
    a[60:420, 140:500] -= np.linspace(0, 50, 360, dtype=np.float32)[None, :, None]  # a shadow
    for y in range(90, 420, 40):
        a[y, 140:500] = (150, 170, 210)  # ruled lines
    a[100:103, 160:163] = 30  # a speck
    seen, negated = digit(np.clip(a, 0, 255))
    assert negated and overlap(seen, drawn) > 0.6


def test_digit_of_an_mnist_image_keeps_it():
    blob = np.zeros((28, 28), np.float32)
    blob[4:24, 13:16] = 255  # a '1' 20 px tall, 3 px wide: already MNIST's size and stroke
    seen, negated = digit(blob)
    assert not negated and overlap(seen, blob.astype(np.uint8)) > 0.7


def test_garment_keeps_a_fashion_mnist_image_as_it_is():
    item = np.zeros((28, 28), np.float32)
    item[:, 6:23] = np.rint(np.linspace(30, 200, 17))  # touches top and bottom: longest side already 28
    item[0, 6] = 3  # a faint corner pixel is part of the item, as in Fashion-MNIST
    seen, negated = garment(item)
    assert not negated
    np.testing.assert_array_equal(seen, item.astype(np.uint8))


def test_garment_drops_specks_but_keeps_a_sandals_straps():
    sandal = np.zeros((100, 100), np.float32)
    sandal[70:80, 10:90] = 200  # sole
    for x in (20, 45, 70):
        sandal[40:66, x:x + 6] = 180  # straps, a gap above the sole
    sandal[5, 95] = 200  # a speck in the corner
    seen, _ = garment(sandal)
    top, left = np.flatnonzero(seen.any(1))[0], np.flatnonzero(seen.any(0))[0]
    assert left == 0 and top > 5  # the box is the sandal's, not the speck's
    assert (seen[:, 14] > 0).any()  # a strap survived


def test_shading_follows_the_papers_light_and_not_an_item_on_the_edge():
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    light = 40 * ((xx - 80) / 80) ** 2 + 10 * (yy / 120)  # darker at the sides and the bottom
    photo = light.copy()
    photo[30:90, 50:110] = 150  # the item
    np.testing.assert_allclose(shading(photo), light, atol=2)
    item = np.zeros((28, 28), np.float32)
    item[:, 9:19] = 200  # trousers touch the top and bottom edges: no shading there
    assert np.abs(shading(item)).max() < 1


def test_garment_photo_on_shaded_paper_is_boxed_to_the_item():
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    paper = 235 - 60 * (np.hypot(yy - 150, xx - 200) / 250) ** 2  # lighter in the middle
    photo = paper.copy()
    photo[60:240, 150:250] = 90  # a dark dress, 180 tall, 100 wide
    seen, negated = garment(photo)
    rows, cols = np.flatnonzero(seen.any(1)), np.flatnonzero(seen.any(0))
    assert negated and rows[0] == 0 and rows[-1] == 27  # the dress's height is the longest side
    assert 14 <= cols[-1] - cols[0] + 1 <= 17  # 100/180 of 28: not the paper's width


def test_an_outline_is_filled_and_a_solid_item_is_not():
    mask = np.zeros((100, 100), bool)
    mask[10:90, 20:80] = True
    mask[13:87, 23:77] = False  # a drawn rectangle, 3 px lines
    ink = mask * np.float32(255)
    filled = filled_outline(ink, mask)
    assert filled[50, 50] == pytest.approx(cleanup.FILL_LEVEL * 255) and filled[10, 50] == 255
    assert filled[5, 5] == 0
    solid = np.zeros((100, 100), np.float32)
    solid[10:90, 20:80] = 200
    assert filled_outline(solid, solid > 0) is solid


def test_tilted_ruled_lines_go_and_a_drawn_fours_long_stroke_stays():
    mask = np.zeros((360, 480), bool)
    for y0 in range(30, 360, 40):  # ruled lines tilted by 1.5 degrees, 2 px thick
        for x in range(480):
            y = int(y0 + x * np.tan(np.radians(1.5)))
            mask[y:y + 2, x] = y + 2 <= 360
    digit = np.zeros_like(mask)
    digit[150:200, 230:234] = True  # a small '1' written on them
    clean = without_lines(mask | digit)
    assert clean[digit].mean() > 0.8  # the lines crossing it cut it a little
    assert (clean & ~digit).sum() < 0.15 * (mask & ~digit).sum()  # what is left: bits main_strokes drops
    four = np.zeros((280, 280), bool)
    four[30:250, 180:198] = True  # a four's long stroke, 79% of the canvas, drawn 18 px wide
    four[140:158, 60:230] = True
    four[30:150, 60:78] = True
    np.testing.assert_array_equal(without_lines(four), four)


def test_a_fat_digit_in_a_big_image_is_not_paper():
    eight = np.zeros((200, 200), np.float32)
    yy, xx = np.ogrid[:200, :200]
    for cy in (65, 135):  # two fat loops, white on black
        eight[np.abs(np.hypot(yy - cy, xx - 100) - 32) < 14] = 255
    assert polarity(eight, find_paper=True) == (False, None)
    small = np.full((28, 28), 30.0)
    small[3:25, 3:25] = 220  # a light square with a mark, 28 px: a digit image, never a photo
    small[12:16, 12:16] = 30
    assert polarity(small, find_paper=True) == (False, None)


def test_a_thick_drawn_shoe_outline_is_filled_and_a_small_items_gaps_are_not():
    img = Image.new("L", (400, 400), 0)  # as drawn on Predict's canvas: a closed outline, thick brush
    shoe = [(300, 260), (300, 200), (225, 180), (190, 210), (100, 235), (100, 260), (300, 260)]
    ImageDraw.Draw(img).line(shoe, fill=255, width=24, joint="curve")
    ink = pixels(img)
    mask = ink > 0
    assert filled_outline(ink, mask)[240, 200] == pytest.approx(cleanup.FILL_LEVEL * 255)
    small = np.zeros((28, 28), np.float32)
    small[8:20, 4:24] = 200
    small[11:17, 8:20] = 0  # a 28x28 item with a gap inside (a sandal's), as Fashion-MNIST has
    assert filled_outline(small, small > 0) is small
