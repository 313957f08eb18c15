"""Build the pose template library, avatargen/poses/templates.parquet, from the base poses in poses/base_poses.yaml.

Each base pose is written once, as data: joint angles, the contacts the builder solves (a hand on the chin,
an elbow on a knee), the hands' shapes, its variations, and the views and framings in which it reads.
The build publishes every (variation, view, framing) that reads, on one body each:

    angles --contacts solved--> --forward kinematics--> 3D joints and hands --camera--> 2D --framing--> canvas

A shot whose gesture is lost at its view (a seated pose seen from the front, a gesture flattened in profile,
a back view without the face, a wrist without its elbow) is left out, and so is one that repeats a template
already taken (a twin, avatargen.poses.plausibility.twins). Mirror images are not published: they are a render-time
flip (avatargen.poses.render.render_openpose(mirror=True)).
"""

import argparse
import math
import zlib
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from avatargen.poses.balance import MEASURES, counts, sides
from avatargen.poses.body import (
    BODIES,
    FACE,
    FINGER_BONES,
    FOOT,
    HEAD_PIVOT,
    HEAD_TOP,
    KNUCKLES,
    Body,
)
from avatargen.poses.framing import canvas_box, to_canvas
from avatargen.poses.plausibility import (
    PENETRATION_LIMIT,
    TWIN_MEAN,
    TWIN_WORST,
    assess,
    body_metres,
    body_scale,
    torso_penetration,
    twin_distances,
)
from avatargen.poses.stance import BALANCE_LIMIT, balance_offset, centre_of_mass, support_centre
from avatargen.poses.template import (
    CATEGORIES,
    FORMAT_VERSION,
    FRAMING_LABEL,
    FRAMINGS,
    GENDERS,
    HAND_POINTS,
    KEYPOINT_NAMES,
    MIRROR_VIEW,
    VIEW_LABEL,
    VIEWS,
    PoseTemplate,
)

DATA = Path(__file__).resolve().with_name("base_poses.yaml")
OUT = Path(__file__).resolve().parents[1] / "avatargen" / "poses" / "templates.parquet"  # ships inside the package
CONTACT_TOLERANCE = 0.03  # metres: a solved contact is this close or the build fails
DECIMALS = 4  # of the canvas coordinates written (1/10000 of the canvas height)

# Camera orbit angle around the person for each view. The person faces +z; a camera at +yaw sits
# towards the person's left, so they face the viewer's left (three-quarter-left, side-left).
VIEW_YAW = {"front": 0.0, "three-quarter-left": 40.0, "three-quarter-right": -40.0}
VIEW_YAW |= {"side-left": 90.0, "side-right": -90.0, "back": 180.0}
VIEW_CODE = dict(zip(VIEWS, ("front", "3ql", "3qr", "sl", "sr", "back"), strict=True))
FRAMING_CODE = dict(zip(FRAMINGS, ("full", "3q", "half", "head"), strict=True))
GENDER_CODE = {"female": "f", "male": "m", "unisex": "u"}
CATEGORY_TAGS = {
    "standing": ("standing",),
    "walking": ("walking", "movement"),
    "sitting": ("sitting", "seated"),
    "lying": ("lying", "reclining", "floor"),
    "leaning": ("leaning",),
    "portrait": ("portrait",),
    "action": ("action", "dynamic"),
    "fashion": ("fashion", "editorial"),
}
# Camera distance in metres per framing: a longer lens for tighter shots, as a photographer would.
CAMERA_DISTANCE = {"full-body": 6.0, "three-quarter": 4.5, "half-body": 3.2, "head-shoulders": 2.2}


# --- pose (joint angles) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Limb:
    """One arm or leg, in degrees, in its parent's frame (chest for arms, pelvis for legs)."""

    flex: float = 0.0  # raise forward (+) or back (-)
    abduct: float = 0.0  # raise out to the side (+) or across the body (-)
    swing: float = 0.0  # then turn about the vertical axis, forward (+)
    twist: float = 0.0  # roll about the bone, inward (+): sets the plane the elbow/knee bends in
    bend: float = 0.0  # elbow (forearm goes forward) or knee (shin goes back), 0 = straight


@dataclass(frozen=True)
class Hand:
    """A hand's shape (`SHAPES`) and how it is held, in degrees."""

    shape: str = "relaxed"
    pronate: float = 0.0  # turn the palm from facing the body (0) towards the back (+90) or the front (-90)
    flex: float = 0.0  # bend the wrist towards the palm (+) or the back of the hand (-)


@dataclass(frozen=True)
class Pose:
    """A whole-body pose as joint angles in degrees, and the hands' shapes (None: no hand keypoints)."""

    turn: float = 0.0  # whole body about the vertical axis, to the person's left (+)
    lean: float = 0.0  # whole body forward (+) or back (-)
    hip_roll: float = 0.0  # pelvis side tilt, left hip up (+)
    spine_bend: float = 0.0  # chest forward (+)
    spine_side: float = 0.0  # chest towards the person's right (+)
    spine_twist: float = 0.0  # chest turned to the person's left (+)
    head_turn: float = 0.0  # to the person's left (+)
    head_nod: float = 0.0  # looking down (+) or up (-)
    head_tilt: float = 0.0  # ear towards the right shoulder (+)
    lie: float = 0.0  # the whole body tipped back (+, lying on the back) or forward: no joint, the ground
    roll: float = 0.0  # the whole body rolled onto its right side (+) or left (-): no joint, the ground
    sway_forward: float = 0.0  # the whole body tipped forward (+) over its feet: set by `balanced`, not written
    sway_side: float = 0.0  # the whole body tipped towards the person's left (+) over its feet: as above
    r_arm: Limb = field(default_factory=Limb)
    l_arm: Limb = field(default_factory=Limb)
    r_leg: Limb = field(default_factory=Limb)
    l_leg: Limb = field(default_factory=Limb)
    r_hand: Hand | None = None
    l_hand: Hand | None = None


