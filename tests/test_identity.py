import threading

import numpy as np
import pytest
from PIL import Image
from skimage import data

from avatargen.engine import identity
from avatargen.engine.identity import (
    CROP_SIZE,
    MIN_FACE_PIXELS,
    NO_FACE_MESSAGE,
    FaceBox,
    find_face,
    identity_crop,
    identity_crops,
    require_face,
)
from avatargen.errors import FaceTooSmall, NoFaceFound, UserError

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")

ASTRONAUT = Image.fromarray(data.astronaut())  # Eileen Collins, face about x 175-280, y 70-170
COFFEE = Image.fromarray(data.coffee())  # a cup of coffee: no face


def assert_astronaut_face(face: FaceBox | None, dx: int = 0, dy: int = 0, scale: float = 1.0) -> None:
    assert face is not None
    assert face.score > 0.7
    cx, cy = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    assert abs(cx - (dx + 227 * scale)) < 20 * scale and abs(cy - (dy + 120 * scale)) < 20 * scale
    assert 80 * scale < face.width < 130 * scale and 80 * scale < face.height < 130 * scale


def test_finds_the_astronauts_face():
    assert_astronaut_face(find_face(ASTRONAUT))


@pytest.mark.parametrize(
    "image",
    [COFFEE, Image.fromarray(data.chelsea()), Image.new("RGB", (640, 480), (128, 128, 128))],
    ids=["coffee", "cat", "grey"],
)
def test_no_face_gives_none(image: Image.Image):
    assert find_face(image) is None


def test_the_detector_loads_once_and_finds_the_same_face_every_time():
    # its speed after the first load: bench/identity.py
    first = find_face(ASTRONAUT)
    detectors = identity._detectors
    assert detectors is not None
    assert [find_face(ASTRONAUT) for _ in range(3)] == [first] * 3
    assert identity._detectors is detectors


def test_a_small_face_in_a_big_photo():
    # a full-body shot: the face is ~2.5% of the photo's width, found in the second, tiled look
    photo = Image.new("RGB", (2000, 2000), (90, 90, 90))
    photo.paste(ASTRONAUT.resize((256, 256)), (800, 1200))
    assert_astronaut_face(find_face(photo), dx=800, dy=1200, scale=0.5)


def test_exif_orientation_is_applied():
    # a phone photo stored sideways, with the EXIF tag that tells viewers to rotate it back
    sideways = ASTRONAUT.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    stored = Image.open(_jpeg(sideways, exif))
    assert_astronaut_face(find_face(stored))


def _jpeg(image: Image.Image, exif: Image.Exif):
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    buffer.seek(0)
    return buffer


def test_thread_safe():
    results: list[FaceBox | None] = []

    def find() -> None:
        for image in (ASTRONAUT, COFFEE):
            results.append(find_face(image))

    threads = [threading.Thread(target=find) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    faces = [face for face in results if face is not None]
    assert len(results) == 8 and len(faces) == 4
    assert len(set(faces)) == 1


def test_require_face_refuses_a_photo_without_one():
    assert require_face(ASTRONAUT) == find_face(ASTRONAUT)
    with pytest.raises(NoFaceFound) as error:
        require_face(COFFEE)
    assert isinstance(error.value, UserError)
    assert str(error.value) == NO_FACE_MESSAGE


def test_identity_crop_frames_the_face():
    crop = identity_crop(ASTRONAUT)
    assert crop.size == (CROP_SIZE, CROP_SIZE) and crop.mode == "RGB"
    face = find_face(crop)
    assert face is not None
    # the face fills about half the crop, centred, with room for hair above
    assert 0.4 < face.width / CROP_SIZE < 0.7
    assert abs((face.left + face.right) / 2 - CROP_SIZE / 2) < 0.1 * CROP_SIZE
    assert face.top > 0.15 * CROP_SIZE


def test_identity_crop_stays_inside_the_photo():
    # a face at the photo's edge: the square shifts inside rather than padding
    edge = ASTRONAUT.crop((150, 40, 512, 512))
    crop = identity_crop(edge, size=64)
    assert crop.size == (64, 64)
    assert find_face(edge) is not None


def test_identity_crop_without_a_face_is_central():
    crop = identity_crop(COFFEE, size=100)  # 600x400 landscape: the middle square
    expected = COFFEE.crop((100, 0, 500, 400)).resize((100, 100), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(crop), np.asarray(expected))

    portrait = Image.fromarray(np.asarray(COFFEE).transpose(1, 0, 2).copy())  # 400x600: the upper middle
    crop = identity_crop(portrait, size=100)
    expected = portrait.crop((0, 40, 400, 440)).resize((100, 100), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(crop), np.asarray(expected))


def tilted(image: Image.Image, degrees: float) -> Image.Image:
    """`image` turned counter-clockwise (as seen) by `degrees` about its centre, corners filled grey."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))


def test_the_eyes_are_found_level_on_an_upright_face():
    face = find_face(ASTRONAUT)
    assert face is not None and face.eyes is not None
    (x0, y0), (x1, y1) = face.eyes
    assert face.left < x0 < x1 < face.right and face.top < y0 < face.bottom and face.top < y1 < face.bottom
    assert abs(face.tilt) < 6


def test_identity_crop_levels_a_tilted_head():
    photo = tilted(ASTRONAUT, 25)  # counter-clockwise: the eye line rises to the right
    face = find_face(photo)
    assert face is not None and -33 < face.tilt < -17
    crop = identity_crop(photo)
    in_crop = find_face(crop)
    assert in_crop is not None and abs(in_crop.tilt) < 6
    # as it was: without turning, the crop keeps the tilt
    assert abs(find_face(photo.crop((100, 20, 400, 320))).tilt) > 17


def test_a_face_too_small_is_refused_with_what_works():
    small = ASTRONAUT.resize((300, 300))  # the face is about 60 px wide
    face = find_face(small)
    assert face is not None and face.width < MIN_FACE_PIXELS
    with pytest.raises(FaceTooSmall) as error:
        require_face(small)
    assert isinstance(error.value, UserError)
    assert f"only {face.width} pixels wide" in str(error.value) and "at least 80" in str(error.value)
    assert "head-and-shoulders" in str(error.value)
    big_enough = ASTRONAUT.resize((400, 400))  # about 80 px and more
    assert require_face(big_enough).width >= MIN_FACE_PIXELS


def test_identity_crops_of_several_photos_keep_those_with_a_face():
    crops = identity_crops([ASTRONAUT, COFFEE, tilted(ASTRONAUT, -20)])
    assert len(crops) == 2 and all(crop.size == (CROP_SIZE, CROP_SIZE) for crop in crops)
    assert np.array_equal(np.asarray(crops[0]), np.asarray(identity_crop(ASTRONAUT)))
    assert all(find_face(crop) is not None for crop in crops)
    # no face anywhere: the first photo's central square, as one photo alone gives
    (only,) = identity_crops([COFFEE, Image.fromarray(data.chelsea())])
    assert np.array_equal(np.asarray(only), np.asarray(identity_crop(COFFEE)))
