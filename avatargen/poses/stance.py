"""Ground and balance: where a posed body meets the ground, and whether its centre of mass is over that support.

The centre of mass comes from a standard anthropometric segment table (Dempster's, as tabulated by Winter,
"Biomechanics and Motor Control of Human Movement"): each segment's share of the body's mass and where along
the segment its own centre lies. The ground is the plane under the lowest sole (or knee, or hand); the support
is what rests on it: each foot a 9 cm disc around the ankle's footprint, a knee or a hand a 5 cm one. A static
pose stands when the centre of mass, seen from above, is within a few centimetres of that support's hull.

Works on the build's 3D joints (metres, y up). Imports nothing of avatargen; numpy inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# (segment from, to, share of the body's mass, where its centre lies from `from` to `to`)
SEGMENTS = (
    ("neck", "head_top", 0.081, 0.55),  # head and neck
    ("pelvis", "neck", 0.497, 0.50),  # the trunk
    *((f"{s}_shoulder", f"{s}_elbow", 0.028, 0.436) for s in "rl"),
    *((f"{s}_elbow", f"{s}_wrist", 0.016, 0.430) for s in "rl"),
    *((f"{s}_wrist", f"{s}_hand_end", 0.006, 0.506) for s in "rl"),
    *((f"{s}_hip", f"{s}_knee", 0.100, 0.433) for s in "rl"),
    *((f"{s}_knee", f"{s}_ankle", 0.0465, 0.433) for s in "rl"),
    *((f"{s}_ankle", f"{s}_foot", 0.0145, 0.50) for s in "rl"),
)
# How high each joint sits over the ground when it rests there (metres): the sole under the ankle, a knee, a hand.
REST_HEIGHT = {"foot": 0.0, "ankle": 0.075, "knee": 0.05, "wrist": 0.04}
GROUND_CONTACT = 0.03  # metres over its resting height at which a joint still rests on the ground
SUPPORT_RADIUS = {"foot": 0.09, "ankle": 0.09, "knee": 0.05, "wrist": 0.05}
BALANCE_LIMIT = 0.05  # metres the centre of mass may lie outside the support, seen from above


def centre_of_mass(points: Mapping) -> tuple[float, float, float]:
    """The body's centre of mass from its joints (`skeleton`'s names; the hand's end is a hand-length past the
    wrist along the forearm, the pelvis the middle of the hips)."""
    import numpy as np

    p = {n: np.asarray(v, dtype=float) for n, v in points.items()}
    p["pelvis"] = (p["r_hip"] + p["l_hip"]) / 2
    for s in "rl":
        forearm = p[f"{s}_wrist"] - p[f"{s}_elbow"]
        p[f"{s}_hand_end"] = p[f"{s}_wrist"] + forearm * (0.19 / max(float(np.linalg.norm(forearm)), 1e-6))
    total = sum(share * (p[a] + along * (p[b] - p[a])) for a, b, share, along in SEGMENTS)
    return tuple(float(c) for c in total / sum(s[2] for s in SEGMENTS))


def support(points: Mapping) -> list[tuple[str, float, float, float]]:
    """What rests on the ground: (joint, x, z, radius) of each foot, ankle, knee or wrist at its resting height
    (within `GROUND_CONTACT`) over the ground, the plane under the lowest of them."""
    kinds = {n: n.rpartition("_")[2] for n in points if n[:2] in ("r_", "l_") and n.rpartition("_")[2] in REST_HEIGHT}
    over = {n: float(points[n][1]) - REST_HEIGHT[kind] for n, kind in kinds.items()}
    ground = min(over.values())
    return [
        (n, float(points[n][0]), float(points[n][2]), SUPPORT_RADIUS[kinds[n]])
        for n in kinds
        if over[n] - ground <= GROUND_CONTACT
    ]


def _hull(xz: list[tuple[float, float]]) -> list[tuple[float, float]]:
    # Andrew's monotone chain, counter-clockwise.
    pts = sorted(set(xz))
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    upper: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _segment_distance(p, a, b) -> float:
    ax, az, bx, bz = *a, *b
    dx, dz = bx - ax, bz - az
    t = 0.0 if dx == dz == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - az) * dz) / (dx * dx + dz * dz)))
    return math.dist(p, (ax + t * dx, az + t * dz))


def balance_offset(points: Mapping) -> float:
    """How far (metres, seen from above) the centre of mass lies outside the support's hull; 0 inside it."""
    x, _, z = centre_of_mass(points)
    discs = support(points)
    rim = [
        (cx + r * math.cos(a * math.pi / 8), cz + r * math.sin(a * math.pi / 8))
        for _, cx, cz, r in discs
        for a in range(16)
    ]
    hull = _hull(rim)
    edges = list(zip(hull, hull[1:] + hull[:1], strict=True))
    if all((b[0] - a[0]) * (z - a[1]) - (b[1] - a[1]) * (x - a[0]) >= 0 for a, b in edges):
        return 0.0
    return min(_segment_distance((x, z), a, b) for a, b in edges)


def support_centre(points: Mapping) -> tuple[float, float]:
    """The middle (x, z) of what rests on the ground, where a balanced body puts its centre of mass."""
    discs = support(points)
    return sum(d[1] for d in discs) / len(discs), sum(d[2] for d in discs) / len(discs)