# Finger curls (base, middle, last joint, degrees towards the palm), thumb first, and how far the fingers fan out.
SHAPES = {
    "relaxed": (((10, 15, 10), (15, 25, 15), (20, 30, 15), (25, 35, 15), (30, 35, 15)), 4),
    "open": (((5, 5, 5), (0, 5, 0), (0, 5, 0), (0, 5, 0), (5, 5, 0)), 8),
    "spread": (((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)), 16),
    "cup": (((20, 20, 10), (40, 35, 20), (40, 40, 20), (45, 40, 20), (50, 40, 20)), 3),
    "grip": (((40, 30, 20), (70, 70, 40), (75, 75, 40), (80, 75, 40), (85, 75, 40)), 2),
    "fist": (((50, 40, 30), (90, 100, 60), (90, 100, 60), (90, 100, 60), (90, 100, 60)), 0),
    "point": (((50, 40, 30), (0, 5, 0), (90, 100, 60), (90, 100, 60), (90, 100, 60)), 4),
    "peace": (((50, 40, 30), (0, 0, 0), (0, 0, 0), (90, 100, 60), (90, 100, 60)), 12),
    "pinch": (((30, 20, 10), (35, 40, 25), (45, 50, 30), (60, 60, 30), (70, 60, 30)), 3),
    "fingertips": (((15, 10, 10), (20, 20, 10), (20, 20, 10), (25, 20, 10), (25, 20, 10)), 6),
}


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


DOWN = np.array([0.0, -1.0, 0.0])


def _limb(parent: np.ndarray, limb: Limb, side: int) -> np.ndarray:
    # side: +1 left, -1 right. Rest: the bone hangs down (-y) with its front facing forward (+z).
    return parent @ _ry(-side * limb.swing) @ _rz(side * limb.abduct) @ _rx(-limb.flex) @ _ry(-side * limb.twist)


def _chain(root: np.ndarray, parent: np.ndarray, limb: Limb, side: int, lengths: tuple[float, float], arm: bool):
    # The middle and end joint of a limb, and the frame of its lower bone.
    upper = _limb(parent, limb, side)
    middle = root + upper @ DOWN * lengths[0]
    lower = upper @ _rx(-limb.bend if arm else limb.bend)
    return middle, middle + lower @ DOWN * lengths[1], lower


@dataclass(frozen=True)
class Frames:
    pelvis: np.ndarray
    chest: np.ndarray
    head: np.ndarray
    pivot: np.ndarray


def _frames(pose: Pose, body: Body) -> Frames:
    pelvis = _ry(pose.turn) @ _rx(pose.lean) @ _rz(pose.hip_roll)
    chest = pelvis @ _ry(pose.spine_twist) @ _rx(pose.spine_bend) @ _rz(pose.spine_side)
    head = chest @ _ry(pose.head_turn) @ _rx(pose.head_nod) @ _rz(pose.head_tilt)
    pivot = chest @ np.array([0.0, body.spine + HEAD_PIVOT * body.head, 0.0])
    return Frames(pelvis, chest, head, pivot)


def _roots(frames: Frames, body: Body, limb: str) -> tuple[np.ndarray, np.ndarray]:
    # Where a limb starts and its parent's frame.
    s = 1 if limb[0] == "l" else -1
    if limb.endswith("arm"):
        neck = frames.chest @ np.array([0.0, body.spine, 0.0])
        return neck + frames.chest @ np.array([s * body.shoulder_half, 0.0, 0.0]), frames.chest
    return frames.pelvis @ np.array([s * body.hip_half, 0.0, 0.0]), frames.pelvis


def _hand(wrist: np.ndarray, forearm: np.ndarray, hand: Hand, side: int, scale: float) -> list[np.ndarray]:
    # 21 points: the hand continues the forearm; palm towards the body at rest, the thumb forward.
    along, palm, thumb = forearm @ DOWN, forearm @ np.array([-side, 0.0, 0.0]), forearm @ np.array([0.0, 0.0, 1.0])
    p, w = math.radians(hand.pronate), math.radians(hand.flex)
    palm, thumb = math.cos(p) * palm - math.sin(p) * thumb, math.cos(p) * thumb + math.sin(p) * palm
    along, palm = math.cos(w) * along + math.sin(w) * palm, math.cos(w) * palm - math.sin(w) * along
    curls, spread = SHAPES[hand.shape]
    points = [wrist]
    for finger, ((a, c), bones, bends) in enumerate(zip(KNUCKLES, FINGER_BONES, curls, strict=True)):
        point = wrist + scale * (a * along + c * thumb)
        fan = math.radians(spread * (finger - 2) * 0.5 if finger else 50)  # the thumb points out at 50 degrees
        direction = math.cos(fan) * along + math.sin(fan) * thumb
        if finger == 0:
            direction = direction + 0.35 * palm  # the thumb sits below the palm's plane
            direction /= np.linalg.norm(direction)
        points.append(point)
        angle = 0.0
        for bone, bend in zip(bones, bends, strict=True):
            angle += math.radians(bend)
            point = point + scale * bone * (math.cos(angle) * direction + math.sin(angle) * palm)
            points.append(point)
    return points


def skeleton(pose: Pose, body: Body) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """3D joints in metres (pelvis centre at the origin; x = person's left, y = up, z = forward).

    Returns the named points (the 18 keypoints, `head_top`, `r_foot`, `l_foot`, and `r_hand_0`..`r_hand_20`
    and the left ones when the pose has hands) and the outward normals of the face points.
    """
    f = _frames(pose, body)
    p: dict[str, np.ndarray] = {"neck": f.chest @ np.array([0.0, body.spine, 0.0])}
    for side, s in (("l", 1), ("r", -1)):
        for kind, names, lengths in (
            ("arm", ("shoulder", "elbow", "wrist"), (body.upper_arm, body.forearm)),
            ("leg", ("hip", "knee", "ankle"), (body.thigh, body.shin)),
        ):
            limb = getattr(pose, f"{side}_{kind}")
            root, parent = _roots(f, body, f"{side}_{kind}")
            middle, end, lower = _chain(root, parent, limb, s, lengths, kind == "arm")
            p |= {f"{side}_{names[0]}": root, f"{side}_{names[1]}": middle, f"{side}_{names[2]}": end}
            if kind == "leg":
                p[f"{side}_foot"] = end + lower @ DOWN * FOOT * body.head
            elif (hand := getattr(pose, f"{side}_hand")) is not None:
                for i, point in enumerate(_hand(end, lower, hand, s, body.head)):
                    p[f"{side}_hand_{i}"] = point
    normals: dict[str, np.ndarray] = {}
    for name, (offset, normal, _) in FACE.items():
        p[name] = f.pivot + f.head @ (np.array(offset) * body.head)
        normals[name] = f.head @ (np.array(normal) / np.linalg.norm(normal))
    p["head_top"] = f.pivot + f.head @ (np.array(HEAD_TOP) * body.head)
    if pose.lie or pose.roll or pose.sway_forward or pose.sway_side:
        ground = _rx(-pose.lie) @ _rz(pose.roll) @ _rx(pose.sway_forward) @ _rz(-pose.sway_side)
        p = {n: ground @ v for n, v in p.items()}
        normals = {n: ground @ v for n, v in normals.items()}
    return p, normals


