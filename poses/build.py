"""Build the pose template library, poses/templates.parquet, from a small 3D skeleton.

Each base pose is written once as joint angles. The build publishes it as a dozen or so shots: on a body
(male, female or unisex proportions), from a camera (the view's yaw and a small pitch), at a framing (the
crop), as written or mirrored, each with small natural variations of its angles (seeded by the template's
id, so every run gives the same file):

    joint angles --variation--> --forward kinematics--> 3D joints --camera--> 2D --framing--> 2:3 canvas

Every template passes the plausibility checks of avatargen/pose_quality.py (joint ranges, no limb through
the torso, bone lengths, framing) and no two templates are closer than MIN_DISTANCE.
"""

import argparse
import math
import sys
import zlib
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatargen.pose_quality import PENETRATION_LIMIT, assess, distances, pose_distance, torso_penetration  # noqa: E402
from avatargen.poses import CATEGORIES, FRAMINGS, GENDERS, KEYPOINT_NAMES, VIEWS, to_canvas  # noqa: E402

OUT = Path(__file__).resolve().with_name("templates.parquet")
FORMAT_VERSION = "2"
MIN_DISTANCE = 0.05  # canvas heights (avatargen.pose_quality.pose_distance) between any two templates

# Camera orbit angle around the person for each view. The person faces +z; a camera at +yaw sits
# towards the person's left, so they face the viewer's left (three-quarter-left, side-left).
VIEW_YAW = {
    "front": 0.0,
    "three-quarter-left": 40.0,
    "three-quarter-right": -40.0,
    "side-left": 90.0,
    "side-right": -90.0,
    "back": 180.0,
}
VIEW_CODE = {
    "front": "front",
    "three-quarter-left": "3ql",
    "three-quarter-right": "3qr",
    "side-left": "sl",
    "side-right": "sr",
    "back": "back",
}
VIEW_LABEL = {
    "front": "front",
    "three-quarter-left": "three-quarter left",
    "three-quarter-right": "three-quarter right",
    "side-left": "side left",
    "side-right": "side right",
    "back": "back",
}
VIEW_TAGS = {
    "front": ("front", "facing the camera"),
    "three-quarter-left": ("three-quarter", "angled"),
    "three-quarter-right": ("three-quarter", "angled"),
    "side-left": ("side", "profile"),
    "side-right": ("side", "profile"),
    "back": ("back", "from behind"),
}
FRAMING_CODE = {"full-body": "full", "three-quarter": "3q", "half-body": "half", "head-shoulders": "head"}
FRAMING_LABEL = {
    "full-body": "full body",
    "three-quarter": "three-quarter length",
    "half-body": "half body",
    "head-shoulders": "head and shoulders",
}
FRAMING_TAGS = {
    "full-body": ("full body", "full length"),
    "three-quarter": ("three-quarter length", "knees up"),
    "half-body": ("half body", "waist up"),
    "head-shoulders": ("head and shoulders", "headshot", "close-up"),
}
CATEGORY_TAGS = {
    "standing": ("standing",),
    "walking": ("walking", "movement"),
    "sitting": ("sitting", "seated"),
    "leaning": ("leaning",),
    "portrait": ("portrait",),
    "action": ("action", "dynamic"),
    "fashion": ("fashion", "editorial", "model"),
}
GENDER_CODE = {"female": "f", "male": "m", "unisex": "u"}
# Camera distance in metres per framing: a longer lens for tighter shots, as a photographer would.
CAMERA_DISTANCE = {"full-body": 6.0, "three-quarter": 4.5, "half-body": 3.2, "head-shoulders": 2.2}
# --- body ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres between OpenPose joint centres (not skin)."""

    shin: float  # knee -> ankle
    thigh: float  # hip -> knee
    hip_half: float  # pelvis centre -> hip joint, sideways
    spine: float  # pelvis centre -> neck (the point between the shoulders)
    shoulder_half: float  # neck -> shoulder, sideways
    upper_arm: float  # shoulder -> elbow
    forearm: float  # elbow -> wrist
    head: float  # scale of the head and face offsets below (1.0 = adult male)


MALE = Body(
    shin=0.43,
    thigh=0.44,
    hip_half=0.095,
    spine=0.53,
    shoulder_half=0.19,
    upper_arm=0.30,
    forearm=0.27,
    head=1.0,
)  # ~1.78 m
FEMALE = Body(
    shin=0.40,
    thigh=0.41,
    hip_half=0.10,
    spine=0.48,
    shoulder_half=0.16,
    upper_arm=0.275,
    forearm=0.24,
    head=0.94,
)  # ~1.65 m, narrower shoulders
BODIES = {
    "male": MALE,
    "female": FEMALE,
    "unisex": Body(**{f.name: round((getattr(MALE, f.name) + getattr(FEMALE, f.name)) / 2, 4) for f in fields(Body)}),
}

# Head: pivot above the neck (along the chest's up axis), then face points in the head's frame
# (x = the person's left, y = up, z = forward), each with an outward normal for visibility.
HEAD_PIVOT = 0.07
FACE = {
    "nose": ((0.0, 0.13, 0.10), (0.0, 0.0, 1.0), -0.25),
    "r_eye": ((-0.032, 0.16, 0.085), (-0.35, 0.0, 0.94), 0.0),
    "l_eye": ((0.032, 0.16, 0.085), (0.35, 0.0, 0.94), 0.0),
    "r_ear": ((-0.075, 0.14, -0.005), (-0.99, 0.0, -0.15), -0.3),
    "l_ear": ((0.075, 0.14, -0.005), (0.99, 0.0, -0.15), -0.3),
}  # name: (offset, normal, the least cosine between normal and the camera direction to be seen)
HEAD_TOP = (0.0, 0.26, 0.0)
FOOT = 0.08  # ankle -> sole, along the shin: only used to frame full-body shots


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
class Pose:
    """A whole-body pose as joint angles in degrees."""

    turn: float = 0.0  # whole body about the vertical axis, to the person's left (+)
    lean: float = 0.0  # whole body forward (+) or back (-)
    hip_roll: float = 0.0  # pelvis side tilt, left hip up (+)
    spine_bend: float = 0.0  # chest forward (+)
    spine_side: float = 0.0  # chest towards the person's right (+)
    spine_twist: float = 0.0  # chest turned to the person's left (+)
    head_turn: float = 0.0  # to the person's left (+)
    head_nod: float = 0.0  # looking down (+) or up (-)
    head_tilt: float = 0.0  # ear towards the right shoulder (+)
    r_arm: Limb = field(default_factory=Limb)
    l_arm: Limb = field(default_factory=Limb)
    r_leg: Limb = field(default_factory=Limb)
    l_leg: Limb = field(default_factory=Limb)


def mirrored(pose: Pose) -> Pose:
    """The same pose with left and right swapped (waving with the other hand)."""
    return replace(
        pose,
        turn=-pose.turn,
        hip_roll=-pose.hip_roll,
        spine_side=-pose.spine_side,
        spine_twist=-pose.spine_twist,
        head_turn=-pose.head_turn,
        head_tilt=-pose.head_tilt,
        r_arm=pose.l_arm,
        l_arm=pose.r_arm,
        r_leg=pose.l_leg,
        l_leg=pose.r_leg,
    )


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _limb(parent: np.ndarray, limb: Limb, side: int) -> np.ndarray:
    # side: +1 left, -1 right. Rest: the bone hangs down (-y) with its front facing forward (+z).
    return parent @ _ry(-side * limb.swing) @ _rz(side * limb.abduct) @ _rx(-limb.flex) @ _ry(-side * limb.twist)


