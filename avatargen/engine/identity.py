"""The person's face: found in their photo with MediaPipe's offline face detector, cropped for the identity adapter.

Imports nothing of the engine (only `avatargen.errors`); the detector (mediapipe) loads on first use, once, and is
shared by all threads.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from avatargen.errors import FaceTooSmall, NoFaceFound

CROP_SIZE = 224  # the identity crop's side in pixels: the input size of the IP-Adapter's CLIP image encoder
MIN_FACE_PIXELS = 80  # a face narrower than this carries too little of the person for the identity adapter
NO_FACE_MESSAGE = (
    "We could not find a face in this photo. Please upload a well-lit photo where your face is clearly visible "
    "and not covered."
)
SMALL_FACE_MESSAGE = (
    "Your face is only {width} pixels wide in this photo; we need at least {least}. Please upload a closer photo, "
    "such as a head-and-shoulders shot where your face fills a good part of the frame."
)

_MIN_CONFIDENCE = 0.5
_MAX_SIDE = 1280  # larger photos are scaled down before detection: faster, and the detector sees at most 192 px
_MIN_TILE = 256  # photos at least twice this on their short side are searched again in tiles when no face shows
_CROP_SCALE = 1.8  # the crop's side over the face box's: takes in hair, chin and some neck
_CROP_LIFT = 0.15  # the crop's centre sits this many face heights above the box's: hair matters more than neck
_MIN_TILT = 3.0  # degrees: a head tilted less than this is cropped as it is

_lock = threading.Lock()
_detectors: list[Any] | None = None


@dataclass(frozen=True)
class FaceBox:
    """A face found in a photo, in pixels of the photo (upright, as EXIF orientation says)."""

    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive
    score: float  # the detector's confidence, 0 to 1
    # the eyes' centres (x, y), the one on the photo's left first; None when the detector gave none
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def tilt(self) -> float:
        """Degrees the eye line turns clockwise (as seen) from level; 0 without eyes."""
        if self.eyes is None:
            return 0.0
        (x0, y0), (x1, y1) = self.eyes
        return math.degrees(math.atan2(y1 - y0, x1 - x0))


# (left, top, width, height, score, eyes): relative to the image the detector saw
_Box = tuple[float, float, float, float, float, tuple[tuple[float, float], tuple[float, float]]]


def _load_detectors() -> list[Any]:
    global _detectors
    if _detectors is None:
        import mediapipe as mp

        # mediapipe's graph code calls a protobuf API that warns on every call; nothing for us to act on
        warnings.filterwarnings(
            "ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning
        )
        face_detection = mp.solutions.face_detection
        _detectors = [
            # full range (faces up to ~5 m away: half-body and full-body photos), then short range (close-ups)
            face_detection.FaceDetection(model_selection=1, min_detection_confidence=_MIN_CONFIDENCE),
            face_detection.FaceDetection(model_selection=0, min_detection_confidence=_MIN_CONFIDENCE),
        ]
    return _detectors


def _upright_rgb(image: Image.Image) -> Image.Image:
    return ImageOps.exif_transpose(image).convert("RGB")


def _detect(pixels: np.ndarray) -> list[_Box]:
    # relative to `pixels`; the lock: a mediapipe graph is not thread-safe
    with _lock:
        detectors = _load_detectors()
        for detector in detectors:
            found = detector.process(pixels).detections
            if found:
                break
        else:
            return []
    boxes = []
    for detection in found:
        data = detection.location_data
        box = data.relative_bounding_box
        # keypoints: the person's right eye (on the photo's left), left eye, nose, mouth, ears
        right, left = data.relative_keypoints[:2]
        eyes = (right.x, right.y), (left.x, left.y)
        boxes.append((box.xmin, box.ymin, box.width, box.height, float(detection.score[0]), eyes))
    return boxes


def _detect_in_tiles(image: Image.Image) -> list[_Box]:
    # a small face in a big photo (a full-body shot) shrinks below what the detector sees at its input size:
    # look again in 3x3 overlapping tiles of half the photo's width and height
    width, height = image.size
    tile_w, tile_h = width // 2, height // 2
    boxes = []
    for y in (0, height // 4, height - tile_h):
        for x in (0, width // 4, width - tile_w):
            tile = np.ascontiguousarray(np.asarray(image.crop((x, y, x + tile_w, y + tile_h))))
            for left, top, w, h, score, eyes in _detect(tile):
                boxes.append(
                    (
                        (x + left * tile_w) / width,
                        (y + top * tile_h) / height,
                        w * tile_w / width,
                        h * tile_h / height,
                        score,
                        tuple(((x + ex * tile_w) / width, (y + ey * tile_h) / height) for ex, ey in eyes),
                    )
                )
    return boxes


def find_face(image: Image.Image) -> FaceBox | None:
    """The largest face in `image`, or None if there is none.

    The first call loads the detector (about a second); later calls take milliseconds. Thread-safe.
    """
    image = _upright_rgb(image)
    scale = min(1.0, _MAX_SIDE / max(image.size))
    small = image.resize((round(image.width * scale), round(image.height * scale))) if scale < 1 else image
    boxes = _detect(np.ascontiguousarray(np.asarray(small)))
    if not boxes and min(small.size) >= 2 * _MIN_TILE:
        boxes = _detect_in_tiles(small)
    if not boxes:
        return None
    left, top, width, height, score, eyes = max(boxes, key=lambda box: box[2] * box[3])
    # the detector may return boxes that reach out of the image
    face = FaceBox(
        left=max(0, round(left * image.width)),
        top=max(0, round(top * image.height)),
        right=min(image.width, round((left + width) * image.width)),
        bottom=min(image.height, round((top + height) * image.height)),
        score=score,
        eyes=tuple((x * image.width, y * image.height) for x, y in eyes),
    )
    return face if face.width > 0 and face.height > 0 else None


def require_face(image: Image.Image) -> FaceBox:
    """The largest face in `image`, big enough to carry the person's identity.

    Raises:
        NoFaceFound: if `image` shows no face; its message is meant for the person who uploaded it.
        FaceTooSmall: if the face is narrower than `MIN_FACE_PIXELS`; its message says what photo works.
    """
    face = find_face(image)
    if face is None:
        raise NoFaceFound(NO_FACE_MESSAGE)
    if face.width < MIN_FACE_PIXELS:
        raise FaceTooSmall(SMALL_FACE_MESSAGE.format(width=face.width, least=MIN_FACE_PIXELS))
    return face


def square_around(cx: float, cy: float, side: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The square of `side` centred on (cx, cy), shrunk to fit a `width` x `height` image and shifted inside it."""
    side = round(min(side, width, height))
    left = min(max(0, round(cx - side / 2)), width - side)
    top = min(max(0, round(cy - side / 2)), height - side)
    return left, top, left + side, top + side