# --- contacts: where a joint must touch ---------------------------------------------------------

# Where a wrist (or an elbow) rests when it touches each place, in the frame of the part it belongs to,
# metres: x = the person's left, y = up, z = forward. `_r`/`_l`: on the person's right or left side.
HEAD_PLACES = {
    "chin": (0.0, -0.02, 0.11),
    "cheek": (0.07, 0.0, 0.07),
    "mouth": (0.02, 0.0, 0.16),
    "ear": (0.08, 0.03, 0.04),
    "temple": (0.09, 0.1, 0.03),
    "brim": (0.06, 0.17, 0.15),
    "forehead": (0.03, 0.13, 0.15),
    "crown": (0.06, 0.24, 0.0),
    "hair": (0.1, 0.16, -0.06),
    "nape": (0.07, 0.08, -0.11),
}
# Where the fingers (the middle finger's second joint, `{side}_fingers` contacts) touch, on the skin, at the heights
# the face points (avatargen.poses.body.FACE) and the head's top measure: the hinge of the glasses beside the eye,
# behind the ear, the brow, the top of the head, the back of the neck, the hair over the ear.
SKIN_PLACES = {
    "glasses": (0.0, 0.165, 0.11),  # the bridge, between the eyes, pushed up with a finger
    "behind_ear": (0.085, 0.16, -0.025),
    "brow": (0.03, 0.2, 0.095),
    "scalp": (0.03, 0.27, 0.0),
    "back_of_neck": (0.01, -0.03, -0.09),
    "side_hair": (0.085, 0.2, -0.03),
}
HEAD_PLACES |= SKIN_PLACES
FINGER_POINT = 11  # of the 21 hand points: the middle finger's second joint, where a touching hand rests
WRAP = {"hair", "crown", "nape", "temple", "forehead", "brim", "ear"}  # places the hand reaches over, not up to
CHEST_PLACES = {
    "collar": (0.06, -0.13, 0.1),
    "throat": (0.03, -0.07, 0.11),
    "chest": (0.04, -0.2, 0.13),
    "shoulder": (0.2, 0.05, 0.0),
    "over_shoulder": (0.13, 0.13, 0.03),
}
PELVIS_PLACES = {
    "hip": (0.18, 0.09, -0.01),
    "waist": (0.16, 0.17, 0.02),
    "pocket": (0.13, -0.03, 0.09),
    "back_pocket": (0.1, -0.06, -0.1),
    "lowback": (0.04, 0.05, -0.15),
    "belly": (0.05, 0.04, 0.14),
}
LEG_PLACES = {"knee": (0.0, 0.0, 0.07), "thigh": (0.03, 0.0, 0.08)}  # on the kneecap / the front of the thigh


def _limb_joints(f: Frames, pose: Pose, body: Body) -> dict[str, np.ndarray]:
    # The limb joints alone (what contacts touch), quicker than the whole skeleton.
    out = {}
    for side, s in (("l", 1), ("r", -1)):
        for kind, names, lengths in (
            ("arm", ("shoulder", "elbow", "wrist"), (body.upper_arm, body.forearm)),
            ("leg", ("hip", "knee", "ankle"), (body.thigh, body.shin)),
        ):
            root, parent = _roots(f, body, f"{side}_{kind}")
            middle, end, _ = _chain(root, parent, getattr(pose, f"{side}_{kind}"), s, lengths, kind == "arm")
            out |= {f"{side}_{names[0]}": root, f"{side}_{names[1]}": middle, f"{side}_{names[2]}": end}
    return out


GROUND_REST = {"ankle": FOOT, "knee": 0.05}  # metres (times `head`) a joint rests above the ground under it


def ground_target(joint: str, pose: Pose, body: Body, joints: dict | None = None) -> np.ndarray:
    """Where `joint` (an ankle or a knee) rests on the ground the other leg stands or kneels on: straight below
    or above where it is, at its resting height over that ground (the other sole, or the other knee's rest)."""
    points, _ = skeleton(pose, body)
    other = "l" if joint[0] == "r" else "r"
    rest = 0.05 * body.head
    ground = min(points[f"{other}_foot"][1], points[f"{other}_knee"][1] - rest, points[f"{other}_ankle"][1] - rest)
    x, _, z = (joints or points)[joint]
    return np.array([x, ground + GROUND_REST[joint[2:]] * body.head, z])


def place(name: str | tuple, pose: Pose, body: Body, f: Frames | None = None, joints: dict | None = None) -> np.ndarray:
    """A contact's target in metres (before the body is laid down): a place (`chin`, `hip_r`...), a joint
    (`l_knee`) or a point [x, y, z] around the pelvis."""
    if not isinstance(name, str):
        return np.array(name, dtype=float)
    f = f or _frames(pose, body)
    base, _, side = name.rpartition("_") if name[-2:] in ("_r", "_l") else (name, "", "")
    s = -1.0 if side == "r" else 1.0
    for places, frame, origin, scale in (
        (HEAD_PLACES, f.head, f.pivot, body.head),
        (CHEST_PLACES, f.chest, f.chest @ np.array([0.0, body.spine, 0.0]), body.shoulder_half / 0.175),
        (PELVIS_PLACES, f.pelvis, np.zeros(3), body.hip_half / 0.0975),
    ):
        if base in places:
            x, y, z = places[base]
            return origin + frame @ (np.array([s * x, y, z]) * scale)
    joints = joints or _limb_joints(f, pose, body)
    if base in LEG_PLACES:
        side = side or "r"
        hip, knee = joints[f"{side}_hip"], joints[f"{side}_knee"]
        thigh = _limb(f.pelvis, getattr(pose, f"{side}_leg"), 1 if side == "l" else -1)
        x, y, z = LEG_PLACES[base]
        spot = knee if base == "knee" else hip + 0.12 * (knee - hip)  # the fingers reach the middle
        return spot + thigh @ np.array([s * x, y, z])
    if name in joints:
        return joints[name]
    raise ValueError(f"unknown contact place {name!r}")


