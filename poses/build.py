"""Build the pose template library, poses/templates.parquet, from a small 3D skeleton.

Each template is one named base pose (joint angles) on one body (male, female or unisex proportions),
seen from one view (camera yaw) at one framing (crop):

    joint angles --forward kinematics--> 3D joints --camera--> 2D --framing--> 2:3 canvas --> row

The output is deterministic: running `python poses/build.py` again writes the same file.
"""

import argparse
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().with_name("templates.parquet")
FORMAT_VERSION = "1"
ASPECT = 2 / 3  # canvas width : height

# The same vocabularies as avatargen/poses.py (a test checks that they agree).
# fmt: off
KEYPOINT_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# fmt: on
CATEGORIES = ("standing", "walking", "sitting", "leaning", "portrait", "action", "fashion")
GENDERS = ("female", "male", "unisex")
VIEWS = ("front", "three-quarter-left", "three-quarter-right", "side-left", "side-right", "back")
FRAMINGS = ("full-body", "three-quarter", "half-body", "head-shoulders")

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
FRAMING_CODE = {"full-body": "full", "three-quarter": "3q", "half-body": "half", "head-shoulders": "head"}
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


def _frame(p2: dict[str, np.ndarray], framing: str) -> tuple[float, float, float]:
    """The crop (left, top, height) of the 2:3 canvas, in projected units."""
    limbs = [n for n in p2 if n not in FACE and n != "head_top"]
    neck, hip = p2["neck"], (p2["r_hip"] + p2["l_hip"]) / 2
    torso = float(np.linalg.norm(hip - neck))
    head_top = float(p2["head_top"][1])
    ys = {n: float(v[1]) for n, v in p2.items()}

    if framing == "full-body":
        xs = [float(v[0]) for v in p2.values()]
        top, bottom = min(ys.values()), max(ys.values())
        height = max((bottom - top) / 0.88, (max(xs) - min(xs)) / (ASPECT * 0.9))
        centre_x, centre_y = (max(xs) + min(xs)) / 2, (top + bottom) / 2 - 0.01 * height
        return centre_x - height * ASPECT / 2, centre_y - height / 2, height

    if framing == "head-shoulders":
        bottom = float(neck[1]) + 0.35 * torso
        top = head_top - 0.12 * (bottom - head_top)
        keep = [p2[n] for n in ("r_shoulder", "l_shoulder", "neck", "head_top", *FACE)]
    else:
        if framing == "half-body":
            bottom = float(hip[1]) + 0.22 * torso
        else:  # three-quarter: cut mid-thigh, and at least half a torso below the hips (sitting)
            thighs = [(p2[f"{s}_hip"] + 0.6 * (p2[f"{s}_knee"] - p2[f"{s}_hip"]))[1] for s in "lr"]
            bottom = max(float(max(thighs)), float(hip[1]) + 0.45 * torso)
        raised = min(ys[n] for n in limbs)  # a hand above the head stays in the picture
        top = min(head_top, raised)
        top -= 0.07 * (bottom - top)
        keep = [p2[n] for n in p2 if top <= ys[n] <= bottom]
    height = bottom - top
    xs = [float(v[0]) for v in keep]
    width_needed = (max(xs) - min(xs)) / (0.97 if framing == "head-shoulders" else 0.9)
    if width_needed > height * ASPECT:  # widen a little (keeping the top) rather than cut arms off
        height = min(width_needed / ASPECT, height * 1.25)
    centre_x = (max(xs) + min(xs)) / 2
    return centre_x - height * ASPECT / 2, top, height


