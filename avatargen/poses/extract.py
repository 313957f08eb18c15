"""A person's pose from their photo: COCO-18 keypoints on the 2:3 canvas, framed like the library's templates.

The detector is mediapipe's pose landmarker (its model ships in the wheel and runs offline on the CPU),
or controlnet-aux's OpenPose body model when its weights (`lllyasviel/Annotators`) are already in the
Hugging Face cache: nothing is ever downloaded here. Both load lazily, once, and are used under a lock.
Imports `avatargen.errors`, `poses.body`, `poses.template`, `poses.framing`; numpy, PIL, detectors only when used.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avatargen.errors import NoPersonFound
from avatargen.poses.body import FOOT, NECK_TO_NOSE, SHOULDER_WIDTH, TORSO, UNISEX
from avatargen.poses.framing import ASPECT, canvas_box, to_canvas
from avatargen.poses.template import FACE_POINTS, KEYPOINT_NAMES

if TYPE_CHECKING:
    from PIL import Image

    Keypoints = tuple[tuple[float, float, float], ...]

NO_PERSON = "We couldn't find a person in that photo. Use a photo where your whole upper body is visible."
VISIBLE = 0.25  # mediapipe's visibility (0..1) from which a joint counts as found
MAX_SIDE = 1024  # larger photos are scaled down first: the detectors work at a few hundred pixels anyway
OPENPOSE_REPO, OPENPOSE_FILE = "lllyasviel/Annotators", "body_pose_model.pth"

# COCO-18 keypoint -> mediapipe pose landmark index (r_/l_ are the person's right and left in both).
# fmt: off
MEDIAPIPE_INDEX = {
    "nose": 0, "r_shoulder": 12, "r_elbow": 14, "r_wrist": 16, "l_shoulder": 11, "l_elbow": 13, "l_wrist": 15,
    "r_hip": 24, "r_knee": 26, "r_ankle": 28, "l_hip": 23, "l_knee": 25, "l_ankle": 27,
    "r_eye": 5, "l_eye": 2, "r_ear": 8, "l_ear": 7,
}
# fmt: on
MEDIAPIPE_FEET = {"r_foot": (30, 32), "l_foot": (29, 31)}  # heel, toes

_lock = threading.Lock()
_detectors: dict[str, object] = {}


@dataclass(frozen=True)
class PoseDetection:
    """One person found in a photo."""

    keypoints: Keypoints  # 18 (x, y, visibility) on the 2:3 canvas, as library templates store them
    framing: str  # how much of the person the photo shows, as a library framing
    view: str  # which way they face, as a library view
    points_3d: dict[str, tuple[float, float, float]] | None  # the joints found, in metres (mediapipe only)
    detector: str  # "mediapipe" or "openpose"
    canvas: tuple[float, float, float]  # where the canvas lies on the photo: left, top, height in pixels

    def to_photo(self, x: float, y: float) -> tuple[float, float]:
        """A point of the canvas (fractions, as in `keypoints`) in the photo's pixels."""
        left, top, height = self.canvas
        return left + x * height * ASPECT, top + y * height


def extract_pose(image: Image.Image) -> Keypoints:
    """The pose of the person in `image`: 18 COCO-18 (x, y, visibility) keypoints on a 2:3 canvas.

    The canvas is fitted around the person by the same rule as the library's templates
    (`avatargen.poses.framing.canvas_box`), at the framing the photo shows, so the pose renders like a template.
    Raises `NoPersonFound` when there is no person whose shoulders can be seen.
    """
    return detect_pose(image).keypoints