def skeleton(pose: Pose, body: Body) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """3D joints in metres (pelvis centre at the origin; x = person's left, y = up, z = forward).

    Returns the named points (the 18 keypoints plus `head_top`, `r_foot`, `l_foot`) and the outward
    normals of the face points.
    """
    down = np.array([0.0, -1.0, 0.0])
    pelvis = _ry(pose.turn) @ _rx(pose.lean) @ _rz(pose.hip_roll)
    chest = pelvis @ _ry(pose.spine_twist) @ _rx(pose.spine_bend) @ _rz(pose.spine_side)
    head = chest @ _ry(pose.head_turn) @ _rx(pose.head_nod) @ _rz(pose.head_tilt)

    p: dict[str, np.ndarray] = {}
    p["neck"] = chest @ np.array([0.0, body.spine, 0.0])
    for side, s in (("l", 1), ("r", -1)):
        arm, leg = (pose.l_arm, pose.l_leg) if s == 1 else (pose.r_arm, pose.r_leg)
        shoulder = p["neck"] + chest @ np.array([s * body.shoulder_half, 0.0, 0.0])
        upper = _limb(chest, arm, s)
        elbow = shoulder + upper @ down * body.upper_arm
        b = math.radians(arm.bend)
        wrist = elbow + upper @ np.array([0.0, -math.cos(b), math.sin(b)]) * body.forearm
        hip = pelvis @ np.array([s * body.hip_half, 0.0, 0.0])
        thigh = _limb(pelvis, leg, s)
        knee = hip + thigh @ down * body.thigh
        k = math.radians(leg.bend)
        shin = thigh @ np.array([0.0, -math.cos(k), -math.sin(k)])
        ankle = knee + shin * body.shin
        p |= {
            f"{side}_shoulder": shoulder,
            f"{side}_elbow": elbow,
            f"{side}_wrist": wrist,
            f"{side}_hip": hip,
            f"{side}_knee": knee,
            f"{side}_ankle": ankle,
            f"{side}_foot": ankle + shin * FOOT * body.head,
        }

    pivot = p["neck"] + chest @ np.array([0.0, HEAD_PIVOT * body.head, 0.0])
    normals: dict[str, np.ndarray] = {}
    for name, (offset, normal, _) in FACE.items():
        p[name] = pivot + head @ (np.array(offset) * body.head)
        normals[name] = head @ (np.array(normal) / np.linalg.norm(normal))
    p["head_top"] = pivot + head @ (np.array(HEAD_TOP) * body.head)
    return p, normals


# Joint ranges a body can reach (degrees), checked on every template.
ARM_RANGE = {"flex": (-60, 180), "abduct": (-45, 180), "swing": (-60, 120), "twist": (-90, 150), "bend": (0, 150)}
LEG_RANGE = {"flex": (-80, 135), "abduct": (-35, 80), "swing": (-60, 60), "twist": (-90, 90), "bend": (0, 160)}
BODY_RANGE = {
    "turn": (-30, 30),
    "lean": (-35, 50),
    "hip_roll": (-15, 15),
    "spine_bend": (-25, 50),
    "spine_side": (-30, 30),
    "spine_twist": (-45, 45),
    "head_turn": (-80, 80),
    "head_nod": (-40, 45),
    "head_tilt": (-30, 30),
}
# How far a natural variation may move each angle (degrees): a person never holds a pose twice the same way.
BODY_JITTER = {
    "lean": 2,
    "hip_roll": 2,
    "spine_bend": 3,
    "spine_side": 3,
    "spine_twist": 4,
    "head_turn": 7,
    "head_nod": 5,
    "head_tilt": 4,
}
LIMB_JITTER = {"flex": 6, "abduct": 5, "swing": 4, "twist": 6, "bend": 8}


def out_of_range(pose: Pose) -> list[str]:
    """The angles of `pose` that no body reaches."""
    bad = [f"{k} {getattr(pose, k)}" for k, (lo, hi) in BODY_RANGE.items() if not lo <= getattr(pose, k) <= hi]
    for limb, ranges in (("r_arm", ARM_RANGE), ("l_arm", ARM_RANGE), ("r_leg", LEG_RANGE), ("l_leg", LEG_RANGE)):
        angles = getattr(pose, limb)
        bad += [
            f"{limb}.{k} {getattr(angles, k)}" for k, (lo, hi) in ranges.items() if not lo <= getattr(angles, k) <= hi
        ]
    return bad


def varied(pose: Pose, rng: np.random.Generator) -> Pose:
    """`pose` with each angle moved a little (about half its jitter, at most all of it), kept in range."""

    def jitter(value: float, amount: float, lo: float, hi: float) -> float:
        return round(min(hi, max(lo, value + float(np.clip(rng.normal(0.0, amount / 2), -amount, amount)))), 2)

    body = {k: jitter(getattr(pose, k), a, *BODY_RANGE[k]) for k, a in BODY_JITTER.items()}
    limbs = {}
    for name, ranges in (("r_arm", ARM_RANGE), ("l_arm", ARM_RANGE), ("r_leg", LEG_RANGE), ("l_leg", LEG_RANGE)):
        limb = getattr(pose, name)
        limbs[name] = Limb(**{k: jitter(getattr(limb, k), a, *ranges[k]) for k, a in LIMB_JITTER.items()})
    return replace(pose, **body, **limbs)


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


def keypoints(pose: Pose, body: Body, view: str, framing: str, pitch: float = 0.0) -> list[list[float]]:
    """The 18 [x, y, visibility] keypoints of one shot, x and y normalised to the 2:3 canvas.

    `pitch` raises the camera (degrees, looking down on the person when positive). The canvas is
    placed by `avatargen.poses.canvas_box`, the rule extracted poses are framed by too. A joint
    outside the frame, or a face point turned away from the camera, is [0, 0, 0].
    """
    p3, normals = skeleton(pose, body)
    target = {
        "full-body": np.mean([p3[n] for n in KEYPOINT_NAMES], axis=0),
        "three-quarter": (p3["neck"] + (p3["r_knee"] + p3["l_knee"]) / 2) / 2,
        "half-body": (p3["neck"] + (p3["r_hip"] + p3["l_hip"]) / 2) / 2,
        "head-shoulders": (p3["neck"] + p3["nose"]) / 2,
    }[framing]
    p2, eye = project(p3, VIEW_YAW[view], pitch, target, CAMERA_DISTANCE[framing])
    seen = [n for n in KEYPOINT_NAMES if n not in FACE]
    for name, (_, _, least) in FACE.items():
        to_eye = (eye - p3[name]) / np.linalg.norm(eye - p3[name])
        if float(normals[name] @ to_eye) > least:
            seen.append(name)
    return [list(k) for k in to_canvas(p2, seen, framing)]


# --- the library --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasePose:
    """A named pose, written once as joint angles, and how the build publishes it."""

    slug: str  # the start of every template id
    name: str  # {R} / {L}: the side the pose is written for / the other side (swapped when mirrored)
    category: str
    tags: tuple[str, ...]
    pose: Pose
    views: tuple[str, ...] = VIEWS  # the views it may be shown from
    framings: tuple[str, ...] = ("full-body", "three-quarter")  # the framings it may be shown at
    genders: tuple[float, float, float] = (0.4, 0.4, 0.2)  # how often each body: female, male, unisex
    shots: int = 16  # how many templates to publish (fewer when it has fewer distinct shots)
    fixed: tuple[tuple[str, str, str], ...] = ()  # (gender, view, framing) always published, unmirrored
    mirror: bool | None = None  # publish mirrored shots too; None: when the pose is not symmetric
    face_camera: bool = True  # in angled views, turn the head part of the way towards the camera
    glance: bool = False  # the head turns to look back: shown only where the face is seen (as profiles are)


F, M, U = "female", "male", "unisex"
FRONT, TQL, TQR, SL, SR, BACK = VIEWS
FULL, TQ, HALF, HEAD = FRAMINGS
FACING = (FRONT, TQL, TQR, SL, SR)  # every view but the back: poses that say nothing from behind
ANGLED = (FRONT, TQL, TQR)
UPPER = (TQ, HALF, HEAD)

# Limbs that many poses share (right side as written; `mirrored` swaps sides).
RELAXED_ARM = Limb(abduct=7, bend=12)
LOOSE_ARM = Limb(flex=4, abduct=10, bend=22)
HIP_HAND = Limb(flex=-10, abduct=35, twist=78, bend=85)  # hand on the hip, elbow out
POCKET_HAND = Limb(flex=-6, abduct=8, twist=36, bend=34)  # hand in the front trouser pocket
BACK_POCKET = Limb(flex=-22, abduct=12, twist=70, bend=40)
CHIN_HAND = Limb(flex=41, abduct=-27, twist=56, bend=131)
HAIR_HAND = Limb(flex=160, abduct=-40, twist=78, bend=120)  # fingers in the hair, elbow up and out
BEHIND_HEAD = Limb(flex=172, abduct=-30, twist=68, bend=122)
LAPEL_HAND = Limb(flex=2, abduct=7, twist=48, bend=132)
STAND = Limb(abduct=4)
STAND_WIDE = Limb(abduct=9)
REST_LEG = Limb(flex=10, abduct=6, bend=18, twist=-8)  # the free leg, knee soft, weight on the other
CROSS_LEG = Limb(flex=6, abduct=-12, bend=10, twist=-6)  # stepping across the other leg
SIT_THIGH = Limb(flex=88, abduct=6, bend=88)

