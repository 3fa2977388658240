"""Folder and zip loading, on image folders and zips generated in tmp_path."""
from __future__ import annotations

import io
import stat
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.data.folders import (
    FolderReport,
    extract_zip,
    load_image_folder,
    load_image_zip,
)


def save_image(path: Path, mode: str, size: tuple[int, int], value: int) -> None:
    """A solid image of the given PIL mode and (width, height); format from the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":
        img = Image.new("P", size, 0)
        img.putpalette([value, value, value] * 256)
    else:
        fill = {"L": value, "RGB": (value,) * 3, "RGBA": (value, value, value, 255)}[mode]
        img = Image.new(mode, size, fill)
    img.save(path)


def make_three_classes(root: Path) -> Path:
    """'apple' (5 PNG, mixed modes/sizes), 'banana' (5 JPEG), 'cherry' (10 PNG): 20 images."""
    modes = ["RGBA", "P", "L", "RGB", "RGBA"]
    for i, mode in enumerate(modes):
        save_image(root / "apple" / f"a{i}.png", mode, (20 + 7 * i, 30), 40)
        save_image(root / "banana" / f"b{i}.jpg", "RGB" if i % 2 else "L", (64, 48), 120)
    for i in range(10):
        save_image(root / "cherry" / f"c{i}.png", "L", (28, 28), 200)
    return root


def zip_of(path: Path, entries: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def png_bytes(value: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), value).save(buf, "PNG")
    return buf.getvalue()


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------- folders

def test_three_classes_load_with_shapes_labels_and_stratified_split(tmp_path):
    ds, report = load_image_folder(make_three_classes(tmp_path / "fruit"))
    assert ds.class_names == ["apple", "banana", "cherry"]
    assert ds.key == "folder" and ds.title == "fruit" and ds.style == "plain"
    assert ds.source == f"folder {tmp_path / 'fruit'}"
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape[1:] == (28, 28, 1)
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert len(ds.x_train) + len(ds.x_test) == 20
    assert ds.class_counts("test") == {"apple": 1, "banana": 1, "cherry": 2}
    assert ds.class_counts("train") == {"apple": 4, "banana": 4, "cherry": 8}
    assert ds.x_val is None and report.skipped == [] and report.summary() == "no files skipped"
    # labels follow folders: each class was filled with one grey level (JPEG is lossy)
    for label, grey in enumerate([40, 120, 200]):
        assert np.abs(ds.x_train[ds.y_train == label].astype(int) - grey).max() <= 3


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    root = tmp_path / "data"
    for c in "ab":
        for i in range(10):
            save_image(root / c / f"{i}.png", "L", (8, 8), 10 * i)
    first, _ = load_image_folder(root, seed=3)
    again, _ = load_image_folder(root, seed=3)
    other, _ = load_image_folder(root, seed=4)
    assert np.array_equal(first.x_test, again.x_test)
    assert np.array_equal(first.y_train, again.y_train)
    assert not np.array_equal(first.x_test, other.x_test)


def test_rgb_has_three_channels_and_transparency_goes_white(tmp_path):
    root = tmp_path / "data"
    for c in ("x", "y"):
        (root / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGBA", (10, 12), (255, 0, 0, 0)).save(root / c / f"{i}.png")
    ds, _ = load_image_folder(root, image_size=(16, 20), color="rgb")
    assert ds.x_train.shape[1:] == (16, 20, 3) and ds.image_shape == (16, 20, 3)
    assert (ds.x_train == 255).all()  # fully transparent red composited on white
    gray, _ = load_image_folder(root, image_size=(16, 20), color="grayscale")
    assert gray.x_train.shape[1:] == (16, 20, 1)


def test_non_image_and_corrupt_files_are_skipped_and_reported(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    (root / "apple" / "notes.txt").write_text("not an image")
    (root / "banana" / "broken.png").write_bytes(png_bytes()[:-30])  # truncated pixel data
    (root / "banana" / "garbage.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "cherry" / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored, not reported
    ds, report = load_image_folder(root)
    assert len(ds.y_train) + len(ds.y_test) == 20
    assert sorted(report.skipped) == [("apple/notes.txt", "not an image"),
                                      ("banana/broken.png", "unreadable"),
                                      ("banana/garbage.jpg", "unreadable")]
    assert report.summary() == ("skipped 3 files: 2 unreadable (banana/broken.png, "
                                "banana/garbage.jpg), 1 not an image (apple/notes.txt)")
    assert "skipped 3 files: 2 unreadable (banana/broken.png" in ds.summary()


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    root = tmp_path / "data"
    for c in "ab":
        (root / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16)).save(root / c / f"{i}.png")
    ds, _ = load_image_folder(root, image_size=(8, 8))
    assert (ds.x_train == 128).all()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_too_large_images_are_skipped(tmp_path, monkeypatch):
    root = make_three_classes(tmp_path / "fruit")
    save_image(root / "cherry" / "bomb.png", "L", (100, 100), 0)  # over Pillow's error limit
    save_image(root / "cherry" / "big.png", "L", (60, 60), 0)  # over its warning limit only
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3_500)
    ds, report = load_image_folder(root)
    assert sorted(report.skipped) == [("cherry/big.png", "too large"),
                                      ("cherry/bomb.png", "too large")]
    assert len(ds.y_train) + len(ds.y_test) == 20


def test_report_summary_plurals_and_names():
    report = FolderReport([("a", "not an image"), ("b", "not an image"), ("c", "unreadable")])
    assert report.summary() == "skipped 3 files: 2 not images (a, b), 1 unreadable (c)"
    many = FolderReport([(f"x/{i}.txt", "not an image") for i in range(5)])
    assert many.summary() == "skipped 5 files: 5 not images (x/0.txt, x/1.txt, x/2.txt and 2 more)"


def test_the_size_and_colour_used_are_said(tmp_path):
    """Colour photos made 28x28 grey by default: the dataset's line says so, and counts them."""
    entries = {f"pets/{c}/{i}.png": png_bytes(50 * k) for k, c in enumerate("ab") for i in range(3)}
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    entries["pets/a/red.png"] = buf.getvalue()
    zip_path = zip_of(tmp_path / "pets.zip", entries)
    grey, _ = load_image_zip(zip_path, tmp_path / "w1")
    assert "images resized to 28x28 grey; 1 of 7 were in colour" in grey.summary()
    colour, _ = load_image_zip(zip_path, tmp_path / "w2", image_size=(64, 64), color="rgb")
    assert "images resized to 64x64 colour)" in colour.summary()
    assert colour.image_shape == (64, 64, 3)