def detect_pose(image: Image.Image, detector: str = "auto") -> PoseDetection:
    """`extract_pose` with what else was found. `detector`: "auto" (OpenPose when its weights are in the
    local cache, else mediapipe), "mediapipe" or "openpose"."""
    import numpy as np
    from PIL import ImageOps

    if detector not in ("auto", "mediapipe", "openpose"):
        raise ValueError(f"unknown detector {detector!r}")
    if detector == "auto":
        detector = "openpose" if openpose_weights() else "mediapipe"
    image = ImageOps.exif_transpose(image).convert("RGB")
    original_width = image.width
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    pixels = np.asarray(image)
    found = _mediapipe(pixels) if detector == "mediapipe" else _openpose(pixels)
    if found is None:
        raise NoPersonFound(NO_PERSON)
    points, seen, points_3d = found
    width, height = image.size
    inside = {n for n, (x, y) in points.items() if 0 <= x <= width and 0 <= y <= height}
    seen &= inside
    if not {"r_shoulder", "l_shoulder"} <= seen:
        raise NoPersonFound(NO_PERSON)
    seen.add("neck")
    framing = _photo_framing(points, seen, height)
    keypoints = to_canvas(points, seen, framing)
    if points_3d is not None:
        points_3d = {n: p for n, p in points_3d.items() if n in seen}
    left, top, height = canvas_box(points, framing)
    scale = original_width / width  # back to the pixels of the photo as it was given
    canvas = (left * scale, top * scale, height * scale)
    return PoseDetection(keypoints, framing, describe_pose(keypoints)["view"], points_3d, detector, canvas)


def describe_pose(keypoints: Keypoints) -> dict[str, str]:
    """A guess at the library `view` and `framing` of a pose on the canvas (for naming a custom pose)."""
    p = {n: (x * ASPECT, y) for n, (x, y, v) in zip(KEYPOINT_NAMES, keypoints, strict=True) if v}
    hips = [p[n][1] for n in ("r_hip", "l_hip") if n in p]
    if {"r_ankle", "l_ankle"} <= p.keys():
        framing = "full-body"
    elif hips:  # the canvas of a half-body shot ends just below the hips, a three-quarter one lower
        framing = "half-body" if sum(hips) / len(hips) > 0.81 else "three-quarter"
    elif "neck" in p and p["neck"][1] > 0.5:  # a head-and-shoulders canvas puts the neck low
        framing = "head-shoulders"
    else:
        framing = "half-body"
    return {"view": _view(p), "framing": framing}


