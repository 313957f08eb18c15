"""Could a human body take this pose? Plausibility checks for pose templates and poses extracted from photos.

Three checks, on the same COCO-18 keypoints the library stores (x, y, visibility on the 2:3 canvas):

- **bone lengths**: a projection can shorten a bone, never lengthen it. The body's scale in the picture
  is read from the parts that rarely point at the camera (the torso, the shoulder line, the neck); no
  limb bone may be much longer than that scale and human proportions allow (`stretch`).
- **the canvas and its framing**: visible joints lie on the canvas, and the joints a framing shows
  are there (a full-body shot shows the ankles, a head-and-shoulders shot no hips).
- **no limb through the torso**, in 3D (`torso_penetration`): how deep a sampled point of an arm or a
  leg goes into the core of the torso (an elliptic cylinder between the hips and the neck).

`pose_distance` measures how different two templates look on the canvas; `twins` finds the templates that
repeat another whatever the crop and the camera distance (keypoints centred on the neck, in metres).

The limits were calibrated on real people: mediapipe's detections on the photos of people that
scikit-image and matplotlib ship (tests/test_pose_library.py) pass them, and every library template must.
A detector's noise on real photos makes bones look up to ~1.6x too long (a man bent over a camera), so
the stretch limit is loose; the library's templates, drawn from exact proportions, stay below ~1.2.
Imports `poses.body`, `poses.template` and `poses.framing` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from avatargen.poses.body import HEAD_SPAN, LIMB_BONES, NECK_TO_NOSE, SHOULDER_WIDTH, TORSO
from avatargen.poses.framing import ASPECT
from avatargen.poses.template import FACE_POINTS, FRAMINGS, KEYPOINT_NAMES, MIRROR_INDEX

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

STRETCH_LIMIT = 1.75  # the longest bone may be this much longer than the scale says: proportions, lens, noise
PENETRATION_LIMIT = 0.35  # how far (0 = the torso's surface, 1 = its axis) a limb may go into the torso core
MISSING = 0.15  # pose_distance of two poses where one shows a body joint the other does not, in canvas heights
TWIN_MEAN, TWIN_WORST = 0.05, 0.10  # metres: two templates closer than both (mean and worst joint) are twins

# What each framing must show (at least one joint of each group visible)...
FRAMING_SHOWS = {
    "full-body": (
        ("neck",),
        *(tuple(f"{s}_{j}" for s in "rl") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")),
    ),
    "three-quarter": (("neck",), ("r_shoulder", "l_shoulder"), ("r_hip", "l_hip")),
    "half-body": (("neck",), ("r_shoulder", "l_shoulder")),
    "head-shoulders": (("neck",),),
}
FRAMING_HIDES = {  # ... and must not show all of any of these groups
    "full-body": (),
    "three-quarter": (("r_ankle", "l_ankle"),),  # a foot raised into the picture is fine
    "half-body": (("r_knee",), ("l_knee",), ("r_ankle",), ("l_ankle",)),
    "head-shoulders": tuple((n,) for n in ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle")),
}

Keypoints = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Plausibility:
    """What the checks found in one pose. `ok` when nothing is wrong."""

    stretch: float | None  # the longest limb bone over what the body's scale allows (None: too little visible)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def body_scale(keypoints: Keypoints) -> float | None:
    """Canvas units per metre, from the torso, the shoulder line, the neck and the head (the largest wins).

    None when none of them is visible. These parts seldom point at the camera (and a head looks about
    as big from any side), so the largest is close to the true scale.
    """
    candidates = []
    neck = _point(keypoints, "neck")
    hips = [p for p in (_point(keypoints, "r_hip"), _point(keypoints, "l_hip")) if p]
    if neck and len(hips) == 2:
        candidates.append(math.dist(neck, _mid(*hips)) / TORSO)
    elif neck and hips:  # one hip: the neck -> hip line, a little longer than the torso
        candidates.append(math.dist(neck, hips[0]) / math.hypot(TORSO, SHOULDER_WIDTH / 4))
    shoulders = [_point(keypoints, "r_shoulder"), _point(keypoints, "l_shoulder")]
    if all(shoulders):
        candidates.append(math.dist(*shoulders) / SHOULDER_WIDTH)
    nose = _point(keypoints, "nose")
    if neck and nose:
        candidates.append(math.dist(neck, nose) / NECK_TO_NOSE)
    face = [p for n in FACE_POINTS if (p := _point(keypoints, n))]
    if len(face) >= 2:
        candidates.append(max(math.dist(a, b) for a in face for b in face) / HEAD_SPAN)
    return max(candidates) if candidates else None


def stretch(keypoints: Keypoints) -> float | None:
    """The longest visible limb bone, relative to the length the body's scale allows (1.0: as long as allowed)."""
    scale = body_scale(keypoints)
    if not scale:
        return None
    ratios = [
        math.dist(a, b) / (length * scale)
        for (j, k), length in LIMB_BONES.items()
        if (a := _point(keypoints, j)) and (b := _point(keypoints, k))
    ]
    return max(ratios) if ratios else None