RELAXED = Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, r_leg=STAND, l_leg=STAND)
WALKING = Pose(
    r_leg=Limb(flex=24, bend=8),
    l_leg=Limb(flex=-16, bend=22),
    r_arm=Limb(flex=-22, abduct=5, bend=12),
    l_arm=Limb(flex=24, abduct=5, bend=30),
    spine_twist=-4,
    lean=2,
)
WAVING = Pose(
    r_arm=Limb(flex=10, abduct=70, twist=-80, bend=95),
    l_arm=RELAXED_ARM,
    r_leg=Limb(abduct=5),
    l_leg=Limb(abduct=5),
    head_tilt=-4,
)
SITTING = Pose(
    r_leg=SIT_THIGH,
    l_leg=Limb(flex=88, abduct=5, bend=80),
    r_arm=Limb(flex=28, abduct=6, bend=60, twist=8),
    l_arm=Limb(flex=28, abduct=6, bend=62, twist=8),
    spine_bend=3,
)


def base(slug: str, name: str, category: str, tags: tuple[str, ...], pose: Pose, **options) -> BasePose:
    assert category in CATEGORIES, category
    return BasePose(slug, name, category, tuple(tags), pose, **options)


STANDING = (
    base(
        "stand-relaxed",
        "Standing relaxed",
        "standing",
        ("relaxed", "casual", "natural", "neutral", "arms down"),
        RELAXED,
        framings=(FULL, TQ, HALF),
        fixed=((M, FRONT, FULL), (U, TQL, FULL), (F, TQR, TQ), (M, SL, FULL), (F, BACK, FULL)),
    ),
    base(
        "stand-hands-hips",
        "Hands on hips",
        "standing",
        ("confident", "power pose", "hands on hips"),
        Pose(r_arm=HIP_HAND, l_arm=HIP_HAND, r_leg=STAND_WIDE, l_leg=STAND_WIDE, head_tilt=-3),
        framings=(FULL, TQ, HALF),
        fixed=((F, FRONT, FULL), (F, TQL, FULL), (M, FRONT, TQ), (M, TQR, HALF)),
    ),
    base(
        "stand-arms-crossed",
        "Arms crossed",
        "standing",
        ("confident", "business", "arms folded", "arms crossed"),
        Pose(
            r_arm=Limb(flex=27, abduct=-6, twist=69, bend=89),
            l_arm=Limb(flex=27, abduct=-4, twist=76, bend=86),
            r_leg=Limb(abduct=6),
            l_leg=Limb(abduct=6),
        ),
        views=FACING,
        framings=(FULL, TQ, HALF),
        fixed=((M, FRONT, HALF), (M, TQL, FULL), (F, TQR, TQ)),
    ),
    base(
        "stand-pockets",
        "Hands in pockets",
        "standing",
        ("casual", "relaxed", "street", "hands in pockets"),
        Pose(
            r_arm=POCKET_HAND,
            l_arm=POCKET_HAND,
            hip_roll=-3,
            spine_side=-2,
            head_turn=8,
            r_leg=Limb(abduct=3),
            l_leg=REST_LEG,
        ),
        framings=(FULL, TQ, HALF),
        fixed=((M, TQL, FULL), (M, FRONT, TQ)),
    ),
    base(
        "stand-one-pocket",
        "One hand in the {R} pocket",
        "standing",
        ("casual", "relaxed", "hand in pocket", "weight on one leg"),
        Pose(r_arm=POCKET_HAND, l_arm=LOOSE_ARM, hip_roll=-4, spine_side=-2, r_leg=STAND, l_leg=REST_LEG),
        framings=(FULL, TQ, HALF),
        genders=(0.3, 0.5, 0.2),
    ),
    base(
        "stand-hand-on-hip",
        "{R} hand on the hip",
        "standing",
        ("confident", "hand on hip", "casual"),
        Pose(r_arm=HIP_HAND, l_arm=RELAXED_ARM, head_tilt=4, hip_roll=-3, r_leg=STAND_WIDE, l_leg=STAND),
        framings=(FULL, TQ, HALF),
    ),
    base(
        "stand-hands-clasped",
        "Hands clasped in front",
        "standing",
        ("polite", "formal", "calm", "hands together"),
        Pose(
            r_arm=Limb(flex=6, abduct=5, twist=64, bend=65),
            l_arm=Limb(flex=6, abduct=5, twist=64, bend=62),
            head_tilt=-3,
            r_leg=STAND,
            l_leg=STAND,
        ),
        views=FACING,
        framings=(FULL, TQ, HALF),
        genders=(0.5, 0.3, 0.2),
    ),
    base(
        "stand-hands-behind",
        "Hands behind the back",
        "standing",
        ("formal", "calm", "hands behind back", "upright"),
        Pose(
            r_arm=Limb(flex=-15, abduct=8, twist=101, bend=59),
            l_arm=Limb(flex=-15, abduct=8, twist=101, bend=56),
            head_nod=-3,
            r_leg=Limb(abduct=6),
            l_leg=Limb(abduct=6),
        ),
        framings=(FULL, TQ, HALF),
        genders=(0.3, 0.5, 0.2),
        views=(TQL, TQR, SL, SR, BACK),
    ),
    base(
        "stand-thumbs-up",
        "Thumbs up with the {R} hand",
        "standing",
        ("thumbs up", "approval", "friendly", "happy"),
        Pose(
            r_arm=Limb(flex=29, abduct=4, twist=0, bend=92), l_arm=RELAXED_ARM, head_tilt=-5, r_leg=STAND, l_leg=STAND
        ),
        views=FACING,
        framings=(FULL, TQ, HALF),
        shots=12,
    ),
    base(
        "stand-phone",
        "Looking at a phone",
        "standing",
        ("phone", "smartphone", "texting", "candid", "looking down"),
        Pose(
            r_arm=Limb(flex=21, abduct=-1, twist=37, bend=87),
            l_arm=Limb(flex=18, abduct=2, twist=34, bend=92),
            head_nod=28,
            spine_bend=4,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        framings=(FULL, TQ, HALF),
        face_camera=False,
        shots=12,
    ),
    base(
        "stand-coffee",
        "Holding a coffee cup",
        "standing",
        ("coffee", "cup", "casual", "morning", "holding"),
        Pose(
            r_arm=Limb(flex=12, abduct=3, twist=31, bend=100),
            l_arm=POCKET_HAND,
            head_turn=6,
            hip_roll=-3,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        framings=(FULL, TQ, HALF),
        shots=12,
    ),
    base(
        "stand-shrug",
        "Shrugging",
        "standing",
        ("shrug", "playful", "funny", "palms up", "who knows"),
        Pose(
            r_arm=Limb(flex=0, abduct=18, twist=-28, bend=80),
            l_arm=Limb(flex=0, abduct=18, twist=-28, bend=80),
            head_tilt=10,
            r_leg=STAND,
            l_leg=STAND,
        ),
        views=FACING,
        framings=(FULL, TQ, HALF),
        shots=11,
    ),
    base(
        "stand-ankles-crossed",
        "Standing with ankles crossed",
        "standing",
        ("casual", "relaxed", "crossed legs", "hands in pockets"),
        Pose(r_arm=POCKET_HAND, l_arm=POCKET_HAND, r_leg=Limb(abduct=1), l_leg=CROSS_LEG, hip_roll=-2, head_tilt=3),
        framings=(FULL,),
        shots=11,
    ),
    base(
        "stand-point",
        "Pointing at the camera with the {R} hand",
        "standing",
        ("pointing", "you", "fun", "energetic"),
        Pose(r_arm=Limb(flex=84, abduct=12, bend=6), l_arm=HIP_HAND, r_leg=STAND_WIDE, l_leg=STAND, head_tilt=-4),
        views=ANGLED + (SL, SR),
        framings=(FULL, TQ, HALF),
        shots=11,
    ),
)

WALKING_POSES = (
    base(
        "walk-stride",
        "Walking stride",
        "walking",
        ("walk", "street", "stride", "candid"),
        WALKING,
        fixed=((F, SL, FULL), (M, SR, FULL), (F, TQL, FULL), (M, FRONT, FULL), (M, TQR, TQ)),
        shots=16,
    ),
    base(
        "walk-pockets",
        "Walking with hands in pockets",
        "walking",
        ("walk", "casual", "street", "hands in pockets"),
        replace(WALKING, r_arm=POCKET_HAND, l_arm=POCKET_HAND, spine_twist=-2),
        genders=(0.3, 0.5, 0.2),
        views=(TQL, TQR, SL, SR),
    ),
    base(
        "walk-looking-back",
        "Walking, looking back",
        "walking",
        ("walk", "looking back", "over the shoulder", "candid"),
        replace(WALKING, spine_twist=22, head_turn=55, head_nod=4),
        face_camera=False,
        genders=(0.55, 0.3, 0.15),
        views=(TQL, TQR, SL, SR, BACK),
        glance=True,
    ),
    base(
        "walk-phone-call",
        "Walking and talking on the phone",
        "walking",
        ("walk", "phone call", "business", "busy", "on the phone"),
        replace(WALKING, r_arm=Limb(flex=111, abduct=31, twist=-9, bend=137), head_tilt=6),
        views=(TQL, TQR, SL, SR),
        shots=12,
    ),
    base(
        "walk-bag",
        "Walking with a shoulder bag",
        "walking",
        ("walk", "bag", "handbag", "commute", "street"),
        replace(WALKING, l_arm=Limb(flex=-8, abduct=12, twist=29, bend=140), r_arm=Limb(flex=-18, abduct=6, bend=15)),
        genders=(0.6, 0.25, 0.15),
        shots=12,
        views=(TQL, TQR, SL, SR, BACK),
    ),
    base(
        "walk-coffee",
        "Walking with a coffee",
        "walking",
        ("walk", "coffee", "morning", "commute"),
        replace(WALKING, l_arm=Limb(flex=12, abduct=3, twist=31, bend=100)),
        views=(TQL, TQR, SL, SR),
        shots=12,
    ),
    base(
        "walk-stairs",
        "Stepping up stairs",
        "walking",
        ("stairs", "steps", "climbing", "step up"),
        Pose(
            r_leg=Limb(flex=60, bend=77),
            l_leg=Limb(flex=-8, bend=12),
            r_arm=Limb(flex=-18, abduct=6, bend=18),
            l_arm=Limb(flex=22, abduct=6, bend=28),
            lean=6,
            head_nod=-4,
        ),
        views=(FRONT, TQL, TQR, SL, SR, BACK),
        shots=12,
    ),
    base(
        "walk-stroll",
        "Strolling with hands behind the back",
        "walking",
        ("walk", "stroll", "calm", "hands behind back"),
        replace(
            WALKING,
            r_leg=Limb(flex=16, bend=6),
            l_leg=Limb(flex=-12, bend=16),
            r_arm=Limb(flex=-15, abduct=8, twist=101, bend=59),
            l_arm=Limb(flex=-15, abduct=8, twist=101, bend=56),
            head_turn=14,
        ),
        shots=11,
        genders=(0.3, 0.5, 0.2),
        views=(TQL, TQR, SL, SR, BACK),
    ),
    base(
        "walk-towards",
        "Walking towards the camera",
        "walking",
        ("walk", "confident", "approaching", "street"),
        Pose(
            r_leg=Limb(flex=-14, bend=28),
            l_leg=Limb(flex=20, bend=6),
            r_arm=Limb(flex=18, abduct=8, bend=26),
            l_arm=Limb(flex=-16, abduct=8, bend=12),
            spine_twist=4,
            lean=2,
            head_nod=-3,
        ),
        views=ANGLED,
        framings=(FULL, TQ),
        mirror=True,
        shots=10,
    ),
)

SITTING_POSES = (
    base(
        "sit-chair",
        "Sitting on a chair",
        "sitting",
        ("chair", "seated", "relaxed"),
        SITTING,
        fixed=((M, FRONT, FULL), (F, TQL, FULL), (M, SR, FULL), (F, TQR, FULL), (F, SL, FULL)),
        views=FACING,
    ),
    base(
        "sit-legs-crossed",
        "Sitting with legs crossed",
        "sitting",
        ("chair", "crossed legs", "elegant", "seated"),
        Pose(
            r_leg=Limb(flex=86, abduct=4, bend=86),
            l_leg=Limb(flex=99, abduct=-6, swing=8, bend=89),
            r_arm=Limb(flex=30, abduct=2, twist=20, bend=55),
            l_arm=Limb(flex=32, abduct=0, twist=25, bend=50),
            spine_bend=2,
            head_tilt=4,
        ),
        views=FACING,
        genders=(0.55, 0.3, 0.15),
    ),
    base(
        "sit-ankle-on-knee",
        "Sitting with an ankle on the knee",
        "sitting",
        ("chair", "relaxed", "confident", "figure four", "seated"),
        Pose(
            r_leg=SIT_THIGH,
            l_leg=Limb(flex=94, abduct=-35, swing=-40, twist=-62, bend=119),
            r_arm=Limb(flex=28, abduct=8, bend=50),
            l_arm=Limb(flex=25, abduct=12, twist=10, bend=40),
            lean=-6,
            head_turn=-6,
        ),
        views=FACING,
        framings=(FULL,),
        genders=(0.25, 0.55, 0.2),
    ),
    base(
        "sit-cross-legged",
        "Sitting cross-legged on the floor",
        "sitting",
        ("floor", "cross-legged", "relaxed", "meditation", "seated"),
        Pose(
            r_leg=Limb(flex=80, abduct=-35, swing=-54, twist=-36, bend=133),
            l_leg=Limb(flex=80, abduct=-35, swing=-50, twist=-36, bend=130),
            r_arm=Limb(flex=22, abduct=14, bend=40),
            l_arm=Limb(flex=22, abduct=14, bend=40),
            spine_bend=4,
        ),
        views=FACING,
        framings=(FULL,),
        shots=12,
    ),
    base(
        "sit-hugging-knees",
        "Sitting hugging the knees",
        "sitting",
        ("floor", "knees up", "cosy", "shy", "seated"),
        Pose(
            r_leg=Limb(flex=130, abduct=-7, swing=-3, bend=116),
            l_leg=Limb(flex=130, abduct=-7, swing=-3, bend=116),
            r_arm=Limb(flex=42, abduct=-20, twist=40, bend=30),
            l_arm=Limb(flex=42, abduct=-20, twist=40, bend=30),
            spine_bend=14,
            head_nod=-8,
            head_tilt=6,
        ),
        views=FACING,
        framings=(FULL,),
        genders=(0.55, 0.3, 0.15),
        shots=12,
    ),
    base(
        "sit-elbows-on-knees",
        "Sitting forward, elbows on knees",
        "sitting",
        ("stool", "casual", "leaning forward", "seated"),
        Pose(
            r_leg=Limb(flex=80, abduct=12, swing=-8, bend=95),
            l_leg=Limb(flex=80, abduct=12, swing=-8, bend=95),
            r_arm=Limb(flex=48, abduct=-4, twist=50, bend=85),
            l_arm=Limb(flex=48, abduct=-4, twist=50, bend=85),
            spine_bend=28,
            head_nod=-22,
        ),
        views=FACING,
        genders=(0.3, 0.5, 0.2),
        shots=12,
    ),
    base(
        "sit-chin-in-hand",
        "Sitting with the chin in the {R} hand",
        "sitting",
        ("thinking", "thoughtful", "pensive", "chin on hand", "seated"),
        Pose(
            r_leg=Limb(flex=84, abduct=8, bend=88),
            l_leg=Limb(flex=84, abduct=8, bend=88),
            r_arm=Limb(flex=62, abduct=-12, twist=30, bend=140),
            l_arm=Limb(flex=30, abduct=0, twist=30, bend=60),
            spine_bend=20,
            head_nod=-14,
            head_tilt=6,
        ),
        views=FACING,
        framings=(FULL, TQ),
        shots=12,
    ),
    base(
        "sit-leaning-back",
        "Sitting on the floor, leaning back on the hands",
        "sitting",
        ("floor", "relaxed", "summer", "legs out", "seated"),
        Pose(
            lean=-22,
            r_leg=Limb(flex=66, abduct=6, bend=20),
            l_leg=Limb(flex=70, abduct=4, bend=45),
            r_arm=Limb(flex=-38, abduct=18, bend=4),
            l_arm=Limb(flex=-38, abduct=18, bend=4),
            spine_bend=4,
            head_nod=10,
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        shots=11,
    ),
    base(
        "sit-one-knee-up",
        "Sitting on the floor with the {R} knee up",
        "sitting",
        ("floor", "relaxed", "casual", "knee up", "seated"),
        Pose(
            r_leg=Limb(flex=118, abduct=4, bend=120),
            l_leg=Limb(flex=80, abduct=-30, swing=-40, twist=-36, bend=128),
            r_arm=Limb(flex=55, abduct=0, twist=10, bend=35),
            l_arm=Limb(flex=-28, abduct=22, bend=6),
            lean=-6,
            head_tilt=-4,
        ),
        views=FACING,
        framings=(FULL,),
        shots=12,
    ),
    base(
        "sit-stool",
        "Perched on a stool",
        "sitting",
        ("stool", "bar stool", "casual", "seated"),
        Pose(
            r_leg=Limb(flex=75, abduct=6, bend=95),
            l_leg=Limb(flex=50, abduct=6, bend=25),
            r_arm=Limb(flex=30, abduct=4, twist=20, bend=45),
            l_arm=Limb(flex=22, abduct=10, bend=30),
            head_tilt=5,
        ),
        views=FACING,
        shots=12,
    ),
    base(
        "sit-side-legs",
        "Sitting with legs folded to the side",
        "sitting",
        ("floor", "elegant", "mermaid", "seated"),
        Pose(
            r_leg=Limb(flex=63, abduct=35, swing=-10, twist=-2, bend=144),
            l_leg=Limb(flex=80, abduct=-30, swing=-14, twist=-43, bend=125),
            r_arm=Limb(flex=-10, abduct=28, bend=4),
            l_arm=Limb(flex=30, abduct=0, twist=30, bend=40),
            hip_roll=4,
            spine_side=6,
            head_tilt=6,
        ),
        views=FACING,
        framings=(FULL,),
        genders=(0.65, 0.15, 0.2),
        shots=10,
    ),
)

LEANING_POSES = (
    base(
        "lean-wall",
        "Leaning on a wall",
        "leaning",
        ("wall", "casual", "street", "foot up"),
        Pose(
            lean=-9,
            r_leg=Limb(flex=50, abduct=8, bend=105),
            l_leg=Limb(flex=14, abduct=4),
            r_arm=Limb(flex=-8, abduct=14, bend=20),
            l_arm=Limb(flex=-8, abduct=14, bend=20),
            spine_bend=6,
            head_turn=-12,
        ),
        views=FACING,
        fixed=((M, TQL, FULL), (F, TQR, FULL), (M, SL, FULL), (F, FRONT, TQ)),
    ),
    base(
        "lean-shoulder-wall",
        "Leaning a shoulder on a wall, arms crossed",
        "leaning",
        ("wall", "casual", "arms crossed", "cool", "street"),
        Pose(
            hip_roll=8,
            spine_side=4,
            r_arm=Limb(flex=27, abduct=-6, twist=69, bend=89),
            l_arm=Limb(flex=27, abduct=-4, twist=76, bend=86),
            r_leg=Limb(abduct=-6),
            l_leg=Limb(flex=6, abduct=-18, bend=10, twist=-6),
            head_tilt=4,
        ),
        views=FACING,
        genders=(0.35, 0.45, 0.2),
    ),
    base(
        "lean-hand-on-wall",
        "Leaning on the wall with the {R} hand",
        "leaning",
        ("wall", "arm out", "casual", "relaxed"),
        Pose(
            hip_roll=7,
            spine_side=-3,
            r_arm=Limb(flex=8, abduct=82, bend=8),
            l_arm=HIP_HAND,
            r_leg=Limb(abduct=-2),
            l_leg=Limb(flex=8, abduct=-14, bend=14),
            head_turn=-8,
        ),
        views=FACING,
    ),
    base(
        "lean-railing",
        "Leaning forward on a railing",
        "leaning",
        ("railing", "balcony", "forearms", "relaxed", "bar"),
        Pose(
            lean=24,
            r_arm=Limb(flex=49, abduct=-8, twist=39, bend=37),
            l_arm=Limb(flex=49, abduct=-8, twist=39, bend=37),
            r_leg=Limb(flex=-8, abduct=4),
            l_leg=Limb(flex=4, abduct=4, bend=14),
            head_nod=-24,
        ),
        views=(FRONT, TQL, TQR, SL, SR, BACK),
        shots=12,
    ),
    base(
        "lean-back-table",
        "Leaning back against a table",
        "leaning",
        ("table", "desk", "office", "hands behind", "relaxed"),
        Pose(
            lean=-8,
            r_arm=Limb(flex=-40, abduct=16, bend=20),
            l_arm=Limb(flex=-40, abduct=16, bend=20),
            r_leg=Limb(flex=20, abduct=-4),
            l_leg=Limb(flex=22, abduct=-12, bend=4),
            head_tilt=3,
        ),
        views=FACING,
        shots=12,
    ),
    base(
        "lean-elbow-counter",
        "Leaning on the {R} elbow at a counter",
        "leaning",
        ("bar", "counter", "elbow", "casual", "relaxed"),
        Pose(
            hip_roll=6,
            spine_side=8,
            r_arm=Limb(flex=28, abduct=47, twist=-7, bend=96),
            l_arm=HIP_HAND,
            r_leg=Limb(abduct=-2),
            l_leg=CROSS_LEG,
            head_tilt=6,
        ),
        views=FACING,
        shots=12,
    ),
    base(
        "lean-doorway",
        "Leaning in a doorway, {R} hand on the frame",
        "leaning",
        ("doorway", "door frame", "arm up", "casual"),
        Pose(
            hip_roll=6,
            spine_side=4,
            r_arm=Limb(flex=10, abduct=140, twist=0, bend=25),
            l_arm=POCKET_HAND,
            r_leg=Limb(abduct=-2),
            l_leg=CROSS_LEG,
            head_tilt=5,
        ),
        views=FACING,
        shots=12,
    ),
    base(
        "lean-knee-step",
        "Foot up on a step, leaning on the knee",
        "leaning",
        ("foot up", "step", "knee", "outdoor", "adventure"),
        Pose(
            lean=16,
            r_leg=Limb(flex=80, abduct=6, bend=90),
            l_leg=Limb(flex=-10, abduct=5, bend=4),
            r_arm=Limb(flex=58, abduct=2, twist=20, bend=40),
            l_arm=HIP_HAND,
            head_nod=-16,
        ),
        views=FACING,
        shots=12,
    ),
)

PORTRAITS = (
    base(
        "portrait-straight",
        "Head and shoulders",
        "portrait",
        ("headshot", "profile picture", "linkedin", "straight"),
        Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, head_tilt=-2, head_nod=2),
        views=FACING,
        framings=(HEAD, HALF),
        fixed=((F, FRONT, HEAD), (M, TQR, HEAD), (U, SL, HEAD)),
        shots=10,
    ),
    base(
        "portrait-hand-chin",
        "Hand on chin",
        "portrait",
        ("thinking", "thoughtful", "headshot", "chin on hand"),
        Pose(
            r_arm=CHIN_HAND,
            l_arm=Limb(flex=23, abduct=-5, twist=73, bend=83),
            head_tilt=-5,
            head_nod=4,
            r_leg=STAND,
            l_leg=STAND,
        ),
        views=FACING,
        framings=UPPER,
        fixed=((F, FRONT, HALF), (F, TQR, HALF), (M, TQL, HALF), (M, FRONT, TQ)),
    ),
    base(
        "portrait-head-tilt",
        "Head tilted, smiling",
        "portrait",
        ("smile", "friendly", "warm", "headshot", "head tilt"),
        Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, head_tilt=14, head_turn=-6, spine_side=-3),
        views=ANGLED,
        framings=(HEAD, HALF),
        shots=8,
    ),
    base(
        "portrait-hand-in-hair",
        "{R} hand in the hair",
        "portrait",
        ("hair", "hand in hair", "glamour", "headshot"),
        Pose(r_arm=HAIR_HAND, l_arm=RELAXED_ARM, head_tilt=8, spine_side=-4),
        views=FACING,
        framings=UPPER,
        genders=(0.6, 0.25, 0.15),
    ),
    base(
        "portrait-chin-on-hands",
        "Chin resting on both hands",
        "portrait",
        ("chin on hands", "dreamy", "cute", "headshot", "elbows on table"),
        Pose(
            lean=12,
            r_arm=Limb(flex=51, abduct=-45, twist=74, bend=130),
            l_arm=Limb(flex=51, abduct=-45, twist=74, bend=130),
            head_nod=-6,
            head_tilt=6,
        ),
        views=ANGLED,
        framings=(HEAD, HALF),
        genders=(0.55, 0.3, 0.15),
        shots=10,
    ),
    base(
        "portrait-hand-cheek",
        "{R} hand on the cheek",
        "portrait",
        ("hand on face", "soft", "gentle", "headshot"),
        Pose(r_arm=Limb(flex=100, abduct=50, twist=-40, bend=140), l_arm=RELAXED_ARM, head_tilt=8),
        views=ANGLED + (SL, SR),
        framings=(HEAD, HALF),
        genders=(0.55, 0.3, 0.15),
        shots=10,
    ),
    base(
        "portrait-looking-up",
        "Looking up",
        "portrait",
        ("looking up", "hopeful", "dreamy", "chin up"),
        Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, head_nod=-28, head_turn=18, spine_bend=-4),
        views=FACING,
        framings=(HEAD, HALF),
        face_camera=False,
        shots=9,
    ),
    base(
        "portrait-looking-down",
        "Looking down, pensive",
        "portrait",
        ("looking down", "pensive", "moody", "calm"),
        Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, head_nod=30, head_turn=-12, head_tilt=4),
        views=FACING,
        framings=(HEAD, HALF),
        face_camera=False,
        shots=9,
    ),
    base(
        "portrait-glasses",
        "Adjusting glasses with the {R} hand",
        "portrait",
        ("glasses", "smart", "nerdy", "intellectual", "headshot"),
        Pose(r_arm=Limb(flex=121, abduct=-24, twist=61, bend=123), l_arm=RELAXED_ARM, head_tilt=-3),
        views=ANGLED,
        framings=(HEAD, HALF),
        shots=9,
    ),
    base(
        "portrait-hand-on-heart",
        "Hand on the heart",
        "portrait",
        ("hand on heart", "grateful", "sincere", "warm"),
        Pose(r_arm=Limb(flex=15, abduct=-6, twist=73, bend=110), l_arm=RELAXED_ARM, head_tilt=6),
        views=FACING,
        framings=(HALF, TQ, HEAD),
        shots=10,
    ),
    base(
        "portrait-over-shoulder",
        "Glancing over the shoulder",
        "portrait",
        ("glance", "over the shoulder", "looking back", "headshot"),
        Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, spine_twist=-10, head_turn=-62, head_tilt=-4),
        views=(SR, TQR, BACK),
        framings=(HEAD, HALF),
        face_camera=False,
        shots=8,
        glance=True,
    ),
    base(
        "portrait-phone-call",
        "On the phone",
        "portrait",
        ("phone call", "business", "talking", "on the phone"),
        Pose(r_arm=Limb(flex=111, abduct=31, twist=-9, bend=137), l_arm=RELAXED_ARM, head_tilt=6, head_turn=-8),
        views=FACING,
        framings=(HALF, TQ, HEAD),
        shots=10,
    ),
)