def keypoints(pose: Pose, body: Body, view: str, framing: str, pitch: float = 0.0) -> list[list[float]]:
    """The 18 [x, y, visibility] keypoints of one shot, x and y normalised to the 2:3 canvas.

    `pitch` raises the camera (degrees, looking down on the person when positive).

    A joint outside the frame, or a face point turned away from the camera, is [0, 0, 0]
    (OpenPose's convention for a missing keypoint).
    """
    p3, normals = skeleton(pose, body)
    target = {
        "full-body": np.mean([p3[n] for n in KEYPOINT_NAMES], axis=0),
        "three-quarter": (p3["neck"] + (p3["r_knee"] + p3["l_knee"]) / 2) / 2,
        "half-body": (p3["neck"] + (p3["r_hip"] + p3["l_hip"]) / 2) / 2,
        "head-shoulders": (p3["neck"] + p3["nose"]) / 2,
    }[framing]
    p2, eye = project(p3, VIEW_YAW[view], pitch, target, CAMERA_DISTANCE[framing])
    left, top, height = _frame(p2, framing)
    width = height * ASPECT
    out = []
    for name in KEYPOINT_NAMES:
        x = round((float(p2[name][0]) - left) / width, 4)
        y = round((float(p2[name][1]) - top) / height, 4)
        seen = 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        if name in FACE:
            to_eye = (eye - p3[name]) / np.linalg.norm(eye - p3[name])
            seen = seen and float(normals[name] @ to_eye) > FACE[name][2]
        out.append([x, y, 1.0] if seen else [0.0, 0.0, 0.0])
    return out


# --- the library --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasePose:
    slug: str  # the start of every template id
    name: str
    category: str
    tags: tuple[str, ...]
    pose: Pose
    shots: tuple[tuple[str, str, str], ...]  # (gender, view, framing)


RELAXED_ARM = Limb(abduct=7, bend=12)
HIP_HAND = Limb(flex=-10, abduct=35, twist=78, bend=85)
POCKET_HAND = Limb(flex=-6, abduct=8, twist=36, bend=34)

RELAXED = Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, r_leg=Limb(abduct=4), l_leg=Limb(abduct=4))
HANDS_ON_HIPS = Pose(r_arm=HIP_HAND, l_arm=HIP_HAND, r_leg=Limb(abduct=7), l_leg=Limb(abduct=7), head_tilt=-3)
ARMS_CROSSED = Pose(
    r_arm=Limb(flex=27, abduct=-6, twist=69, bend=89),
    l_arm=Limb(flex=27, abduct=-4, twist=76, bend=86),
    r_leg=Limb(abduct=6),
    l_leg=Limb(abduct=6),
)
HANDS_IN_POCKETS = Pose(
    r_arm=POCKET_HAND,
    l_arm=POCKET_HAND,
    hip_roll=-3,
    spine_side=-2,
    head_turn=8,
    r_leg=Limb(abduct=3),
    l_leg=Limb(flex=8, abduct=8, bend=12, twist=-10),
)
WALKING = Pose(
    r_leg=Limb(flex=24, bend=8),
    l_leg=Limb(flex=-16, bend=22),
    r_arm=Limb(flex=-22, abduct=5, bend=12),
    l_arm=Limb(flex=24, abduct=5, bend=30),
    spine_twist=-4,
    lean=2,
)
SITTING = Pose(
    r_leg=Limb(flex=88, abduct=7, bend=88),
    l_leg=Limb(flex=88, abduct=5, bend=80),
    r_arm=Limb(flex=28, abduct=6, bend=60, twist=8),
    l_arm=Limb(flex=28, abduct=6, bend=62, twist=8),
    spine_bend=3,
)
LEANING = Pose(
    lean=-9,
    r_leg=Limb(flex=50, abduct=8, bend=105),
    l_leg=Limb(flex=14, abduct=4),
    r_arm=Limb(flex=-8, abduct=14, bend=20),
    l_arm=Limb(flex=-8, abduct=14, bend=20),
    spine_bend=6,
    head_turn=-12,
)
WAVING = Pose(
    r_arm=Limb(flex=10, abduct=70, twist=-80, bend=95),
    l_arm=RELAXED_ARM,
    r_leg=Limb(abduct=5),
    l_leg=Limb(abduct=5),
    head_tilt=-4,
)
ARMS_RAISED = Pose(
    r_arm=Limb(flex=8, abduct=150, bend=8),
    l_arm=Limb(flex=8, abduct=150, bend=8),
    r_leg=Limb(abduct=10),
    l_leg=Limb(abduct=10),
    head_nod=-12,
)
DANCE = Pose(
    r_arm=Limb(flex=20, abduct=85, twist=-40, bend=40),
    l_arm=Limb(flex=10, abduct=155, bend=15),
    r_leg=Limb(abduct=6),
    l_leg=Limb(flex=55, abduct=15, bend=95),
    hip_roll=6,
    spine_side=-8,
    head_tilt=-8,
    head_turn=10,
)
JUMP = Pose(
    r_arm=Limb(flex=10, abduct=135, bend=20),
    l_arm=Limb(flex=10, abduct=135, bend=20),
    r_leg=Limb(flex=35, abduct=8, bend=95),
    l_leg=Limb(flex=35, abduct=8, bend=95),
    head_nod=-8,
)
CONTRAPPOSTO = Pose(
    hip_roll=-7,
    spine_side=-10,
    head_tilt=7,
    head_turn=8,
    l_arm=HIP_HAND,
    r_arm=Limb(abduct=9, bend=15),
    r_leg=Limb(abduct=3),
    l_leg=Limb(flex=12, abduct=-4, bend=22, twist=-15),
)
HAND_ON_CHIN = Pose(
    r_arm=Limb(flex=41, abduct=-27, twist=56, bend=131),
    l_arm=Limb(flex=23, abduct=-5, twist=73, bend=83),
    head_tilt=-5,
    head_nod=4,
    r_leg=Limb(abduct=4),
    l_leg=Limb(abduct=4),
)
OVER_THE_SHOULDER = Pose(
    spine_twist=28,
    head_turn=70,
    head_nod=5,
    r_arm=RELAXED_ARM,
    l_arm=Limb(abduct=5, bend=25),
    r_leg=Limb(abduct=3),
    l_leg=Limb(flex=10, abduct=4, bend=15),
)
PORTRAIT = Pose(r_arm=RELAXED_ARM, l_arm=RELAXED_ARM, head_tilt=-2, head_nod=2)