def identity_crop(image: Image.Image, size: int = CROP_SIZE) -> Image.Image:
    """The square RGB crop of `image` that shows the person's identity to the adapter, `size` pixels wide.

    Around the largest face, enlarged to take in hair and chin, turned so the eyes are level. Without a face: the
    central square (on a portrait photo, the upper part of the centre, where faces usually are).
    """
    upright = _upright_rgb(image)
    face = find_face(upright)
    if face is None:
        side = min(upright.size)
        # landscape: the middle; portrait: a fifth of the spare height from the top
        top = (upright.height - side) / 5
        box = square_around(upright.width / 2, top + side / 2, side, upright.width, upright.height)
        return upright.crop(box).resize((size, size), Image.Resampling.LANCZOS)
    return _face_crop(upright, face, size)


def _face_crop(upright: Image.Image, face: FaceBox, size: int) -> Image.Image:
    cx = (face.left + face.right) / 2
    cy = (face.top + face.bottom) / 2
    if abs(face.tilt) >= _MIN_TILT:
        # PIL turns counter-clockwise (as seen) by a positive angle: this levels the eyes, about the face's centre
        upright = upright.rotate(face.tilt, resample=Image.Resampling.BICUBIC, center=(cx, cy))
    side = _CROP_SCALE * max(face.width, face.height)
    box = square_around(cx, cy - _CROP_LIFT * face.height, side, upright.width, upright.height)
    return upright.crop(box).resize((size, size), Image.Resampling.LANCZOS)


def identity_crops(images: Sequence[Image.Image], size: int = CROP_SIZE) -> list[Image.Image]:
    """The identity crops of several photos of one person: one per photo that shows a face.

    Photos without a face are left out; if none shows one, the first photo's central square (see `identity_crop`).
    """
    crops = []
    for image in images:
        upright = _upright_rgb(image)
        face = find_face(upright)
        if face is not None:
            crops.append(_face_crop(upright, face, size))
    return crops or [identity_crop(images[0], size)]