def _least_squares(residuals, x: np.ndarray, bounds: np.ndarray, steps: int = 60) -> np.ndarray:
    # Levenberg-Marquardt within bounds (a step that leaves them is clipped), numeric Jacobian.
    r, damping = residuals(x), 1.0
    for _ in range(steps):
        jacobian = np.empty((len(r), len(x)))
        for i in range(len(x)):
            dx = np.zeros(len(x))
            dx[i] = 1e-3
            jacobian[:, i] = (residuals(x + dx) - r) / 1e-3
        gradient = jacobian.T @ r
        while damping < 1e8:
            step = np.linalg.solve(jacobian.T @ jacobian + damping * np.eye(len(x)), -gradient)
            trial = np.clip(x + step, bounds[:, 0], bounds[:, 1])
            r_trial = residuals(trial)
            if r_trial @ r_trial < r @ r:
                x, r, damping = trial, r_trial, max(damping / 3, 1e-4)
                break
            damping *= 4
        else:
            break
        if np.abs(step).max() < 1e-3:
            break
    return x


def solve(pose: Pose, body: Body, contacts: dict) -> Pose:
    """`pose` with its contacts met: each contact's limb moved as little as it takes (within the joint
    ranges) so that its joints (`r_wrist`, `l_elbow`, `r_ankle`...) rest on their places. Legs first, as
    arms often rest on them; the spine is the base pose's to set, so that a limb can reach."""
    by_limb: dict[str, list[str]] = {}
    for joint in contacts:
        by_limb.setdefault(f"{joint[0]}_{'arm' if joint[2:] in ('elbow', 'wrist', 'fingers') else 'leg'}", []).append(
            joint
        )
    f = _frames(pose, body)
    for limb_name in sorted(by_limb, key=lambda n: "arm" in n):
        joints = by_limb[limb_name]
        targets = [
            ground_target(j, pose, body) if contacts[j] == "ground" else place(contacts[j], pose, body, f)
            for j in joints
        ]
        arm, s = limb_name.endswith("arm"), 1 if limb_name[0] == "l" else -1
        root, parent = _roots(f, body, limb_name)
        lengths = (body.upper_arm, body.forearm) if arm else (body.thigh, body.shin)
        ranges = ARM_RANGE if arm else LEG_RANGE
        keys = list(ranges)
        x0 = np.array([getattr(getattr(pose, limb_name), k) for k in keys])
        parts = [j[2:] for j in joints]
        hand = getattr(pose, f"{limb_name[0]}_hand") or Hand()

        def residuals(
            x, x0=x0, keys=keys, targets=targets, parts=parts, hand=hand, chain=(root, parent), s=s, arm=(lengths, arm)
        ):
            middle, end, lower = _chain(*chain, Limb(**dict(zip(keys, x, strict=True))), s, *arm)
            reached = {"elbow": middle, "knee": middle, "wrist": end, "ankle": end}
            if "fingers" in parts:
                reached["fingers"] = _hand(end, lower, hand, s, body.head)[FINGER_POINT]
            gaps = [(reached[part] - t) * 100 for part, t in zip(parts, targets, strict=True)]  # centimetres
            return np.concatenate([*gaps, 0.045 * (x - x0)])  # and a little for each degree moved

        bounds = np.array([ranges[k] for k in keys], dtype=float)
        x = _least_squares(residuals, np.clip(x0, bounds[:, 0], bounds[:, 1]), bounds)
        limb = Limb(**{k: round(float(v), 2) for k, v in zip(keys, x, strict=True)})
        pose = replace(pose, **{limb_name: limb})
    return pose


def contact_gaps(pose: Pose, body: Body, contacts: dict) -> dict[str, float]:
    """How far (metres) each contact's joint is from its place."""
    f = _frames(pose, body)
    joints = _limb_joints(f, pose, body)
    for side in {j[0] for j in contacts if j.endswith("_fingers")}:
        s = 1 if side == "l" else -1
        _, wrist, lower = _chain(
            *_roots(f, body, f"{side}_arm"), getattr(pose, f"{side}_arm"), s, (body.upper_arm, body.forearm), True
        )
        joints[f"{side}_fingers"] = _hand(wrist, lower, getattr(pose, f"{side}_hand") or Hand(), s, body.head)[
            FINGER_POINT
        ]
    return {
        j: float(
            np.linalg.norm(
                joints[j] - (ground_target(j, pose, body, joints) if t == "ground" else place(t, pose, body, f, joints))
            )
        )
        for j, t in contacts.items()
    }


# Joint ranges a body can reach (degrees), checked on every template.
ARM_RANGE = {"flex": (-60, 180), "abduct": (-45, 180), "swing": (-60, 120), "twist": (-90, 150), "bend": (0, 150)}
LEG_RANGE = {"flex": (-80, 135), "abduct": (-35, 80), "swing": (-60, 60), "twist": (-90, 90), "bend": (0, 160)}
BODY_RANGE = {
    "turn": (-45, 45),
    "lean": (-40, 90),
    "hip_roll": (-20, 20),
    "spine_bend": (-30, 60),
    "spine_side": (-30, 30),
    "spine_twist": (-45, 45),
    "head_turn": (-80, 80),
    "head_nod": (-40, 45),
    "head_tilt": (-30, 30),
}


def out_of_range(pose: Pose) -> list[str]:
    """The angles of `pose` that no body reaches."""
    bad = [f"{k} {getattr(pose, k)}" for k, (lo, hi) in BODY_RANGE.items() if not lo <= getattr(pose, k) <= hi]
    for limb, ranges in (("r_arm", ARM_RANGE), ("l_arm", ARM_RANGE), ("r_leg", LEG_RANGE), ("l_leg", LEG_RANGE)):
        angles = getattr(pose, limb)
        bad += [
            f"{limb}.{k} {getattr(angles, k)}" for k, (lo, hi) in ranges.items() if not lo <= getattr(angles, k) <= hi
        ]
    return bad


# --- camera and framing -------------------------------------------------------------------------


def project(points: dict[str, np.ndarray], yaw: float, pitch: float, target: np.ndarray, distance: float):
    """Perspective projection from a camera orbiting `target`; image y grows downwards.

    Returns the 2D points (in units of the focal length) and the camera position.
    """
    y, t = math.radians(yaw), math.radians(pitch)
    back = np.array([math.sin(y) * math.cos(t), math.sin(t), math.cos(y) * math.cos(t)])
    eye = target + distance * back
    forward = -back
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    out = {}
    for name, point in points.items():
        d = point - eye
        z = float(d @ forward)
        out[name] = np.array([float(d @ right) / z, -float(d @ up) / z])
    return out, eye