def assess(keypoints: Keypoints, framing: str | None = None) -> Plausibility:
    """Run the 2D checks on one pose (18 x, y, visibility on the 2:3 canvas); `framing` adds its own checks."""
    problems = []
    if len(keypoints) != len(KEYPOINT_NAMES) or any(len(p) != 3 for p in keypoints):
        return Plausibility(None, (f"expected {len(KEYPOINT_NAMES)} keypoints of (x, y, visibility)",))
    for name, (x, y, v) in zip(KEYPOINT_NAMES, keypoints, strict=True):
        if v and not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            problems.append(f"{name} is outside the canvas")
        if not v and (x, y) != (0.0, 0.0):
            problems.append(f"{name} is hidden but has a position")
    if not _point(keypoints, "neck"):
        problems.append("no neck")
    s = stretch(keypoints)
    if s is not None and s > STRETCH_LIMIT:
        problems.append(f"a limb is {s:.2f}x as long as the body allows")
    if framing is not None:
        if framing not in FRAMINGS:
            raise ValueError(f"framing {framing!r} is not one of {FRAMINGS}")
        for group in FRAMING_SHOWS[framing]:
            if not any(_point(keypoints, n) for n in group):
                problems.append(f"{framing} should show the {' or '.join(group)}")
        for group in FRAMING_HIDES[framing]:
            if all(_point(keypoints, n) for n in group):
                problems.append(f"{framing} should not show the {' and '.join(group)}")
        x, _, v = keypoints[K["neck"]]
        if v and not 0.08 <= x <= 0.92:
            problems.append("the body is not centred")
    return Plausibility(s, tuple(problems))


def torso_penetration(points: Mapping[str, Sequence[float]]) -> float | None:
    """How deep an arm or a leg goes into the torso, in 3D: 0 (it stays outside) to 1 (through the spine).

    `points` maps body keypoints (face points are not used) to 3D positions, in any units and axes;
    limb bones with a joint left out are not checked. None without the neck, shoulders and hips.
    The torso's core is an elliptic cylinder from the hips to the neck: as wide as 60% of the shoulder
    or hip line (the wider), as deep as 36% of the torso's length. Arms are sampled from a fifth of
    the way down the upper arm (the shoulder joint sits at the torso's edge), legs from a third
    of the way down the thigh.
    """
    import numpy as np

    p = {n: np.asarray(points[n], dtype=float) for n in KEYPOINT_NAMES if n in points}
    if not {"neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip"} <= p.keys():
        return None
    hip = (p["r_hip"] + p["l_hip"]) / 2
    up = p["neck"] - hip
    length = float(np.linalg.norm(up))
    up /= length
    side = (p["l_shoulder"] - p["r_shoulder"]) + (p["l_hip"] - p["r_hip"])
    side -= (side @ up) * up
    side /= np.linalg.norm(side)
    front = np.cross(up, side)
    widths = (np.linalg.norm(p["l_shoulder"] - p["r_shoulder"]), np.linalg.norm(p["l_hip"] - p["r_hip"]))
    half_width = 0.6 * float(max(widths)) / 2
    half_depth = 0.18 * length
    deepest = 0.0
    for s in "rl":
        chains = (
            ((f"{s}_shoulder", f"{s}_elbow"), 0.2),
            ((f"{s}_elbow", f"{s}_wrist"), 0.0),
            ((f"{s}_hip", f"{s}_knee"), 0.33),
            ((f"{s}_knee", f"{s}_ankle"), 0.0),
        )
        for (a, b), start in chains:
            if a not in p or b not in p:
                continue
            for t in np.linspace(start, 1.0, 12):
                d = p[a] + t * (p[b] - p[a]) - hip
                height = float(d @ up) / length
                if not 0.05 <= height <= 0.95:
                    continue
                r = math.hypot(float(d @ side) / half_width, float(d @ front) / half_depth)
                deepest = max(deepest, 1.0 - r)
    return deepest


