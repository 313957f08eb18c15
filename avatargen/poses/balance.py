"""Left and right: which side of the body a template favours, measured on its keypoints.

A library drawn by hand favours the right hand (people write poses as they see them); these measures let the
build publish each base pose as written or as its mirror image so that the library is even, and let the tests
check it. Every measure of a template is +1 (the person's right), -1 (the left) or 0 (neither, or not measured):

- `raised hand`: exactly one wrist above its shoulder;
- `hand keypoints`: keypoints drawn for one hand only;
- `weight leg`: in a front view of a standing, leaning or fashion pose with the hips tilted 5 degrees or more,
  the leg under the higher hip (the one carrying the weight in a contrapposto);
- `view`: a three-quarter or side view facing the viewer's left (+1, the `-left` views) or right (-1); a mirror
  image turns one into the other, so the build evens these too.

Imports `poses.template` and `poses.framing` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from avatargen.poses.framing import ASPECT
from avatargen.poses.template import KEYPOINT_NAMES, PoseTemplate

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
MEASURES = ("raised hand", "hand keypoints", "weight leg", "view")
WEIGHT_CATEGORIES = ("standing", "leaning", "fashion")
TILT = 5.0  # degrees of hip tilt from which a front view visibly rests on one leg


def _raised(template: PoseTemplate, side: str) -> bool:
    wrist, shoulder = template.keypoints[K[f"{side}_wrist"]], template.keypoints[K[f"{side}_shoulder"]]
    return bool(wrist[2] and shoulder[2] and wrist[1] < shoulder[1])


def _sign(right: bool, left: bool) -> int:
    return int(right) - int(left) if right != left else 0


def sides(template: PoseTemplate) -> dict[str, int]:
    """Each measure's side for one template: +1 the person's right, -1 the left, 0 neither."""
    out = {"raised hand": _sign(_raised(template, "r"), _raised(template, "l"))}
    hands = template.hands
    drawn = [bool(hands and any(p[2] for p in hand)) for hand in (hands or ((), ()))]
    out["hand keypoints"] = _sign(*drawn)
    out["weight leg"] = 0
    (xr, yr, vr), (xl, yl, vl) = template.keypoints[K["r_hip"]], template.keypoints[K["l_hip"]]
    if template.view == "front" and template.category in WEIGHT_CATEGORIES and template.framing != "head-shoulders":
        if vr and vl and abs(math.degrees(math.atan2(yl - yr, (xl - xr) * ASPECT))) >= TILT:
            out["weight leg"] = 1 if yr < yl else -1
    out["view"] = 1 if template.view.endswith("-left") else -1 if template.view.endswith("-right") else 0
    return out


def counts(templates: Iterable[PoseTemplate]) -> dict[str, tuple[int, int]]:
    """{measure: (templates favouring the right, favouring the left)}."""
    totals = {m: [0, 0] for m in MEASURES}
    for t in templates:
        for measure, side in sides(t).items():
            if side:
                totals[measure][0 if side > 0 else 1] += 1
    return {m: (r, left) for m, (r, left) in totals.items()}


def majority_share(right: int, left: int) -> float:
    """The larger side's share of the two (0.5: even); 0.5 when neither is counted."""
    return max(right, left) / (right + left) if right + left else 0.5