def shoot(pose: Pose, body: Body, view: str, framing: str, pitch: float = 0.0):
    """The 18 [x, y, visibility] keypoints of one shot on the 2:3 canvas, and its hands (right, left: 21
    each) or None. A joint outside the frame, or a face point turned away from the camera, is [0, 0, 0];
    a hand whose wrist is not seen is all zeros."""
    p3, normals = skeleton(pose, body)
    target = {
        "full-body": np.mean([p3[n] for n in KEYPOINT_NAMES], axis=0),
        "three-quarter": (p3["neck"] + (p3["r_knee"] + p3["l_knee"]) / 2) / 2,
        "half-body": (p3["neck"] + (p3["r_hip"] + p3["l_hip"]) / 2) / 2,
        "head-shoulders": (p3["neck"] + p3["nose"]) / 2,
    }[framing]
    p2, eye = project(p3, VIEW_YAW[view], pitch, target, CAMERA_DISTANCE[framing])
    hand_points = {n: p2.pop(n) for n in list(p2) if "_hand_" in n}
    seen = [n for n in KEYPOINT_NAMES if n not in FACE]
    for name, (_, _, least) in FACE.items():
        to_eye = (eye - p3[name]) / np.linalg.norm(eye - p3[name])
        if float(normals[name] @ to_eye) > least:
            seen.append(name)
    body_points = [list(k) for k in to_canvas(p2, seen, framing)]
    if pose.r_hand is None and pose.l_hand is None:
        return body_points, None
    left, top, height = canvas_box(p2, framing)
    hands = []
    for side in "rl":
        wrist_seen = body_points[KEYPOINT_NAMES.index(f"{side}_wrist")][2] > 0
        hand = []
        for i in range(HAND_POINTS):
            point = hand_points.get(f"{side}_hand_{i}")
            if point is None or not wrist_seen:
                hand.append([0.0, 0.0, 0.0])
                continue
            x, y = (point[0] - left) / (height * 2 / 3), (point[1] - top) / height
            hand.append([x, y, 1.0] if 0 <= x <= 1 and 0 <= y <= 1 else [0.0, 0.0, 0.0])
        hands.append(hand)
    return body_points, hands


# --- the base poses, from poses/base_poses.yaml ------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One arm/leg variation of a base pose, as published (the first is the base pose as written)."""

    slug: str  # "" for the base pose itself
    name: str
    pose: Pose  # contacts solved, per body: see `BasePose.solved`
    contacts: tuple[tuple[str, str | tuple[float, float, float]], ...]  # (joint, place)
    tags: tuple[str, ...]


@dataclass(frozen=True)
class BasePose:
    """A named pose and how the build publishes it."""

    slug: str  # the start of every template id
    name: str
    category: str
    tags: tuple[str, ...]
    variants: tuple[Variant, ...]
    views: tuple[str, ...]  # the views it reads in, the best first
    framings: tuple[str, ...]  # the framings it reads at, the best first
    genders: tuple[float, float, float]  # how often each body: female, male, unisex
    shots: int  # how many templates of each variation at most
    pitch: float  # camera pitch, degrees (looking down on the person when positive)
    seated: bool  # the thighs carry the pose: it must not be seen end-on
    static: bool  # held still on the feet (or knees): its centre of mass must be over what rests on the ground


CODES = {**{c: v for v, c in VIEW_CODE.items()}, **{c: f for f, c in FRAMING_CODE.items()}}
POSE_KEYS = {f.name for f in fields(Pose)} - {"r_arm", "l_arm", "r_leg", "l_leg", "r_hand", "l_hand"}
POSE_KEYS -= {"sway_forward", "sway_side"}
BASE_KEYS = {"slug", "name", "category", "tags", "body", "arms", "legs", "hands", "contacts", "variants"}
BASE_KEYS |= {"views", "framings", "genders", "shots", "pitch", "seated", "static"}


def _limb_spec(spec, presets: dict, where: str) -> Limb:
    if isinstance(spec, str):
        spec = {"like": spec}
    spec = dict(spec)
    like = spec.pop("like", None)
    if like is not None and like not in presets:
        raise ValueError(f"{where}: no limb preset {like!r}")
    values = dict(presets[like]) if like else {}
    unknown = set(spec) - {f.name for f in fields(Limb)}
    if unknown:
        raise ValueError(f"{where}: unknown limb angles {sorted(unknown)}")
    return Limb(**(values | spec))


def _hand_spec(spec, where: str) -> Hand | None:
    if spec is None:
        return None
    hand = Hand(shape=spec) if isinstance(spec, str) else Hand(**spec)
    if hand.shape not in SHAPES:
        raise ValueError(f"{where}: unknown hand shape {hand.shape!r}")
    return hand


def _pose(entry: dict, presets: dict, where: str, parent: Pose | None = None) -> Pose:
    body = entry.get("body", {})
    if set(body) - POSE_KEYS:
        raise ValueError(f"{where}: unknown body angles {sorted(set(body) - POSE_KEYS)}")
    pose = replace(parent, **body) if parent else Pose(**body)
    changes = {}
    for key, parts, kind in (("arms", ("r_arm", "l_arm"), "arm"), ("legs", ("r_leg", "l_leg"), "leg")):
        if key in entry:
            for part, spec in zip(parts, entry[key], strict=True):
                if spec is not None:
                    changes[part] = _limb_spec(spec, presets[kind], f"{where} {part}")
    if "hands" in entry:
        hands = entry["hands"] if isinstance(entry["hands"], list) else [entry["hands"]] * 2
        changes |= {"r_hand": _hand_spec(hands[0], where), "l_hand": _hand_spec(hands[1], where)}
    return replace(pose, **changes)


def _contacts(spec: dict) -> tuple:
    joints = {f"{s}_{j}" for s in "rl" for j in ("elbow", "wrist", "fingers", "knee", "ankle")}
    if set(spec) - joints:
        raise ValueError(f"contacts of unknown joints {sorted(set(spec) - joints)}")
    return tuple((j, t if isinstance(t, str) else tuple(t)) for j, t in spec.items() if t is not None)


