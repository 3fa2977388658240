"""cleanup.py step by step, on arrays made here: each step does what its docstring says."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage as ndi

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
    item[:, 6:23] = np.rint(np.linspace(30, 255, 17))  # touches top and bottom: longest side already 28
    item[0, 6] = 3  # a faint corner pixel is part of the item, as in Fashion-MNIST
    seen, negated = garment(item)
    assert not negated
    np.testing.assert_array_equal(seen, item.astype(np.uint8))


def test_a_dim_garment_is_made_as_bright_as_every_fashion_mnist_item():
    # every one of Fashion-MNIST's 60,000 training images has its brightest pixel at 254 or 255;
    # a grey boot on a beige table stands out from it by 100 grey levels at most
    item = np.zeros((28, 28), np.float32)
    item[:, 6:23] = np.linspace(20, 100, 17)
    seen, _ = garment(item)
    assert seen.max() == 254  # (254: a Fashion-MNIST image with it at 254 comes out as it went in)
    np.testing.assert_allclose(seen[:, 6:23], item[:, 6:23] * 2.54, atol=1)  # its shading kept
    photo = np.full((300, 400, 3), (200, 190, 170), np.float32)  # a beige table, unevenly lit
    photo *= np.linspace(0.9, 1.05, 400)[None, :, None]
    photo[60:240, 120:280] = 110  # a grey item 90 levels darker than the table
    seen, negated = garment(photo)
    assert negated and seen.max() >= 254 and (seen > 200).mean() > 0.3


def test_a_garment_shrunk_to_28_px_is_sharpened_as_fashion_mnists_were(monkeypatch):
    shirt = np.zeros((280, 280), np.float32)
    shirt[:, 60:220] = 200  # a shirt 280 px tall, 160 wide
    shirt[:, 140:145] = 120  # its button placket, half a pixel wide at 28 px: pixel 14

    def placket(item):  # how much darker the placket's column is than the shirt beside it
        seen, _ = garment(item)
        return float(seen[5:23, 12].mean() - seen[5:23, 14].mean()), seen
    sharp, seen = placket(shirt)
    monkeypatch.setattr(cleanup, "SHARPEN", 0.0)
    soft, plain = placket(shirt)
    assert soft == pytest.approx(40 * 254 / 200, abs=4) and sharp > 1.4 * soft  # the seam stands out again
    assert plain.max() == 254 and seen.max() <= 255  # within Fashion-MNIST's brightness
    assert np.array_equal(seen > 0, plain > 0)  # the black around it stays black
    small = shirt[::7, ::7]  # the same shirt 40 px tall: hardly shrunk, not sharpened
    unsharpened = garment(small)[0]
    monkeypatch.setattr(cleanup, "SHARPEN", 4.0)
    assert np.array_equal(garment(small)[0], unsharpened)


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


def table(h=300, w=400, colour=(150, 100, 60), seed=0) -> np.ndarray:
    """A photo of a wooden table: streaks of grain along x, light falling off to one side, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 1 + 0.08 * np.sin(yy / 3.0 + 2 * np.sin(xx / 60.0))  # brighter and darker streaks
    light = 1.1 - 0.3 * xx / w
    surface = np.float32(colour) * (grain * light)[..., None]
    return np.clip(surface + rng.normal(0, 2, surface.shape), 0, 255).astype(np.float32)


def test_a_blue_item_on_a_brown_table_of_the_same_grey_is_found_by_its_colour():
    photo = table()
    light = (1.1 - 0.3 * np.arange(400, dtype=np.float32) / 400)[None, 150:250, None]
    photo[60:240, 150:250] = np.float32((60, 110, 255)) * light  # grey 111.6; the table's 110.4
    grey = cleanup.gray_of(photo)
    assert abs(float(np.median(grey[60:240, 150:250]) - np.median(grey[:50, 150:250]))) < 6  # colour only
    seen, _ = garment(photo)
    rows, cols = np.flatnonzero(seen.any(1)), np.flatnonzero(seen.any(0))
    assert rows[0] == 0 and rows[-1] == 27  # its height is the longest side: the grain stays out
    assert 14 <= cols[-1] - cols[0] + 1 <= 17  # 100/180 of 28
    assert seen[3:25, cols[0] + 2:cols[-1] - 1].min() > 100  # solid and bright, as Fashion-MNIST's


def test_a_dark_item_on_a_dark_cloth_is_found():
    photo = np.full((300, 400, 3), (90, 90, 95), np.float32)  # grey cloth: darker than mid-grey
    photo[60:240, 150:250] = (20, 25, 60)  # a navy dress, darker still
    light = 1.1 - 0.3 * np.mgrid[0:300, 0:400][1].astype(np.float32) / 400  # falling off to the right
    seen, negated = garment(photo * light[..., None] + np.random.default_rng(1).normal(0, 2, photo.shape))
    rows, cols = np.flatnonzero(seen.any(1)), np.flatnonzero(seen.any(0))
    assert negated and rows[0] == 0 and rows[-1] == 27 and 14 <= cols[-1] - cols[0] + 1 <= 17


def test_stand_out_tells_a_hue_from_the_grain_and_the_light():
    photo = table()
    photo[100:200, 150:250] = np.float32((60, 110, 255)) * 0.95  # a blue item, the table's grey
    away = cleanup.off_background(photo, photo=True)
    along, across = cleanup.stand_out(away, photo)
    assert np.median(across[120:180, 170:230]) > 5  # the item, across the table's colour
    grain = np.percentile(across[:60], 95), np.percentile(np.abs(along[:60]), 95)
    assert max(grain) < cleanup.ABOVE_TEXTURE  # the grain stays under what an item's pixels reach


