"""Framing: where the 2:3 template canvas goes around a person for each framing, and keypoints put on it.

Library templates (poses/build.py) and poses extracted from photos are framed by this one rule. Imports
`poses.template` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from avatargen.poses.template import FACE_POINTS, FRAMINGS, KEYPOINT_NAMES

ASPECT = 2 / 3  # template canvas width : height


def canvas_box(points: Mapping[str, Sequence[float]], framing: str) -> tuple[float, float, float]:
    """Where the 2:3 canvas of a framing goes around a person: (left, top, height), in the points' units.

    `points` maps the 18 keypoint names (y downwards; hidden joints too, where they are estimated) and
    `head_top` to positions; full-body framing also uses `r_foot` and `l_foot` (the soles) when given.
    Full body: everything with margins. Three-quarter: down to mid-thigh. Half body: just below the
    hips. Head and shoulders: from above the head to a third of the torso below the neck, or down to the elbow
    of a hand raised into the picture. A raised hand stays in the picture, and the canvas widens a little
    (keeping its top) rather than cut arms off.
    Library templates and poses extracted from photos are framed by this same rule.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"framing {framing!r} is not one of {FRAMINGS}")
    xs = {n: float(p[0]) for n, p in points.items()}
    ys = {n: float(p[1]) for n, p in points.items()}
    limbs = [n for n in KEYPOINT_NAMES if n not in FACE_POINTS]
    hip = ((xs["r_hip"] + xs["l_hip"]) / 2, (ys["r_hip"] + ys["l_hip"]) / 2)
    torso = math.dist((xs["neck"], ys["neck"]), hip)
    head_top = ys["head_top"]

    if framing == "full-body":
        top, bottom = min(ys.values()), max(ys.values())
        height = max((bottom - top) / 0.88, (max(xs.values()) - min(xs.values())) / (ASPECT * 0.9))
        centre_x, centre_y = (max(xs.values()) + min(xs.values())) / 2, (top + bottom) / 2 - 0.01 * height
        return centre_x - height * ASPECT / 2, centre_y - height / 2, height

    if framing == "head-shoulders":
        bottom = ys["neck"] + 0.35 * torso
        keep = ["r_shoulder", "l_shoulder", "neck", "head_top", *FACE_POINTS]
        for s in "rl":  # a hand raised into the picture brings its elbow: never a wrist without its arm
            if ys[f"{s}_wrist"] <= bottom and ys[f"{s}_elbow"] <= ys["neck"] + 0.8 * torso:
                bottom = max(bottom, ys[f"{s}_elbow"] + 0.08 * torso)
                keep += [f"{s}_elbow", f"{s}_wrist"]
        top = min(head_top, *(ys[n] for n in keep)) - 0.12 * (bottom - head_top)
    else:
        if framing == "half-body":
            bottom = hip[1] + 0.22 * torso
        else:  # three-quarter: cut mid-thigh, and at least half a torso below the hips (sitting)
            thighs = [ys[f"{s}_hip"] + 0.6 * (ys[f"{s}_knee"] - ys[f"{s}_hip"]) for s in "lr"]
            bottom = max(*thighs, hip[1] + 0.45 * torso)
        top = min(head_top, *(ys[n] for n in limbs))  # a hand above the head stays in the picture
        top -= 0.07 * (bottom - top)
        keep = [n for n in ys if top <= ys[n] <= bottom]
    height = bottom - top
    kept = [xs[n] for n in keep]
    width_needed = (max(kept) - min(kept)) / (0.97 if framing == "head-shoulders" else 0.9)
    if width_needed > height * ASPECT:  # widen a little (keeping the top) rather than cut arms off
        height = min(width_needed / ASPECT, height * (1.5 if framing == "head-shoulders" else 1.25))
    centre_x = (max(kept) + min(kept)) / 2
    return centre_x - height * ASPECT / 2, top, height


def to_canvas(
    points: Mapping[str, Sequence[float]], seen: Iterable[str], framing: str
) -> tuple[tuple[float, float, float], ...]:
    """The 18 COCO-18 keypoints (x, y, visibility) of a person framed on the 2:3 canvas (see `canvas_box`).

    A keypoint is visible when it is in `seen` and inside the canvas; otherwise it is (0, 0, 0),
    OpenPose's convention for a missing keypoint. Coordinates are rounded to 4 decimals.
    """
    left, top, height = canvas_box(points, framing)
    width = height * ASPECT
    seen = set(seen)
    out = []
    for name in KEYPOINT_NAMES:
        x = round((float(points[name][0]) - left) / width, 4)
        y = round((float(points[name][1]) - top) / height, 4)
        visible = name in seen and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        out.append((x, y, 1.0) if visible else (0.0, 0.0, 0.0))
    return tuple(out)