def load(path: Path = DATA) -> tuple[BasePose, ...]:
    """The base poses in the data file, validated (ValueError naming the pose and what is wrong)."""
    data = yaml.safe_load(path.read_text())
    presets = {"arm": data["arms"], "leg": data["legs"]}
    defaults = data["defaults"]
    out = []
    for entry in data["poses"]:
        where = f"{path.name}: {entry.get('slug')!r}"
        if set(entry) - BASE_KEYS:
            raise ValueError(f"{where}: unknown keys {sorted(set(entry) - BASE_KEYS)}")
        category = entry["category"]
        if category not in CATEGORIES:
            raise ValueError(f"{where}: category {category!r} is not one of {CATEGORIES}")
        d = defaults[category]
        pose = _pose(entry, presets, where)
        variants = [Variant("", entry["name"], pose, _contacts(entry.get("contacts", {})), ())]
        for v in entry.get("variants", ()):
            vwhere = f"{where} variant {v.get('slug')!r}"
            if set(v) - {"slug", "name", "body", "arms", "legs", "hands", "contacts", "tags"}:
                raise ValueError(f"{vwhere}: unknown keys")
            contacts = dict(entry.get("contacts", {})) | dict(v.get("contacts", {}))
            pose_v = _pose(v, presets, vwhere, pose)
            variants.append(Variant(v["slug"], v["name"], pose_v, _contacts(contacts), tuple(v.get("tags", ()))))
        views = tuple(CODES[c] for c in entry.get("views", d["views"]))
        framings = tuple(CODES[c] for c in entry.get("framings", d["framings"]))
        if not set(views) <= set(VIEWS) or not set(framings) <= set(FRAMINGS):
            raise ValueError(f"{where}: bad views or framings")
        out.append(
            BasePose(
                slug=entry["slug"],
                name=entry["name"],
                category=category,
                tags=tuple(entry["tags"]),
                variants=tuple(variants),
                views=views,
                framings=framings,
                genders=tuple(entry.get("genders", defaults["genders"])),
                shots=int(entry.get("shots", d["shots"])),
                pitch=float(entry.get("pitch", 0.0)),
                seated=bool(entry.get("seated", d.get("seated", False))),
                static=bool(entry.get("static", d.get("static", False))),
            )
        )
    slugs = [b.slug for b in out]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"{path.name}: repeated slugs {sorted({s for s in slugs if slugs.count(s) > 1})}")
    names = [v.name for b in out for v in b.variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: repeated names {sorted({n for n in names if names.count(n) > 1})}")
    return tuple(out)


LIBRARY = load()


# --- shots: the templates each base pose is published as ---------------------------------------


@dataclass(frozen=True)
class Shot:
    """One template: a variation of a base pose on a body, from a camera, at a framing."""

    id: str
    base: BasePose
    variant: Variant
    gender: str
    view: str
    framing: str
    pose: Pose  # contacts solved for this body
    mirrored: bool = False  # published as its mirror image, at the mirror view (left and right kept even)

    @property
    def body(self) -> Body:
        return BODIES[self.gender]

    @property
    def slug(self) -> str:
        """The variation's slug: the base pose's, and the variation's own after it."""
        return self.base.slug + (f"-{self.variant.slug}" if self.variant.slug else "")

    def template(self) -> PoseTemplate:
        """The template as published: the camera's shot, or its mirror image when `mirrored`."""
        hands = self.hands()
        shot = PoseTemplate(
            id=self.id,
            name=self.name(),
            category=self.base.category,
            gender=self.gender,
            view=self.view,
            framing=self.framing,
            tags=tuple(self.tags()),
            keypoints=tuple(map(tuple, _rounded(self.keypoints()))),
            base_pose=self.base.slug,
            hands=None if hands is None else tuple(tuple(map(tuple, _rounded(hand))) for hand in hands),
        )
        return replace(shot.mirrored(), id=self.id) if self.mirrored else shot

    @cache  # noqa: B019 (shots are few and live as long as the build)
    def shoot(self):
        return shoot(self.pose, self.body, self.view, self.framing, self.base.pitch)

    def keypoints(self) -> list[list[float]]:
        return self.shoot()[0]

    def hands(self):
        return self.shoot()[1]

    def name(self) -> str:
        suffix = "" if self.framing == "full-body" else f", {FRAMING_LABEL[self.framing]}"
        return f"{self.variant.name}, {VIEW_LABEL[self.view]}{suffix}"

    def tags(self) -> list[str]:
        return list(dict.fromkeys([*self.variant.tags, *self.base.tags, *CATEGORY_TAGS[self.base.category]]))


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


@cache
def solved(base: BasePose, variant: Variant, gender: str) -> Pose:
    """The variation's angles with its contacts solved for a body; ValueError when a contact is missed."""
    body = BODIES[gender]
    contacts = dict(variant.contacts)
    pose = variant.pose
    for more in (0, 4, 8, 12, 16, 20, 24) if contacts else ():  # bend forward a little more where an arm can't reach
        bent = replace(variant.pose, spine_bend=min(variant.pose.spine_bend + more, BODY_RANGE["spine_bend"][1]))
        pose = solve(bent, body, contacts)
        if max(contact_gaps(pose, body, contacts).values()) <= CONTACT_TOLERANCE:
            break
    for joint, target in contacts.items():  # a hand laid on the head bends back at the wrist, fingers on it
        hand = getattr(pose, f"{joint[0]}_hand")
        if joint[2:] == "wrist" and hand and not hand.flex and isinstance(target, str) and target[:-2] in WRAP:
            pose = replace(pose, **{f"{joint[0]}_hand": replace(hand, flex=-45.0)})
    where = f"{base.slug}{'-' + variant.slug if variant.slug else ''} ({gender})"
    missed = {j: round(g, 3) for j, g in contact_gaps(pose, body, contacts).items() if g > CONTACT_TOLERANCE}
    if missed:
        raise ValueError(f"{where}: contacts missed by (m) {missed}")
    bad = out_of_range(pose)
    if bad:
        raise ValueError(f"{where}: angles out of range: {bad}")
    points, _ = skeleton(pose, body)
    depth = torso_penetration(points)
    if depth is not None and depth > PENETRATION_LIMIT:
        raise ValueError(f"{where}: a limb goes {depth:.2f} into the torso")
    return balanced(pose, body) if base.static else pose


SWAY_LIMIT = 8.0  # degrees a static pose may be tipped over its feet to stand: more would read as falling


def balanced(pose: Pose, body: Body) -> Pose:
    """A static pose tipped over its feet (as a person shifts their weight) until its centre of mass is over
    what rests on the ground, by at most `SWAY_LIMIT` degrees each way; the contacts move with the body."""
    for _ in range(4):
        points, _ = skeleton(pose, body)
        if balance_offset(points) <= BALANCE_LIMIT / 5:
            break
        x, height, z = centre_of_mass(points)
        ground = min(float(points[n][1]) for n in ("r_foot", "l_foot", "r_knee", "l_knee"))
        target_x, target_z = support_centre(points)
        lever = max(height - ground, 0.3)
        forward = pose.sway_forward - math.degrees((z - target_z) / lever)
        side = pose.sway_side - math.degrees((x - target_x) / lever)
        limit = SWAY_LIMIT
        pose = replace(
            pose,
            sway_forward=round(max(-limit, min(limit, forward)), 2),
            sway_side=round(max(-limit, min(limit, side)), 2),
        )
    return pose


def _shot_id(slug: str, gender: str, view: str, framing: str) -> str:
    return f"{slug}-{GENDER_CODE[gender]}-{VIEW_CODE[view]}-{FRAMING_CODE[framing]}"


def candidates(base: BasePose) -> list[Shot]:
    """Every shot of a base pose worth trying, the best first: each variation at each (view, framing),
    in the order the base pose lists them (the first view at the first framing first)."""
    combos = sorted(
        ((v, f) for v in base.views for f in base.framings),
        key=lambda vf: (base.views.index(vf[0]) + base.framings.index(vf[1]), base.framings.index(vf[1])),
    )
    out = []
    for variant in base.variants:
        for view, framing in combos:
            slug = base.slug + (f"-{variant.slug}" if variant.slug else "")  # as Shot.slug says
            rng = np.random.default_rng(_seed(slug, view, framing))
            gender = str(rng.choice(GENDERS, p=base.genders))
            shot_id = _shot_id(slug, gender, view, framing)
            out.append(Shot(shot_id, base, variant, gender, view, framing, solved(base, variant, gender)))
    return out


K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _xy(k, name):
    x, y, v = k[K[name]]
    return (x * 2 / 3, y) if v else None


LYING_PITCH = 45.0  # degrees: a lying pose shot from higher reads as a standing figure seen from above
STRIDE = 8.0  # degrees between the legs (hip to ankle) a walking full-body shot shows, or it reads as standing


def _legs_apart(k) -> float:
    # The angle between the two legs on the canvas, hip to ankle (0 when an ankle is not seen).
    legs = [(h, a) for s in "rl" if (h := _xy(k, f"{s}_hip")) and (a := _xy(k, f"{s}_ankle"))]
    if len(legs) < 2:
        return 0.0
    (h1, a1), (h2, a2) = legs
    return abs(math.degrees(math.atan2(a1[0] - h1[0], a1[1] - h1[1]) - math.atan2(a2[0] - h2[0], a2[1] - h2[1])))


def reads(shot: Shot) -> list[str]:
    """Why a shot's gesture would be lost at its view and framing (empty: it reads)."""
    k = shot.keypoints()
    scale = body_scale(k)
    problems = list(assess(k, shot.framing).problems)
    if not (_xy(k, "r_shoulder") and _xy(k, "l_shoulder")):
        problems.append("a shoulder is cut off")
    for s in "rl":
        if _xy(k, f"{s}_wrist") and not _xy(k, f"{s}_elbow"):
            problems.append(f"the {s} wrist is seen without its elbow")
        if _xy(k, f"{s}_elbow") and not _xy(k, f"{s}_wrist"):
            points, _ = skeleton(shot.pose, shot.body)
            if points[f"{s}_wrist"][1] > points[f"{s}_elbow"][1]:
                problems.append(f"the {s} hand is raised out of the picture")
    if shot.base.static and (off := balance_offset(skeleton(shot.pose, shot.body)[0])) > BALANCE_LIMIT:
        problems.append(f"off balance: the centre of mass is {100 * off:.0f} cm outside the feet")
    if shot.base.category == "lying" and shot.base.pitch > LYING_PITCH:
        problems.append("a lying pose shot from above: it reads as a standing figure")
    if shot.base.category == "walking" and shot.framing == "full-body" and _legs_apart(k) < STRIDE:
        problems.append("walking with the legs parallel: the stride is lost")
    if shot.view == "back" and not _xy(k, "nose"):
        problems.append("from the back without the face")
    if shot.view in ("side-left", "side-right") and not _xy(k, "nose"):
        problems.append("a profile without the face")
    if shot.base.seated and shot.framing in ("full-body", "three-quarter") and scale:
        thighs = [math.dist(a, b) for s in "rl" if (a := _xy(k, f"{s}_hip")) and (b := _xy(k, f"{s}_knee"))]
        if not thighs or max(thighs) < 0.55 * shot.body.thigh * scale:
            problems.append("the thighs point at the camera: it reads as standing")
    if shot.view in ("side-left", "side-right") and shot.framing != "head-shoulders" and scale:
        limbs = [p[0] for n in KEYPOINT_NAMES if n[2:] in ("elbow", "wrist", "knee", "ankle") and (p := _xy(k, n))]
        hips = [p for n in ("r_hip", "l_hip") if (p := _xy(k, n))]
        middle = tuple(np.mean(hips, axis=0)) if hips else None
        torso = math.dist(_xy(k, "neck"), middle) if hips else shot.body.spine * scale
        if limbs and max(limbs) - min(limbs) < 0.8 * torso:
            problems.append("a vertical stick in profile: the gesture is lost")
    return problems


@cache
def shots() -> tuple[Shot, ...]:
    """Every template of the library, in gallery order: the first shot of each base pose, then the second
    of each, and so on, so that any page shows many different poses. Shots that do not read are left out,
    and so is any that is a twin of one already taken (the same framing; mirror images count)."""
    per_base, errors = [], []
    for base in LIBRARY:
        try:
            good = [s for s in candidates(base) if not reads(s)]
        except ValueError as error:
            errors.append(str(error))
            continue
        per_variant = {}
        for s in good:
            per_variant.setdefault(s.variant.slug, []).append(s)
        per_base.append([s for group in per_variant.values() for s in group[: base.shots]])
    if errors:
        raise ValueError("the base poses have problems:\n" + "\n".join(errors))
    ordered = [s for rank in range(max(map(len, per_base))) for group in per_base for s in group[rank : rank + 1]]
    kept: list[Shot] = []
    metres: dict[str, list[np.ndarray]] = {f: [] for f in FRAMINGS}
    for shot in ordered:
        m = body_metres(shot.keypoints())
        taken = metres[shot.framing]
        if m is not None and taken:
            mean, worst = twin_distances(m, np.array(taken))
            if ((mean < TWIN_MEAN) & (worst < TWIN_WORST)).any():
                continue
        if m is not None:
            taken.append(m)
        kept.append(shot)
    assert len({s.id for s in kept}) == len(kept), "duplicate template ids"
    lost = [b.slug for b in LIBRARY if not any(s.base is b for s in kept)]
    if lost:
        raise ValueError(f"base poses with no template of their own (twins of others, or no view reads): {lost}")
    return _balanced(kept)


AS_WRITTEN = {"stand-hands-hips", "jump-star", "portrait-chin-hand", "fashion-over-shoulder"}  # ids tests and docs name


def _balanced(kept: list[Shot]) -> tuple[Shot, ...]:
    # Each base pose as written or as its mirror image, whichever keeps the library's running counts of each
    # left/right measure (avatargen.poses.balance) nearer even; a mirrored shot is published at the mirror view.
    by_base: dict[str, list[Shot]] = {}
    for shot in kept:
        by_base.setdefault(shot.base.slug, []).append(shot)
    totals = dict.fromkeys(MEASURES, 0)
    mirrored = set()
    for slug, group in by_base.items():
        lean = {m: sum(sides(s.template())[m] for s in group) for m in MEASURES}
        flipped, as_is = (sum(abs(totals[m] + sign * lean[m]) for m in MEASURES) for sign in (-1, 1))
        sign = -1 if flipped < as_is and slug not in AS_WRITTEN else 1
        totals = {m: totals[m] + sign * lean[m] for m in MEASURES}
        if sign < 0:
            mirrored.add(slug)
    return tuple(
        replace(s, mirrored=True, id=_shot_id(s.slug, s.gender, MIRROR_VIEW[s.view], s.framing))
        if s.base.slug in mirrored
        else s
        for s in kept
    )


def rows() -> list[dict]:
    """Every template of the shared library as a row, in gallery order."""
    out = []
    for s in shots():
        t = s.template()
        out.append(
            {
                "id": t.id,
                "name": t.name,
                "base_pose": t.base_pose,
                "category": t.category,
                "gender": t.gender,
                "view": t.view,
                "framing": t.framing,
                "tags": list(t.tags),
                "keypoints": [list(k) for k in t.keypoints],
                "hands": None if t.hands is None else [[list(k) for k in hand] for hand in t.hands],
            }
        )
    return out


def _rounded(points: list[list[float]]) -> list[list[float]]:
    # what is written: noise below this (the least squares differ by BLAS kernel) does not reach the file
    return [[round(float(c), DECIMALS) for c in point] for point in points]


POINTS = pa.list_(pa.list_(pa.float64()))
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("name", pa.string()),
        ("base_pose", pa.string()),
        ("category", pa.string()),
        ("gender", pa.string()),
        ("view", pa.string()),
        ("framing", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("keypoints", POINTS),
        ("hands", pa.list_(POINTS)),
    ],
    metadata={"avatargen.poses.format": str(FORMAT_VERSION), "avatargen.poses.keypoints": "coco18+hand21"},
)