F, M, U = "female", "male", "unisex"
FRONT, TQL, TQR, SL, SR, BACK = VIEWS
FULL, TQ, HALF, HEAD = FRAMINGS

LIBRARY = (
    BasePose(
        "stand-relaxed",
        "Standing relaxed",
        "standing",
        ("relaxed", "casual", "natural", "neutral"),
        RELAXED,
        ((M, FRONT, FULL), (F, FRONT, FULL), (U, TQL, FULL), (F, TQR, TQ), (M, SL, FULL), (F, BACK, FULL)),
    ),
    BasePose(
        "stand-hands-hips",
        "Hands on hips",
        "standing",
        ("confident", "power pose", "hands on hips"),
        HANDS_ON_HIPS,
        ((F, FRONT, FULL), (F, TQL, FULL), (M, FRONT, TQ), (M, TQR, HALF)),
    ),
    BasePose(
        "stand-arms-crossed",
        "Arms crossed",
        "standing",
        ("confident", "business", "arms folded"),
        ARMS_CROSSED,
        ((M, FRONT, HALF), (M, TQL, FULL), (F, TQR, TQ), (F, FRONT, HALF)),
    ),
    BasePose(
        "stand-pockets",
        "Hands in pockets",
        "standing",
        ("casual", "relaxed", "street"),
        HANDS_IN_POCKETS,
        ((M, TQL, FULL), (M, FRONT, TQ), (F, TQR, FULL)),
    ),
    BasePose(
        "walk-stride",
        "Walking stride",
        "walking",
        ("walk", "street", "movement", "candid"),
        WALKING,
        ((F, SL, FULL), (M, SR, FULL), (F, TQL, FULL), (M, FRONT, FULL), (M, TQR, TQ)),
    ),
    BasePose(
        "sit-chair",
        "Sitting on a chair",
        "sitting",
        ("chair", "seated", "relaxed"),
        SITTING,
        ((M, FRONT, FULL), (F, TQL, FULL), (M, SR, FULL), (F, TQR, FULL), (F, SL, FULL)),
    ),
    BasePose(
        "lean-wall",
        "Leaning on a wall",
        "leaning",
        ("wall", "casual", "street", "foot up"),
        LEANING,
        ((M, TQL, FULL), (F, TQR, FULL), (M, SL, FULL), (F, FRONT, TQ)),
    ),
    BasePose(
        "wave",
        "Waving hello",
        "action",
        ("wave", "hello", "greeting", "friendly"),
        WAVING,
        ((M, FRONT, FULL), (F, FRONT, HALF), (F, TQL, TQ), (M, TQR, HALF)),
    ),
    BasePose(
        "wave-left-hand",
        "Waving hello, left hand",
        "action",
        ("wave", "hello", "greeting", "friendly"),
        mirrored(WAVING),
        ((F, FRONT, FULL), (M, TQR, TQ)),
    ),
    BasePose(
        "arms-raised",
        "Arms raised",
        "action",
        ("celebrate", "victory", "joy", "dance"),
        ARMS_RAISED,
        ((F, FRONT, FULL), (M, FRONT, FULL), (U, TQR, FULL)),
    ),
    BasePose(
        "dance",
        "Dance move",
        "action",
        ("dance", "party", "fun", "movement"),
        DANCE,
        ((F, FRONT, FULL), (F, TQL, FULL), (M, TQR, FULL)),
    ),
    BasePose(
        "jump",
        "Jumping",
        "action",
        ("jump", "joy", "energy", "celebrate"),
        JUMP,
        ((F, FRONT, FULL), (M, TQL, FULL)),
    ),
    BasePose(
        "fashion-contrapposto",
        "Contrapposto fashion pose",
        "fashion",
        ("model", "runway", "hand on hip", "elegant"),
        CONTRAPPOSTO,
        ((F, FRONT, FULL), (F, TQL, FULL), (F, TQR, TQ), (M, TQL, FULL)),
    ),
    BasePose(
        "fashion-over-shoulder",
        "Looking over the shoulder",
        "fashion",
        ("model", "elegant", "glance"),
        OVER_THE_SHOULDER,
        ((F, BACK, HALF), (F, BACK, FULL), (M, BACK, TQ)),
    ),
    BasePose(
        "portrait-hand-chin",
        "Hand on chin",
        "portrait",
        ("thinking", "thoughtful", "headshot"),
        HAND_ON_CHIN,
        ((F, FRONT, HALF), (F, TQR, HALF), (M, TQL, HALF), (M, FRONT, TQ)),
    ),
    BasePose(
        "portrait-straight",
        "Head and shoulders",
        "portrait",
        ("headshot", "profile picture", "linkedin"),
        PORTRAIT,
        ((F, FRONT, HEAD), (M, FRONT, HEAD), (F, TQL, HEAD), (M, TQR, HEAD), (U, SL, HEAD)),
    ),
)


def rows() -> list[dict]:
    """Every template of the shared library as a row, in a stable order."""
    out = []
    for base in LIBRARY:
        for gender, view, framing in base.shots:
            out.append(
                {
                    "id": f"{base.slug}-{GENDER_CODE[gender]}-{VIEW_CODE[view]}-{FRAMING_CODE[framing]}",
                    "name": f"{base.name}, {VIEW_LABEL[view]}",
                    "category": base.category,
                    "gender": gender,
                    "view": view,
                    "framing": framing,
                    "tags": list(base.tags),
                    "keypoints": keypoints(base.pose, BODIES[gender], view, framing),
                    "owner": None,
                }
            )
    ids = [r["id"] for r in out]
    assert len(ids) == len(set(ids)), "duplicate template ids"
    return out


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
        ("owner", pa.string()),
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
    print(f"wrote {n} templates to {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