def pose_distance(a: Keypoints, b: Keypoints) -> float:
    """How different two poses look on the canvas: the largest distance between a joint and its match.

    In canvas heights (x is scaled to the same units). A body joint shown in only one of the two
    counts as `MISSING`; face points are compared only where both show them (a turned head hides
    an ear without changing the pose).
    """
    worst = 0.0
    for name, (xa, ya, va), (xb, yb, vb) in zip(KEYPOINT_NAMES, a, b, strict=True):
        if va and vb:
            worst = max(worst, math.hypot((xa - xb) * ASPECT, ya - yb))
        elif (va or vb) and name not in FACE_POINTS:
            worst = max(worst, MISSING)
    return worst


def _point(keypoints: Keypoints, name: str) -> tuple[float, float] | None:
    # In canvas heights on both axes, so that distances are true to the picture.
    x, y, v = keypoints[K[name]]
    return (x * ASPECT, y) if v > 0 else None


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2


def body_metres(keypoints: Keypoints):
    """The keypoints in metres around the neck (x right, y down; a (18, 2) numpy array, NaN where hidden).

    The scale comes from the torso (neck to the point between the hips, `TORSO` long) when it is seen,
    else from `body_scale`; None when neither is.
    """
    import numpy as np

    k = np.asarray(keypoints, dtype=float)
    xy = np.where(k[:, 2:] > 0, k[:, :2] * [ASPECT, 1.0], np.nan)
    neck, hips = _point(keypoints, "neck"), [_point(keypoints, n) for n in ("r_hip", "l_hip")]
    if neck and all(hips):
        scale = math.dist(neck, _mid(*hips)) / TORSO
    else:
        scale = body_scale(keypoints)
    if not neck or not scale:
        return None
    return (xy - xy[K["neck"]]) / scale


def twin_distances(pose, others, *, mirror: bool = True):
    """Mean and worst joint distance (metres, `body_metres`) from one pose to each of many, two numpy arrays.

    Joints are compared where both show them; a body joint shown by only one makes them no twins (inf).
    With `mirror`, the smaller of the distances to each other pose and to its mirror image.
    """
    import numpy as np

    pose, others = np.asarray(pose, dtype=float), np.asarray(others, dtype=float).reshape(-1, len(KEYPOINT_NAMES), 2)
    candidates = [pose, pose[list(MIRROR_INDEX)] * [-1.0, 1.0]] if mirror else [pose]
    body = np.array([n not in FACE_POINTS for n in KEYPOINT_NAMES])
    best_mean, best_worst = np.full(len(others), np.inf), np.full(len(others), np.inf)
    for p in candidates:
        both = ~np.isnan(p[:, 0]) & ~np.isnan(others[:, :, 0])
        mismatch = ((np.isnan(p[:, 0]) ^ np.isnan(others[:, :, 0])) & body).any(axis=1)
        apart = np.where(both, np.sqrt(np.nan_to_num(((others - p) ** 2).sum(axis=2), nan=0.0)), 0.0)
        count = np.maximum(both.sum(axis=1), 1)
        mean, worst = apart.sum(axis=1) / count, apart.max(axis=1, initial=0.0)
        mean, worst = np.where(mismatch, np.inf, mean), np.where(mismatch, np.inf, worst)
        better = mean < best_mean
        best_mean, best_worst = np.where(better, mean, best_mean), np.where(better, worst, best_worst)
    return best_mean, best_worst


def twins(poses: Sequence[Keypoints], framings: Sequence[str], *, mirror: bool = True) -> list[tuple[int, int]]:
    """The pairs (i < j) of poses of the same framing that are twins (`TWIN_MEAN` and `TWIN_WORST`)."""
    import numpy as np

    metres = [body_metres(k) for k in poses]
    pairs = []
    for framing in set(framings):
        index = [i for i, f in enumerate(framings) if f == framing and metres[i] is not None]
        stack = np.array([metres[i] for i in index])
        for a, i in enumerate(index[:-1]):
            mean, worst = twin_distances(stack[a], stack[a + 1 :], mirror=mirror)
            pairs += [(i, index[a + 1 + b]) for b in np.flatnonzero((mean < TWIN_MEAN) & (worst < TWIN_WORST))]
    return sorted(pairs)