def test_nested_folders_inside_a_class(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    for i in range(3):
        save_image(root / "apple" / "more" / "deeper" / f"n{i}.png", "L", (9, 9), 40)
    (root / "apple" / ".hidden").mkdir()
    save_image(root / "apple" / ".hidden" / "skip.png", "L", (9, 9), 40)
    ds, _ = load_image_folder(root)
    assert ds.class_names == ["apple", "banana", "cherry"]
    assert sum(ds.class_counts("train").values()) + sum(ds.class_counts("test").values()) == 23


def test_max_per_class_subsamples_deterministically(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    ds, _ = load_image_folder(root, max_per_class=4)
    again, _ = load_image_folder(root, max_per_class=4)
    assert len(ds.y_train) + len(ds.y_test) == 12
    assert np.array_equal(ds.x_train, again.x_train)
    assert any("'cherry': used a random 4 of 10 files" in n for n in ds.notes)


def test_one_class_is_an_error(tmp_path):
    save_image(tmp_path / "pets" / "cats" / "1.png", "L", (8, 8), 1)
    with pytest.raises(ValueError, match=r"found 1 class folder \('cats'\); need at least 2, "
                                         r"one sub-folder per class"):
        load_image_folder(tmp_path / "pets")


def test_empty_class_is_an_error_naming_it(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    (root / "durian").mkdir()
    (root / "durian" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="no usable images in class folder.*'durian'"):
        load_image_folder(root)


def test_class_with_one_image_is_an_error(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    save_image(root / "durian" / "only.png", "L", (8, 8), 1)
    with pytest.raises(ValueError, match="class 'durian' has only 1 usable image"):
        load_image_folder(root)


def test_bad_root_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        load_image_folder(tmp_path / "file.txt")
    root = make_three_classes(tmp_path / "fruit")
    with pytest.raises(ValueError, match="color must be"):
        load_image_folder(root, color="RGBA")
    with pytest.raises(ValueError, match="test_share must be"):
        load_image_folder(root, test_share=1.0)


def test_two_thousand_small_pngs_load_quickly(tmp_path):
    root = tmp_path / "many"
    for c in range(4):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(500):
            Image.new("L", (32, 32), i % 256).save(root / f"c{c}" / f"{i}.png")
    start = time.perf_counter()
    ds, _ = load_image_folder(root)
    assert len(ds.y_train) + len(ds.y_test) == 2000
    assert time.perf_counter() - start < 10


def test_empty_files_are_skipped_by_suffix(tmp_path):
    root = make_three_classes(tmp_path / "fruit")
    (root / "apple" / "empty.png").write_bytes(b"")
    (root / "apple" / "empty.txt").write_bytes(b"")
    _, report = load_image_folder(root)
    assert sorted(report.skipped) == [("apple/empty.png", "unreadable"),
                                      ("apple/empty.txt", "not an image")]


def big_jpeg(width: int = 1600, height: int = 1200, orientation: int | None = None) -> bytes:
    """A photo-sized JPEG: black left quarter, white elsewhere (as stored), optional EXIF turn."""
    img = Image.new("L", (width, height), 255)
    img.paste(0, (0, 0, width // 4, height))
    exif = img.getexif()
    if orientation:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def test_big_exif_rotated_jpegs_load_upright(tmp_path):
    root = tmp_path / "photos"
    rotated = big_jpeg(1600, 800, orientation=6)  # displayed 800 wide, 1600 tall: black on top
    for c in "ab":
        (root / c).mkdir(parents=True)
        for i in range(2):
            (root / c / f"{i}.jpg").write_bytes(rotated)
    ds, report = load_image_folder(root, image_size=(28, 28), color="rgb", test_share=0)
    assert report.skipped == [] and ds.x_train.shape == (4, 28, 28, 3)
    top, bottom = ds.x_train[:, :6].astype(int), ds.x_train[:, 8:].astype(int)
    assert top.max() <= 10 and bottom.min() >= 245


def test_hundred_big_jpegs_load_quickly(tmp_path):
    root = tmp_path / "photos"
    data = big_jpeg()
    for c in "ab":
        (root / c).mkdir(parents=True)
        for i in range(50):
            (root / c / f"{i}.jpg").write_bytes(data)
    start = time.perf_counter()
    ds, _ = load_image_folder(root, image_size=(32, 32), color="rgb")
    elapsed = time.perf_counter() - start
    assert len(ds.y_train) + len(ds.y_test) == 100
    left, right = ds.x_train[:, :, :6].astype(int), ds.x_train[:, :, 10:].astype(int)
    assert left.max() <= 10 and right.min() >= 245  # the reduced-scale decode is still the photo
    assert elapsed < 3  # JPEGs are decoded at 1/8 scale (well under 1 s; ~2 s at full scale)


def test_import_does_not_load_tensorflow():
    import subprocess
    code = ("import sys, classifier.data.folders; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True).stdout
    assert out.strip() == "False False"


# ---------------------------------------------------------------- zips

@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/x", "a/../../evil.txt", "C:/evil.txt",
                                      "..\\evil.txt"])
def test_zip_with_escaping_path_is_refused_and_writes_nothing(tmp_path, bad_name):
    zip_path = zip_of(tmp_path / "up.zip", {"cats/1.png": png_bytes(), bad_name: b"pwned"})
    target = tmp_path / "work" / "out"
    before = all_files(tmp_path)
    with pytest.raises(ValueError, match="unsafe entry"):
        extract_zip(zip_path, target)
    assert all_files(tmp_path) == before  # nothing inside, beside or above the target
    assert not Path("/tmp/x").exists() or Path("/tmp/x").read_bytes() != b"pwned"


def test_zip_with_symlink_is_refused(tmp_path):
    info = zipfile.ZipInfo("cats/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as zf:
        zf.writestr("cats/1.png", png_bytes())
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        extract_zip(tmp_path / "up.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_bomb_is_refused_from_declared_sizes(tmp_path):
    zip_path = zip_of(tmp_path / "bomb.zip", {"a/zeros.bin": bytes(5_000_000)},
                      zipfile.ZIP_DEFLATED)
    assert zip_path.stat().st_size < 50_000
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ValueError, match="would unpack to 5,000,000 bytes; at most 1,000,000"):
        extract_zip(zip_path, target, max_total_bytes=1_000_000)
    with pytest.raises(ValueError, match="compression ratio over 200"):
        extract_zip(zip_path, target)
    assert list(target.iterdir()) == []


def test_zip_ratio_check_on_a_2mb_member(tmp_path):
    zip_path = zip_of(tmp_path / "z.zip", {"a/zeros.bin": bytes(2_000_000)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="zip bomb"):
        extract_zip(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    stored = zip_of(tmp_path / "s.zip", {"a/zeros.bin": bytes(2_000_000)})  # ratio 1: fine
    assert extract_zip(stored, tmp_path / "ok") == tmp_path / "ok"


def test_zip_with_too_many_files_is_refused(tmp_path):
    zip_path = zip_of(tmp_path / "many.zip", {f"c{i % 2}/{i}.txt": b"" for i in range(10_000)})
    with pytest.raises(ValueError, match="has 10,000 entries; at most 5,000"):
        extract_zip(zip_path, tmp_path / "out", max_files=5000)
    assert not (tmp_path / "out").exists()


def test_member_larger_than_its_header_is_stopped_and_cleaned_up(tmp_path):
    zip_path = zip_of(tmp_path / "lie.zip", {"a/1.png": png_bytes(), "b/big.bin": bytes(100_000)},
                      zipfile.ZIP_DEFLATED)
    raw = bytearray(zip_path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # the last member's central directory header
    raw[central + 24:central + 28] = (10).to_bytes(4, "little")  # claims 10 bytes uncompressed
    zip_path.write_bytes(bytes(raw))
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ValueError, match="could not be extracted"):
        extract_zip(zip_path, target)
    assert list(target.iterdir()) == []


def test_extraction_counts_real_bytes_not_the_header(tmp_path, monkeypatch):
    zip_path = zip_of(tmp_path / "z.zip", {"a/1.png": png_bytes(), "b/2.png": png_bytes()})
    real_open = zipfile.ZipFile.open

    def open_lying(self, info, *args, **kwargs):  # b/2.png unpacks to more than it declares
        if getattr(info, "filename", info) == "b/2.png":
            return io.BytesIO(bytes(info.file_size + 1))
        return real_open(self, info, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_lying)
    with pytest.raises(ValueError, match="'b/2.png' is larger than its header declares"):
        extract_zip(zip_path, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_not_a_zip_is_an_error(tmp_path):
    (tmp_path / "photo.zip").write_bytes(png_bytes())
    with pytest.raises(ValueError, match="photo.zip is not a readable zip file"):
        extract_zip(tmp_path / "photo.zip", tmp_path / "out")
    with pytest.raises(ValueError, match="is not a readable zip file"):
        extract_zip(tmp_path / "missing.zip", tmp_path / "out")


def test_zip_with_single_top_folder_and_macosx_entries(tmp_path):
    entries = {f"fruit/{c}/{i}.png": png_bytes(50 * k)
               for k, c in enumerate("ab") for i in range(3)}
    entries.update({"__MACOSX/fruit/a/._0.png": b"junk", "fruit/.DS_Store": b"junk",
                    "__MACOSX/._fruit": b"junk"})
    zip_path = zip_of(tmp_path / "fruit.zip", entries)
    holder = extract_zip(zip_path, tmp_path / "work")
    assert holder == tmp_path / "work" / "fruit"
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["fruit"]
    assert not (holder / ".DS_Store").exists()
    ds, report = load_image_zip(zip_path, tmp_path / "work2", color="rgb")
    assert ds.class_names == ["a", "b"] and ds.title == "fruit"
    assert ds.source == "uploaded zip fruit.zip" and ds.x_train.shape[1:] == (28, 28, 3)
    assert report.skipped == []


def test_zip_with_one_top_folder_and_a_top_level_readme(tmp_path):
    entries = {f"data/{c}/{i}.png": png_bytes() for c in ("cats", "dogs") for i in range(2)}
    entries["README.txt"] = b"hello"
    holder = extract_zip(zip_of(tmp_path / "pets.zip", entries), tmp_path / "work")
    assert holder == tmp_path / "work" / "data"


def test_zip_of_class_folders_at_top_level(tmp_path):
    entries = {f"{c}/{i}.png": png_bytes() for c in ("cats", "dogs") for i in range(2)}
    entries["dogs/empty/"] = b""
    holder = extract_zip(zip_of(tmp_path / "pets.zip", entries), tmp_path / "work")
    assert holder == tmp_path / "work"
    assert (holder / "dogs" / "empty").is_dir()
    ds, _ = load_image_folder(holder)
    assert ds.class_names == ["cats", "dogs"]