ACTION = (
    base(
        "wave",
        "Waving with the {R} hand",
        "action",
        ("wave", "hello", "greeting", "friendly", "waving"),
        WAVING,
        views=FACING,
        framings=(FULL, TQ, HALF),
        fixed=((M, FRONT, FULL), (F, FRONT, HALF), (F, TQL, TQ), (M, TQR, HALF)),
        shots=16,
    ),
    base(
        "arms-raised",
        "Arms raised",
        "action",
        ("celebrate", "victory", "joy", "arms up", "hands up"),
        Pose(
            r_arm=Limb(flex=8, abduct=150, bend=8),
            l_arm=Limb(flex=8, abduct=150, bend=8),
            r_leg=Limb(abduct=10),
            l_leg=Limb(abduct=10),
            head_nod=-12,
        ),
        fixed=((F, FRONT, FULL), (M, FRONT, FULL), (U, TQR, FULL)),
    ),
    base(
        "dance",
        "Dance move",
        "action",
        ("dance", "party", "fun", "movement"),
        Pose(
            r_arm=Limb(flex=20, abduct=85, twist=-40, bend=40),
            l_arm=Limb(flex=10, abduct=155, bend=15),
            r_leg=Limb(abduct=6),
            l_leg=Limb(flex=55, abduct=15, bend=95),
            hip_roll=6,
            spine_side=-8,
            head_tilt=-8,
            head_turn=10,
        ),
        fixed=((F, FRONT, FULL), (F, TQL, FULL), (M, TQR, FULL)),
        shots=15,
    ),
    base(
        "jump",
        "Jumping",
        "action",
        ("jump", "joy", "energy", "celebrate", "arms up"),
        Pose(
            r_arm=Limb(flex=10, abduct=135, bend=20),
            l_arm=Limb(flex=10, abduct=135, bend=20),
            r_leg=Limb(flex=35, abduct=8, bend=95),
            l_leg=Limb(flex=35, abduct=8, bend=95),
            head_nod=-8,
        ),
        framings=(FULL,),
        fixed=((F, FRONT, FULL), (M, TQL, FULL)),
        shots=9,
    ),
    base(
        "run",
        "Running",
        "action",
        ("run", "running", "jogging", "sport", "fitness"),
        Pose(
            lean=10,
            r_leg=Limb(flex=52, bend=75),
            l_leg=Limb(flex=-24, bend=92),
            r_arm=Limb(flex=-35, abduct=8, bend=90),
            l_arm=Limb(flex=45, abduct=8, bend=95),
            spine_twist=-6,
            head_nod=-6,
        ),
        framings=(FULL,),
        views=VIEWS,
        shots=12,
    ),
    base(
        "star-jump",
        "Star jump",
        "action",
        ("jump", "star", "energy", "fun", "arms up"),
        Pose(
            r_arm=Limb(flex=6, abduct=128, bend=6),
            l_arm=Limb(flex=6, abduct=128, bend=6),
            r_leg=Limb(abduct=28, bend=4),
            l_leg=Limb(abduct=28, bend=4),
            head_nod=-6,
        ),
        views=(FRONT, TQL, TQR, BACK),
        framings=(FULL,),
        shots=6,
    ),
    base(
        "kick",
        "Front kick",
        "action",
        ("martial arts", "karate", "kick", "sport", "fighting"),
        Pose(
            r_leg=Limb(flex=82, abduct=4, bend=12),
            l_leg=Limb(flex=-4, abduct=2, bend=10),
            r_arm=Limb(flex=52, abduct=-10, twist=54, bend=143),
            l_arm=Limb(flex=40, abduct=10, twist=30, bend=120),
            lean=-10,
            head_nod=6,
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        mirror=True,
        shots=10,
        genders=(0.3, 0.5, 0.2),
    ),
    base(
        "yoga-tree",
        "Yoga tree pose",
        "action",
        ("yoga", "balance", "tree pose", "fitness", "calm"),
        Pose(
            r_leg=Limb(abduct=1),
            l_leg=Limb(flex=58, abduct=25, swing=-57, twist=-33, bend=115),
            r_arm=Limb(flex=4, abduct=170, bend=14),
            l_arm=Limb(flex=4, abduct=170, bend=14),
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        genders=(0.6, 0.2, 0.2),
        shots=9,
    ),
    base(
        "yoga-warrior",
        "Yoga warrior pose",
        "action",
        ("yoga", "warrior", "strength", "fitness", "lunge"),
        Pose(
            r_leg=Limb(abduct=58, twist=-90, bend=62),
            l_leg=Limb(abduct=38, bend=2),
            r_arm=Limb(abduct=90, bend=4),
            l_arm=Limb(abduct=90, bend=4),
            head_turn=-70,
        ),
        views=(FRONT, TQL, TQR, BACK),
        framings=(FULL,),
        face_camera=False,
        genders=(0.5, 0.3, 0.2),
        shots=8,
    ),
    base(
        "selfie",
        "Taking a selfie",
        "action",
        ("selfie", "phone", "fun", "social media", "arm up"),
        Pose(
            r_arm=Limb(flex=106, abduct=18, bend=8),
            l_arm=HIP_HAND,
            head_tilt=-8,
            head_nod=-8,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        views=FACING,
        framings=(TQ, HALF, FULL),
        shots=12,
    ),
    base(
        "boxing",
        "Boxing guard",
        "action",
        ("boxing", "fighting", "sport", "fists up", "fitness"),
        Pose(
            r_arm=Limb(flex=52, abduct=-10, twist=54, bend=143),
            l_arm=Limb(flex=58, abduct=-12, twist=35, bend=127),
            r_leg=Limb(flex=-12, abduct=8, bend=16),
            l_leg=Limb(flex=14, abduct=6, bend=12),
            spine_bend=8,
            head_nod=8,
            spine_twist=-8,
        ),
        framings=(FULL, TQ),
        mirror=True,
        genders=(0.3, 0.5, 0.2),
        shots=10,
    ),
    base(
        "throw",
        "Throwing a ball",
        "action",
        ("throw", "ball", "sport", "baseball", "pitching"),
        Pose(
            r_arm=Limb(flex=-10, abduct=95, twist=-85, bend=95),
            l_arm=Limb(flex=82, abduct=22, bend=12),
            r_leg=Limb(flex=-18, abduct=8, bend=14),
            l_leg=Limb(flex=26, abduct=6, bend=18),
            spine_twist=-18,
            spine_side=8,
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        mirror=True,
        shots=9,
    ),
    base(
        "kneel",
        "Kneeling on one knee",
        "action",
        ("kneel", "kneeling", "proposal", "one knee"),
        Pose(
            r_leg=Limb(flex=2, abduct=4, bend=95),
            l_leg=Limb(flex=88, abduct=4, bend=88),
            r_arm=RELAXED_ARM,
            l_arm=Limb(flex=50, abduct=10, twist=10, bend=45),
            head_tilt=-3,
        ),
        views=FACING,
        framings=(FULL, TQ),
        shots=10,
    ),
    base(
        "arabesque",
        "Ballet arabesque",
        "action",
        ("ballet", "dance", "arabesque", "balance", "graceful"),
        Pose(
            lean=22,
            r_leg=Limb(abduct=2),
            l_leg=Limb(flex=-58, abduct=4, bend=2),
            r_arm=Limb(flex=110, abduct=6, bend=8),
            l_arm=Limb(flex=10, abduct=85, bend=10),
            head_nod=-20,
            spine_bend=-6,
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        genders=(0.65, 0.15, 0.2),
        shots=9,
    ),
)

FASHION = (
    base(
        "fashion-contrapposto",
        "Contrapposto, hand on the hip",
        "fashion",
        ("runway", "hand on hip", "elegant", "contrapposto"),
        Pose(
            hip_roll=-7,
            spine_side=-10,
            head_tilt=7,
            head_turn=8,
            l_arm=HIP_HAND,
            r_arm=Limb(abduct=9, bend=15),
            r_leg=Limb(abduct=3),
            l_leg=Limb(flex=12, abduct=-4, bend=22, twist=-15),
        ),
        fixed=((F, FRONT, FULL), (F, TQL, FULL), (F, TQR, TQ), (M, TQL, FULL)),
        genders=(0.6, 0.25, 0.15),
        framings=(FULL, TQ, HALF),
    ),
    base(
        "fashion-over-shoulder",
        "Looking over the shoulder",
        "fashion",
        ("elegant", "glance", "over the shoulder", "looking back"),
        Pose(
            spine_twist=28,
            head_turn=70,
            head_nod=5,
            r_arm=RELAXED_ARM,
            l_arm=Limb(abduct=5, bend=25),
            r_leg=Limb(abduct=3),
            l_leg=Limb(flex=10, abduct=4, bend=15),
        ),
        views=(BACK, SL, TQL),
        framings=(FULL, TQ, HALF),
        fixed=((F, BACK, HALF), (F, BACK, FULL), (M, BACK, TQ)),
        face_camera=False,
        genders=(0.6, 0.25, 0.15),
        shots=9,
        glance=True,
    ),
    base(
        "fashion-runway",
        "Runway walk",
        "fashion",
        ("runway", "catwalk", "walk", "strut"),
        Pose(
            r_leg=Limb(flex=20, abduct=-7, bend=6),
            l_leg=Limb(flex=-12, abduct=-3, bend=26),
            r_arm=Limb(flex=-10, abduct=6, bend=8),
            l_arm=Limb(flex=12, abduct=6, bend=14),
            hip_roll=5,
            spine_twist=-3,
            head_nod=-3,
        ),
        views=(FRONT, TQL, TQR, SL, SR),
        framings=(FULL,),
        genders=(0.6, 0.25, 0.15),
        shots=10,
    ),
    base(
        "fashion-hand-on-head",
        "{R} hand on the head",
        "fashion",
        ("hand on head", "editorial", "glamour", "elbow up"),
        Pose(
            r_arm=Limb(flex=177, abduct=-26, twist=92, bend=100),
            l_arm=HIP_HAND,
            hip_roll=-6,
            spine_side=-6,
            head_tilt=-6,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        framings=(FULL, TQ, HALF),
        genders=(0.6, 0.25, 0.15),
    ),
    base(
        "fashion-hands-in-hair",
        "Both hands in the hair",
        "fashion",
        ("hands in hair", "glamour", "editorial", "elbows up"),
        Pose(
            r_arm=HAIR_HAND,
            l_arm=Limb(flex=164, abduct=-38, twist=74, bend=118),
            head_nod=-8,
            head_tilt=-5,
            hip_roll=-4,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        views=FACING,
        framings=(FULL, TQ, HALF, HEAD),
        genders=(0.65, 0.2, 0.15),
        shots=12,
    ),
    base(
        "fashion-crossed-legs",
        "Legs crossed, hand on the hip",
        "fashion",
        ("crossed legs", "hand on hip", "elegant", "chic"),
        Pose(
            r_arm=HIP_HAND,
            l_arm=Limb(abduct=8, bend=18),
            r_leg=Limb(abduct=2),
            l_leg=Limb(flex=4, abduct=-16, bend=6),
            hip_roll=-5,
            spine_side=-4,
            head_tilt=5,
        ),
        framings=(FULL, TQ),
        genders=(0.65, 0.2, 0.15),
        shots=12,
    ),
    base(
        "fashion-squat",
        "Street-style squat",
        "fashion",
        ("squat", "streetwear", "urban", "crouch", "low"),
        Pose(
            r_leg=Limb(flex=78, abduct=12, swing=-34, twist=-7, bend=125),
            l_leg=Limb(flex=78, abduct=12, swing=-34, twist=-7, bend=125),
            r_arm=Limb(flex=40, abduct=12, twist=20, bend=40),
            l_arm=Limb(flex=40, abduct=12, twist=20, bend=40),
            lean=16,
            spine_bend=10,
            head_nod=-18,
        ),
        views=FACING,
        framings=(FULL,),
        genders=(0.4, 0.45, 0.15),
        shots=8,
    ),
    base(
        "fashion-lapels",
        "Holding the jacket lapels",
        "fashion",
        ("jacket", "lapels", "suit", "dapper", "confident"),
        Pose(r_arm=LAPEL_HAND, l_arm=LAPEL_HAND, head_nod=-4, r_leg=STAND_WIDE, l_leg=STAND_WIDE),
        views=ANGLED + (SL, SR),
        framings=(FULL, TQ, HALF),
        genders=(0.25, 0.6, 0.15),
        shots=12,
    ),
    base(
        "fashion-hands-behind-head",
        "Hands behind the head",
        "fashion",
        ("hands behind head", "relaxed", "confident", "elbows out"),
        Pose(r_arm=BEHIND_HEAD, l_arm=BEHIND_HEAD, head_nod=-6, hip_roll=-3, r_leg=STAND, l_leg=REST_LEG),
        views=FACING,
        framings=(FULL, TQ, HALF, HEAD),
        shots=12,
    ),
    base(
        "fashion-collar",
        "Adjusting the collar, looking away",
        "fashion",
        ("collar", "looking away", "dapper", "editorial"),
        Pose(
            r_arm=Limb(flex=36, abduct=-8, twist=63, bend=144),
            l_arm=POCKET_HAND,
            head_turn=-35,
            head_nod=-3,
            l_leg=REST_LEG,
        ),
        views=FACING,
        framings=(FULL, TQ, HALF, HEAD),
        face_camera=False,
        genders=(0.3, 0.55, 0.15),
        shots=12,
    ),
    base(
        "fashion-wide-stance",
        "Wide stance, hands in pockets",
        "fashion",
        ("wide stance", "power", "hands in pockets", "menswear", "confident"),
        Pose(r_arm=POCKET_HAND, l_arm=POCKET_HAND, r_leg=Limb(abduct=15), l_leg=Limb(abduct=15), head_nod=-6),
        views=(FRONT, TQL, TQR, BACK),
        framings=(FULL, TQ),
        genders=(0.3, 0.55, 0.15),
        shots=8,
    ),
    base(
        "fashion-sunglasses",
        "Touching the sunglasses",
        "fashion",
        ("sunglasses", "cool", "summer", "editorial"),
        Pose(
            r_arm=Limb(flex=108, abduct=-18, twist=59, bend=117),
            l_arm=RELAXED_ARM,
            head_tilt=-4,
            hip_roll=-4,
            r_leg=STAND,
            l_leg=REST_LEG,
        ),
        views=FACING,
        framings=(TQ, HALF, HEAD),
        shots=11,
    ),
)

LIBRARY = STANDING + WALKING_POSES + SITTING_POSES + LEANING_POSES + PORTRAITS + ACTION + FASHION


# --- shots: the templates each base pose is published as ---------------------------------------

VIEW_WEIGHT = {FRONT: 3.6, TQL: 2.2, TQR: 2.2, SL: 0.9, SR: 0.9, BACK: 0.8}
FRAMING_WEIGHT = {FULL: 3.0, TQ: 1.6, HALF: 1.5, HEAD: 1.6}
PITCHES = (0.0, 0.0, 0.0, -5.0, 8.0, 12.0)  # camera pitch, degrees: mostly level, sometimes low or high
ATTEMPTS = 8  # variations tried per shot before the build gives up on it


@dataclass(frozen=True)
class Shot:
    """One template: a base pose on a body, from a camera, at a framing, maybe mirrored and varied."""

    id: str
    base: BasePose
    gender: str
    view: str
    framing: str
    pitch: float
    mirrored: bool
    pose: Pose  # the final angles: mirrored, turned towards the camera, varied

    @property
    def body(self) -> Body:
        return BODIES[self.gender]

    def keypoints(self) -> list[list[float]]:
        return keypoints(self.pose, self.body, self.view, self.framing, self.pitch)

    def name(self) -> str:
        sides = ("left", "right") if self.mirrored else ("right", "left")
        name = self.base.name.format(R=sides[0], L=sides[1])
        name = name[0].upper() + name[1:]
        suffix = "" if self.framing == FULL else f", {FRAMING_LABEL[self.framing]}"
        return f"{name}, {VIEW_LABEL[self.view]}{suffix}"

    def tags(self) -> list[str]:
        tags = [*self.base.tags, *CATEGORY_TAGS[self.base.category], *VIEW_TAGS[self.view]]
        tags += FRAMING_TAGS[self.framing]
        if self.pitch < 0:
            tags.append("low angle")
        elif self.pitch >= 10:
            tags.append("high angle")
        return list(dict.fromkeys(tags))


def is_symmetric(pose: Pose) -> bool:
    """Whether `pose` looks the same as its mirror image (then publishing the mirror adds nothing)."""
    body = BODIES["unisex"]
    a, b = keypoints(pose, body, FRONT, FULL), keypoints(mirrored(pose), body, FRONT, FULL)
    return pose_distance(a, b) < MIN_DISTANCE


def _face_seen(pose: Pose, view: str, framing: str, mirror: bool) -> bool:
    nose = keypoints(mirrored(pose) if mirror else pose, BODIES["unisex"], view, framing)[KEYPOINT_NAMES.index("nose")]
    return nose[2] > 0


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


def plan(base: BasePose) -> list[tuple[str, str, str, bool, float]]:
    """The (gender, view, framing, mirrored, pitch) shots of a base pose, drawn by a generator seeded
    with its slug: the fixed shots first, then distinct (view, framing, mirrored) picks weighted by
    how often each view and framing should appear in the library."""
    rng = np.random.default_rng(_seed(base.slug))
    mirror = (not is_symmetric(base.pose)) if base.mirror is None else base.mirror
    shots = [(g, v, f, False, 0.0) for g, v, f in base.fixed]
    taken = {(v, f, False) for _, v, f in base.fixed}
    options = [
        (v, f, m)
        for v in base.views
        for f in base.framings
        for m in ((False, True) if mirror else (False,))
        if (v, f, m) not in taken
        and ((v not in (SL, SR) and not base.glance) or _face_seen(base.pose, v, f, m))
        and not ("{R}" in base.name and v == (SR if m else SL))  # the named hand hidden behind the body
    ]
    weights = np.array([VIEW_WEIGHT[v] * FRAMING_WEIGHT[f] for v, f, _ in options])
    count = min(max(base.shots - len(shots), 0), len(options))
    picks = rng.choice(len(options), size=count, replace=False, p=weights / weights.sum())
    for i in picks:
        view, framing, mirrored_ = options[i]
        gender = str(rng.choice(GENDERS, p=base.genders))
        pitch = float(rng.choice(PITCHES))
        shots.append((gender, view, framing, mirrored_, pitch))
    return shots


def make_shot(base: BasePose, gender: str, view: str, framing: str, mirrored_: bool, pitch: float) -> Shot:
    """The shot with the first natural variation that passes every check (ValueError when none does)."""
    slug = f"{base.slug}-{GENDER_CODE[gender]}-{VIEW_CODE[view]}-{FRAMING_CODE[framing]}"
    shot_id = slug + ("-mirror" if mirrored_ else "")
    pose = mirrored(base.pose) if mirrored_ else base.pose
    bad = out_of_range(pose)
    if bad:
        raise ValueError(f"{base.slug}: angles out of range: {bad}")
    problems: list[str] = []
    for attempt in range(ATTEMPTS):
        rng = np.random.default_rng(_seed(shot_id, attempt))
        turned = pose
        if base.face_camera and view != BACK and view != FRONT:
            # People photographed at an angle tend to turn their face part of the way to the lens.
            yaw = VIEW_YAW[view]
            turned = replace(
                pose, head_turn=pose.head_turn + math.copysign(min(abs(yaw), 60), yaw) * rng.uniform(0.15, 0.55)
            )
        candidate = Shot(shot_id, base, gender, view, framing, pitch, mirrored_, varied(turned, rng))
        problems = shot_problems(candidate)
        if not problems:
            return candidate
    raise ValueError(f"{shot_id}: no variation passes the checks: {problems}")


def shot_problems(shot: Shot) -> list[str]:
    """What makes a shot implausible: joint ranges, a limb through the torso, the 2D checks."""
    problems = out_of_range(shot.pose)
    points, _ = skeleton(shot.pose, shot.body)
    depth = torso_penetration(points)
    if depth is not None and depth > PENETRATION_LIMIT:
        problems.append(f"a limb goes {depth:.2f} into the torso")
    k = shot.keypoints()
    problems += assess(k, shot.framing).problems
    if (shot.base.glance or shot.view in (SL, SR)) and not k[KEYPOINT_NAMES.index("nose")][2]:
        problems.append("the face is turned away")
    return problems


@cache
def shots() -> tuple[Shot, ...]:
    """Every template of the library, in gallery order: the first shot of each base pose, then the
    second of each, and so on, so that any page shows many different poses. A shot too close to one
    already taken (MIN_DISTANCE) is left out; fixed shots are taken first, so their ids stay."""
    per_base = [[make_shot(b, *s) for s in plan(b)] for b in LIBRARY]
    ordered = [s for rank in range(max(map(len, per_base))) for group in per_base for s in group[rank : rank + 1]]
    fixed = {f"{b.slug}-{GENDER_CODE[g]}-{VIEW_CODE[v]}-{FRAMING_CODE[f]}" for b in LIBRARY for g, v, f in b.fixed}
    kept: set[str] = set()
    points = np.empty((0, len(KEYPOINT_NAMES), 3))
    for shot in sorted(ordered, key=lambda s: s.id not in fixed):  # stable: otherwise in gallery order
        k = np.array(shot.keypoints(), dtype=float)
        if len(kept) and distances(k, points).min() < MIN_DISTANCE:
            continue
        kept.add(shot.id)
        points = np.concatenate([points, k[None]])
    assert len(kept) == len([s for s in ordered if s.id in kept]), "duplicate template ids"
    return tuple(s for s in ordered if s.id in kept)


def rows() -> list[dict]:
    """Every template of the shared library as a row, in gallery order."""
    return [
        {
            "id": s.id,
            "name": s.name(),
            "category": s.base.category,
            "gender": s.gender,
            "view": s.view,
            "framing": s.framing,
            "tags": s.tags(),
            "keypoints": s.keypoints(),
        }
        for s in shots()
    ]


SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("gender", pa.string()),
        ("view", pa.string()),
        ("framing", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("keypoints", pa.list_(pa.list_(pa.float64()))),
    ],
    metadata={"avatargen.poses.format": FORMAT_VERSION, "avatargen.poses.keypoints": "coco18"},
)


def build(out: Path = OUT) -> int:
    """Write the library to `out` (parquet); returns the number of templates."""
    table = pa.Table.from_pylist(rows(), schema=SCHEMA)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9, write_statistics=False)
    tmp.replace(out)
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    args = parser.parse_args()
    n = build(args.out)
    print(f"wrote {n} templates from {len(LIBRARY)} base poses to {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