def openpose_weights() -> str | None:
    """The path of controlnet-aux's OpenPose body weights when they are in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    path = try_to_load_from_cache(OPENPOSE_REPO, OPENPOSE_FILE)
    return path if isinstance(path, str) else None


def _view(p: dict[str, tuple[float, float]]) -> str:
    # How wide the shoulders look against the torso (or the neck) tells front and back from three-quarter
    # and side views; the hidden ear, or else the nose, tells which way the person faces.
    if not {"neck", "r_shoulder", "l_shoulder"} <= p.keys():
        return "front"
    across = p["l_shoulder"][0] - p["r_shoulder"][0]  # > 0: the person's left on the viewer's right
    hips = [p[n] for n in ("r_hip", "l_hip") if n in p]
    if len(hips) == 2:
        scale = math.dist(p["neck"], ((hips[0][0] + hips[1][0]) / 2, (hips[0][1] + hips[1][1]) / 2)) / TORSO
    elif "nose" in p:
        scale = math.dist(p["neck"], p["nose"]) / NECK_TO_NOSE
    else:
        scale = abs(across) / SHOULDER_WIDTH
    width = across / (scale * SHOULDER_WIDTH) if scale else 1.0
    face = {n for n in FACE_POINTS if n in p}
    if width >= 0.9:
        return "front"
    if width <= -0.42 or (face and not {"nose", "r_eye", "l_eye"} & face):
        return "back"
    if "l_ear" in face and "r_ear" not in face:
        side = "left"
    elif "r_ear" in face and "l_ear" not in face:
        side = "right"
    elif "nose" in p:
        side = "left" if p["nose"][0] < p["neck"][0] else "right"
    else:
        side = "left" if across > 0 else "right"
    return f"side-{side}" if abs(width) < 0.42 else f"three-quarter-{side}"


def _photo_framing(points: dict[str, tuple[float, float]], seen: set[str], bottom: float) -> str:
    # What the photo shows: down to the ankles, the knees, about the hips, or less.
    if {"r_ankle", "l_ankle"} & seen:
        return "full-body"
    if {"r_knee", "l_knee"} & seen:
        return "three-quarter"
    hip_y = (points["r_hip"][1] + points["l_hip"][1]) / 2
    neck_y = points["neck"][1]
    return "half-body" if bottom >= hip_y - 0.2 * (hip_y - neck_y) else "head-shoulders"


def _with_head_top(points: dict[str, tuple[float, float]]) -> None:
    # The top of the head, from the neck and the face: the face's centre is two thirds of the way up.
    nx, ny = points["neck"]
    fx = sum(points[n][0] for n in FACE_POINTS) / len(FACE_POINTS)
    fy = sum(points[n][1] for n in FACE_POINTS) / len(FACE_POINTS)
    points["head_top"] = (nx + 1.5 * (fx - nx), ny + 1.5 * (fy - ny))


def _mediapipe(pixels):
    with _lock:
        pose = _detectors.get("mediapipe")
        if pose is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import mediapipe as mp
            # model_complexity=1 is the model the wheel ships; 0 and 2 would be downloaded.
            pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
            _detectors["mediapipe"] = pose
        with warnings.catch_warnings():  # mediapipe 0.10.14 calls a deprecated protobuf function per photo
            warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
            result = pose.process(pixels)
    if result.pose_landmarks is None:
        return None
    height, width = pixels.shape[:2]
    marks = result.pose_landmarks.landmark
    points = {n: (marks[i].x * width, marks[i].y * height) for n, i in MEDIAPIPE_INDEX.items()}
    seen = {n for n, i in MEDIAPIPE_INDEX.items() if marks[i].visibility >= VISIBLE}
    points["neck"] = _mid(points["r_shoulder"], points["l_shoulder"])
    for foot, (heel, toes) in MEDIAPIPE_FEET.items():
        points[foot] = max(((marks[i].x * width, marks[i].y * height) for i in (heel, toes)), key=lambda p: p[1])
    _with_head_top(points)
    points_3d = None
    if result.pose_world_landmarks is not None:
        world = result.pose_world_landmarks.landmark
        points_3d = {n: (world[i].x, world[i].y, world[i].z) for n, i in MEDIAPIPE_INDEX.items()}
        right, left = points_3d["r_shoulder"], points_3d["l_shoulder"]
        points_3d["neck"] = tuple((a + b) / 2 for a, b in zip(right, left, strict=True))
    return points, seen, points_3d


def _openpose(pixels):
    path = openpose_weights()
    if path is None:
        raise RuntimeError(f"OpenPose weights ({OPENPOSE_REPO}/{OPENPOSE_FILE}) are not in the Hugging Face cache")
    with _lock:
        detector = _detectors.get("openpose")
        if detector is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from controlnet_aux.open_pose import OpenposeDetector
                from controlnet_aux.open_pose.body import Body

            detector = OpenposeDetector(Body(path))
            _detectors["openpose"] = detector
        people = detector.detect_poses(pixels[:, :, ::-1].copy())  # it expects BGR, like cv2
    if not people:
        return None
    body = max(people, key=lambda person: person.body.total_score).body
    height, width = pixels.shape[:2]
    found = {
        n: (k.x * width, k.y * height) for n, k in zip(KEYPOINT_NAMES, body.keypoints, strict=True) if k is not None
    }
    if not {"r_shoulder", "l_shoulder"} <= found.keys():
        return None
    return _complete(found), set(found), None


def _complete(found: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    # OpenPose leaves out what it can't see; framing needs every joint, so guess the missing ones as a
    # body standing straight, arms down, scaled to the shoulders (they are hidden on the canvas anyway).
    p = dict(found)
    scale = math.dist(p["r_shoulder"], p["l_shoulder"]) / SHOULDER_WIDTH
    p.setdefault("neck", _mid(p["r_shoulder"], p["l_shoulder"]))
    down = {"elbow": UNISEX.upper_arm, "wrist": UNISEX.forearm, "knee": UNISEX.thigh, "ankle": UNISEX.shin}
    for s in "rl":
        p.setdefault(f"{s}_hip", (p[f"{s}_shoulder"][0], p["neck"][1] + TORSO * scale))
        for parent, joint in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
            x, y = p[f"{s}_{parent}"]
            p.setdefault(f"{s}_{joint}", (x, y + down[joint] * scale))
    nx, ny = p["neck"]
    p.setdefault("nose", (nx, ny - NECK_TO_NOSE * scale))
    for n in FACE_POINTS:
        p.setdefault(n, p["nose"])
    for s in "rl":
        x, y = p[f"{s}_ankle"]
        p[f"{s}_foot"] = (x, y + FOOT * scale)
    _with_head_top(p)
    return p


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
