"""How much a face looks like the person: dlib's face-recognition ResNet (CC0), offline, on the CPU.

The models come with the `face_recognition_models` package (dlib's 5-point landmark model and its ResNet, both
CC0). Its `__init__` imports `pkg_resources`, which recent setuptools no longer ships, so the files are found by
the package's location without importing it. The face box is MediaPipe's (`identity.find_face`), the same face the
photo check accepted, so every photo that passed `require_face` has a descriptor.

Distances and the score: the ResNet maps a face to a 128-d descriptor; two photos of one person lie closer than
`SAME_PERSON_DISTANCE` (0.6, dlib's threshold: 99.38% right on LFW's same/different pairs). `score` turns a
distance into 0-100 on a straight line from `NEAR_DISTANCE` (0.3, as close as two different photos of one face
get: 100) to `FAR_DISTANCE` (0.9, plainly someone else: 0), so the threshold sits at 50. Measured on
scikit-image's photos: the astronaut against a mirrored, resized copy of herself 0.20 (score 100), against the
cameraman 0.85 (score 8).

dlib holds native state: this runs where outputs arrive (the worker, the app process on ZeroGPU), never in a forked
GPU process. One lock serialises the models; a descriptor takes ~0.08 s on a 2-core x86_64 VM.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from avatargen.engine.identity import find_face
from avatargen.errors import UserError

SAME_PERSON_DISTANCE = 0.6  # dlib's: two faces closer than this are one person
NEAR_DISTANCE = 0.3  # score 100 at or below
FAR_DISTANCE = 0.9  # score 0 at or above
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SOMEONE_ELSE_MESSAGE = (
    "Photo {number} looks like someone else than photo 1. Please upload photos of one person only (you), so the "
    "avatar looks like you; nothing was charged."
)

Descriptor = np.ndarray  # (128,) float

_lock = threading.Lock()
_models: tuple[Any, Any] | None = None


class SomeoneElse(UserError):
    """One of a person's photos shows a different face from their first photo."""


def model_folder() -> Path:
    """The folder of `face_recognition_models`' model files, found without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The likeness needs the face_recognition_models package (pip install it).")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _load() -> tuple[Any, Any]:
    global _models
    if _models is None:
        import dlib

        folder = model_folder()
        _models = (
            dlib.shape_predictor(str(folder / LANDMARKS_FILE)),
            dlib.face_recognition_model_v1(str(folder / RECOGNITION_FILE)),
        )
    return _models


def describe(image: Image.Image) -> Descriptor | None:
    """The descriptor of the largest face in `image`, or None when no face shows. Thread-safe."""
    upright = ImageOps.exif_transpose(image).convert("RGB")
    face = find_face(upright)
    if face is None:
        return None
    import dlib

    pixels = np.ascontiguousarray(np.asarray(upright))
    with _lock:
        landmarks, recogniser = _load()
        shape = landmarks(pixels, dlib.rectangle(face.left, face.top, face.right - 1, face.bottom - 1))
        return np.asarray(recogniser.compute_face_descriptor(pixels, shape), dtype=np.float64)


def distance(a: Descriptor, b: Descriptor) -> float:
    """Euclidean distance between two descriptors: below `SAME_PERSON_DISTANCE` is one person."""
    return float(np.linalg.norm(a - b))


def score(dist: float) -> int:
    """0-100 from a distance: 100 at `NEAR_DISTANCE` or closer, 0 at `FAR_DISTANCE` or farther, 50 at dlib's
    same-person threshold, linear between."""
    share = (FAR_DISTANCE - dist) / (FAR_DISTANCE - NEAR_DISTANCE)
    return round(100 * min(1.0, max(0.0, share)))


def check_one_person(photos: Sequence[Image.Image]) -> None:
    """Refuse, naming it, the first photo whose face is not the first photo's person.

    Photos without a face pass here (the face check speaks for them).

    Raises:
        SomeoneElse: its message names the photo by its number, counting from 1.
    """
    if len(photos) < 2:
        return
    first = describe(photos[0])
    if first is None:
        return
    for number, photo in enumerate(photos[1:], start=2):
        other = describe(photo)
        if other is not None and distance(first, other) > SAME_PERSON_DISTANCE:
            raise SomeoneElse(SOMEONE_ELSE_MESSAGE.format(number=number))


def likeness(images: Sequence[Image.Image], photos: Sequence[Image.Image]) -> list[int | None]:
    """How much each image looks like the person in `photos`: 0-100 from the mean distance of its face to theirs,
    None for an image without a face (or when no photo shows one)."""
    found = [describe(image) for image in images]
    references = [d for d in map(describe, photos) if d is not None] if any(f is not None for f in found) else []
    return [
        None if f is None or not references else score(float(np.mean([distance(f, r) for r in references])))
        for f in found
    ]
