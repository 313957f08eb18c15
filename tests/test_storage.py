import zlib
from pathlib import Path

import pytest
from PIL import Image

from avatargen.errors import InvalidPhoto
from avatargen.storage.photos import MAX_DECODED_SIDE, load_photo
from avatargen.storage.store import Storage, safe_name

LIMITS = {"max_bytes": 20_000_000, "max_pixels": 40_000_000}


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG file that claims a huge size: a decompression bomb as far as the header goes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_text_file_named_png_is_refused(tmp_path):
    fake = tmp_path / "me.png"
    fake.write_text("definitely not a picture")
    with pytest.raises(InvalidPhoto, match="not a photo we can read"):
        load_photo(fake, **LIMITS)


def test_truncated_jpeg_is_refused(tmp_path, photo):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(InvalidPhoto, match="damaged or incomplete"):
        load_photo(cut, **LIMITS)


@pytest.mark.parametrize(("width", "height"), [(10_000, 10_000), (60_000, 60_000)])
def test_decompression_bombs_are_refused_before_decoding(tmp_path, width, height):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, width, height)
    assert bomb.stat().st_size < 2000
    with pytest.raises(InvalidPhoto, match="limit is 40 MP"):
        load_photo(bomb, **LIMITS)


def test_real_compressed_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (8000, 6000)).save(bomb)  # 48 MP of zeros in a few kB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InvalidPhoto, match="48 MP"):
        load_photo(bomb, **LIMITS)


def test_file_over_the_byte_limit_is_refused_in_the_units_it_names(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * 27_000_000)
    with pytest.raises(InvalidPhoto, match=r"^The photo is 27 MB; the limit is 20 MB\.$"):
        load_photo(big, **LIMITS)


def test_an_upload_that_is_gone_says_so(tmp_path):
    with pytest.raises(InvalidPhoto, match="upload it again"):
        load_photo(tmp_path / "expired.jpg", **LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_big_photos_come_out_no_larger_than_the_engine_can_use(tmp_path, photo, fmt):
    with Image.open(photo) as small:
        big = small.resize((6000, 6000))
    path = tmp_path / f"big.{fmt.lower()}"
    big.save(path, format=fmt)
    image = load_photo(path, **LIMITS)
    assert image.size == (MAX_DECODED_SIDE, MAX_DECODED_SIDE) and image.mode == "RGB"
    assert image.getpixel((1024, 600)) != (0, 0, 0)


def test_jpegs_decode_at_a_reduced_scale(tmp_path, photo, monkeypatch):
    with Image.open(photo) as small:
        small.resize((6000, 4000)).save(tmp_path / "big.jpg", quality=90)
    decoded = []
    load = Image.Image.load

    def record(image):
        result = load(image)
        decoded.append(image.size)
        return result

    monkeypatch.setattr(Image.Image, "load", record)
    assert load_photo(tmp_path / "big.jpg", **LIMITS).size == (2048, 1365)
    assert all(max(size) <= 3000 for size in decoded)  # decoded at half scale, never the full 24 MP


def test_tiny_image_is_refused(tmp_path):
    small = tmp_path / "icon.png"
    Image.new("RGB", (32, 32)).save(small)
    with pytest.raises(InvalidPhoto, match="at least 64 pixels"):
        load_photo(small, **LIMITS)


def test_exif_orientation_is_applied_and_metadata_dropped(tmp_path):
    # Stored landscape 300x200 with "rotate 90° clockwise to display": the person sees a 200x300 portrait.
    stored = Image.new("RGB", (300, 200), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 150, 200))  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)

    upright = load_photo(path, **LIMITS)
    assert upright.size == (200, 300)
    top, bottom = upright.getpixel((100, 10)), upright.getpixel((100, 290))
    assert top[0] > 200 and top[1] < 60  # stored left (red) is now on top
    assert min(bottom) > 200

    storage = Storage(tmp_path / "store")
    key = storage.save_image(upright, kind="uploads", user_id=7, name="rotated.jpg")
    with Image.open(storage.path(key)) as saved:
        assert saved.size == (200, 300)
        assert not saved.getexif()


def test_transparent_png_becomes_rgb_on_white(tmp_path):
    path = tmp_path / "cutout.png"
    Image.new("RGBA", (100, 100), (0, 0, 0, 0)).save(path)
    image = load_photo(path, **LIMITS)
    assert image.mode == "RGB" and image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\win.ini", "/abs/olute.png", "....//x.png", ""])
def test_names_a_person_sends_stay_in_their_folder(tmp_path, name):
    storage = Storage(tmp_path / "store")
    key = storage.save_image(Image.new("RGB", (64, 64)), kind="uploads", user_id=3, name=name)
    assert key.startswith("uploads/avatar-generator/3/")
    assert storage.path(key).parent == (tmp_path / "store/uploads/avatar-generator/3").resolve()
    assert "/" not in safe_name(name, suffix=".jpg")


def test_keys_outside_the_root_are_refused(tmp_path):
    storage = Storage(tmp_path / "store")
    with pytest.raises(ValueError, match="leaves the storage root"):
        storage.path("../outside.png")


def test_outputs_keep_their_colours_and_delete_removes_them(tmp_path):
    storage = Storage(tmp_path / "store")
    key = storage.save_image(Image.new("RGB", (64, 64), (30, 90, 200)), kind="outputs", user_id=1, name="avatar-1")
    assert key.startswith("outputs/avatar-generator/1/") and key.endswith("-avatar-1.jpg")
    with Image.open(storage.path(key)) as image:
        assert (
            image.format == "JPEG"
            and max(abs(a - b) for a, b in zip(image.getpixel((5, 5)), (30, 90, 200), strict=True)) <= 2
        )
    storage.delete(key)
    assert not storage.path(key).exists()
    assert list(storage.path(key).parent.iterdir()) == []  # no temp files left behind


def test_png_roundtrip_through_bytes_loader(tmp_path):
    path = tmp_path / "ok.webp"
    Image.new("RGB", (128, 96), "green").save(path, format="WEBP")
    assert load_photo(path, **LIMITS).size == (128, 96)