def build(out: Path = OUT) -> int:
    """Write the library to `out` (parquet); returns the number of templates."""
    table = pa.Table.from_pylist(rows(), schema=SCHEMA)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9, write_statistics=False)
    tmp.replace(out)
    return table.num_rows


def unpublished() -> list[str]:
    """The variations (`<base pose>-<variation>`) of `base_poses.yaml` that no published template shows."""
    shown = {(s.base.slug, s.variant.slug) for s in shots()}
    return [b.slug + f"-{v.slug}" * bool(v.slug) for b in LIBRARY for v in b.variants if (b.slug, v.slug) not in shown]


README = Path(__file__).resolve().with_name("README.md")
NUMBERS = ("<!-- numbers: written by poses/build.py -->\n", "<!-- end of numbers -->")


def _shares(templates: list, facet: str, labels: dict) -> str:
    counts: dict[str, int] = {}
    for t in templates:
        label = labels.get(getattr(t, facet), getattr(t, facet))
        counts[label] = counts.get(label, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{label} {round(100 * n / len(templates))}%" for label, n in ranked)


def numbers(templates: list[PoseTemplate], missing: list[str]) -> str:
    """The library's numbers as poses/README.md gives them (written by the build, checked by the tests)."""
    bases = {t.base_pose for t in templates}
    variations = sum(len(b.variants) - 1 for b in LIBRARY)
    sides = counts(templates)
    side_words = "; ".join(f"{m} {r}/{left}" for m, (r, left) in sides.items())
    views = {
        v: VIEW_LABEL[v].replace(" left", "").replace(" right", "") if v.startswith("side") else VIEW_LABEL[v]
        for v in VIEWS
    }
    return (
        f"{len(templates)} templates, {len(bases)} base poses, {variations} variations "
        f"({len(missing)} not published: {', '.join(missing) or 'none'}), "
        f"{sum(t.hands is not None for t in templates)} templates with hands. "
        f"Categories: {_shares(templates, 'category', {})}. Bodies: {_shares(templates, 'gender', {})}. "
        f"Views: {_shares(templates, 'view', views)}. Framings: {_shares(templates, 'framing', FRAMING_LABEL)}. "
        f"Left/right (the person's right/left): {side_words}."
    )


def write_numbers(text: str, readme: Path = README) -> None:
    """Put `text` between the numbers markers of the README."""
    before, rest = readme.read_text().split(NUMBERS[0], 1)
    _, after = rest.split(NUMBERS[1], 1)
    readme.write_text(f"{before}{NUMBERS[0]}{text}\n{NUMBERS[1]}{after}")


def contact_sheets(library_path: Path, folder: Path, *, every: bool = False) -> list[Path]:
    """One PNG per category (one template per base pose, or `every` template) under `folder`."""
    from avatargen.poses.library import PoseLibrary
    from avatargen.poses.render import contact_sheet

    library = PoseLibrary.load(library_path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for category in CATEGORIES:
        templates, _ = library.query(category=category, limit=10_000, group=not every)
        path = folder / f"{category}{'-all' if every else ''}.png"
        contact_sheet(templates).save(path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument("--sheets", type=Path, help="also write contact sheets (PNG per category) to this folder")
    parser.add_argument("--every", action="store_true", help="contact sheets of every template, not one per pose")
    args = parser.parse_args()
    n = build(args.out)
    print(f"wrote {n} templates from {len(LIBRARY)} base poses to {args.out} ({args.out.stat().st_size} bytes)")
    if missing := unpublished():
        print(f"{len(missing)} variations not published (no view reads, twins, or off balance): {', '.join(missing)}")
    if args.out == OUT:
        write_numbers(numbers([s.template() for s in shots()], missing))
        print(f"wrote the numbers in {README}")
    if args.sheets:
        for path in contact_sheets(args.out, args.sheets, every=args.every):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