def test_an_empty_table_or_a_plain_wall_is_blank():
    with pytest.raises(BlankImage):
        garment(table())  # grain, uneven light, noise: nothing stands out
    xx = np.mgrid[0:300, 0:400][1].astype(np.float32)
    wall = 200 - 40 * ((xx - 150) / 400) ** 2 + np.random.default_rng(2).normal(0, 3, (300, 400))
    with pytest.raises(BlankImage):
        garment(np.repeat(wall[..., None], 3, axis=2) * np.float32((1, 0.95, 0.85)))  # cream, shaded


def test_an_item_has_an_edge_and_a_sheets_fold_has_none():
    yy, xx = np.mgrid[0:200, 0:200].astype(np.float32)
    item = np.where((np.abs(yy - 100) < 50) & (np.abs(xx - 100) < 50), 4.0, 0.5)
    fold = 4 * np.exp(-((yy - 100) ** 2 + (xx - 100) ** 2) / (2 * 40 ** 2))  # as high, but soft
    assert cleanup.edge_step(item, item > 2) > 3
    assert cleanup.edge_step(fold, fold > 2) < cleanup.EDGE_STEP


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


def test_a_ruled_line_broken_by_a_shadow_goes_with_its_dashes_and_a_bar_off_the_lines_stays():
    mask = np.zeros((360, 480), bool)
    mask[40::28] = True  # ruled paper, a line every 28 px
    mask[12, 230:] = True  # the top line, in a shadow on the left: too short to span the image ...
    for x in range(0, 220, 30):
        mask[12, x:x + 20] = True  # ... and dashes (each a piece main_strokes would keep)
    one = np.zeros_like(mask)
    one[186:250, 315:318] = True  # a short thin '1' written across two lines
    bar = np.zeros_like(mask)
    bar[26, 100:170] = True  # a thin bar between the lines (a '4's, a '7's)
    clean = cleanup.without_lines(mask | one | bar)
    assert not clean[12].any() and not clean[40::28].any()
    assert clean[one].mean() > 0.9 and clean[bar].all()


def blurred_scan(small: np.ndarray, sigma: float, side: int = 300) -> np.ndarray:
    """A scan at the resolution of `small` (grey, dark on light) blurred by `sigma` px, then
    scaled up (bilinear) to `side` px, as a scanner's driver or a phone's zoom does."""
    img = Image.fromarray(small.astype(np.uint8))
    if sigma:
        img = img.filter(ImageFilter.GaussianBlur(sigma))
    return pixels(img.resize((side, side), Image.Resampling.BILINEAR if sigma else Image.Resampling.BOX))


def test_blur_of_measures_an_edges_blur_in_the_images_own_pixels():
    bar = np.zeros((200, 200), np.float32)
    bar[20:180, 70:130] = 200
    assert cleanup.blur_of(bar) < cleanup.UPSAMPLED  # sharp
    for sigma in (4, 8):
        assert cleanup.blur_of(ndi.gaussian_filter(bar, sigma)) == pytest.approx(sigma, rel=0.2)


@pytest.mark.parametrize("sigma", [0.8, 1.0, 1.2])
def test_a_blurred_upscaled_stroke_keeps_its_width(sigma):
    """A '1' 12 px tall, 2 px wide in a small scan, blurred and scaled up 12.5x: in the 28x28
    image, its stroke is as wide at half height as the same stroke scanned sharp (the blur is
    taken out, not thresholded into a fat stroke or made thicker by the shrinking)."""
    small = np.full((24, 24), 235, np.float32)
    small[6:18, 11:13] = 30

    def width(seen):  # across the stroke's middle rows, at half its height
        across = seen[10:18].astype(np.float32).mean(axis=0)
        return float(np.clip((across / across.max() - 0.25) / 0.5, 0, 1).sum())
    sharp = width(digit(blurred_scan(small, 0))[0])
    assert width(digit(blurred_scan(small, sigma))[0]) == pytest.approx(sharp, abs=0.6)


def test_a_blurred_upscaled_loop_stays_open():
    img = Image.new("L", (96, 96), 235)
    ImageDraw.Draw(img).ellipse((36, 24, 64, 72), outline=30, width=8)  # a '0' 12 px tall, 2 px pen, at 4x
    seen, _ = digit(blurred_scan(np.asarray(img.reduce(4)), 1.0))
    assert seen[12:16, 12:16].mean() < 64 and seen.max() == 255  # a dark hole inside a bright ring


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


def test_stand_out_stays_finite_where_the_surfaces_light_falls_to_nothing():
    """A fitted light that dips to 0 at a dark corner made 0/0 (NaN) and an item of noise."""
    black = np.zeros((50, 50, 3), np.float32)
    along, across = cleanup.stand_out(black - 1, black)  # the surface's colour there: 0
    assert np.isfinite(along).all() and np.isfinite(across).all()


def test_noise_is_not_called_blank_by_the_garments_clean_up():
    """Uniform noise is no garment, but not blank to the eye: the message says nothing stands
    out from its background; a flat grey image stays "blank"."""
    from classifier.images.errors import BLANK, NOTHING_STANDS_OUT
    from classifier.images.preprocess import prepare
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    for image in (noise, noise[..., 0]):
        with pytest.raises(BlankImage) as refused:
            prepare(Image.fromarray(image), (28, 28, 1), "fashion")
        assert str(refused.value) == NOTHING_STANDS_OUT
    with pytest.raises(BlankImage) as refused:
        prepare(Image.fromarray(np.full((200, 200), 128, np.uint8)), (28, 28, 1), "fashion")
    assert str(refused.value) == BLANK
