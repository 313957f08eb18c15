"""Body measurements: the one home of the bone lengths the pose build, the plausibility checks and extraction use.

Imports nothing of avatargen.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


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
    head: float  # scale of the head, face and hand (1.0 = adult male)


MALE = Body(
    shin=0.43, thigh=0.44, hip_half=0.095, spine=0.53, shoulder_half=0.19, upper_arm=0.30, forearm=0.27, head=1.0
)
FEMALE = Body(
    shin=0.40, thigh=0.41, hip_half=0.10, spine=0.48, shoulder_half=0.16, upper_arm=0.275, forearm=0.24, head=0.94
)  # ~1.65 m (the male ~1.78 m), narrower shoulders, wider hips
UNISEX = Body(**{f.name: round((getattr(MALE, f.name) + getattr(FEMALE, f.name)) / 2, 4) for f in fields(Body)})
BODIES = {"male": MALE, "female": FEMALE, "unisex": UNISEX}

# The average adult (the unisex body), as the 2D checks and the pose extraction measure people against it.
LIMB_BONES = {
    (f"{s}_{a}", f"{s}_{b}"): getattr(UNISEX, bone)
    for s in "rl"
    for a, b, bone in (("shoulder", "elbow", "upper_arm"), ("elbow", "wrist", "forearm"))
    + (("hip", "knee", "thigh"), ("knee", "ankle", "shin"))
}
TORSO = UNISEX.spine  # neck -> the point between the hips
SHOULDER_WIDTH = 2 * UNISEX.shoulder_half
NECK_TO_NOSE = 0.22
HEAD_SPAN = 0.15  # the widest span between face points (ear to ear, or nose to ear in profile), roughly
FOOT = 0.08  # ankle -> sole, along the shin (times `head`): only used to frame full-body shots

# Head: a pivot above the neck, then face points in the head's frame (x = the person's left, y = up,
# z = forward), each with an outward normal and the least cosine to the camera at which it is seen.
HEAD_PIVOT = 0.07
FACE = {
    "nose": ((0.0, 0.13, 0.10), (0.0, 0.0, 1.0), -0.25),
    "r_eye": ((-0.032, 0.16, 0.085), (-0.35, 0.0, 0.94), 0.0),
    "l_eye": ((0.032, 0.16, 0.085), (0.35, 0.0, 0.94), 0.0),
    "r_ear": ((-0.075, 0.14, -0.005), (-0.99, 0.0, -0.15), -0.3),
    "l_ear": ((0.075, 0.14, -0.005), (0.99, 0.0, -0.15), -0.3),
}
HEAD_TOP = (0.0, 0.26, 0.0)

# Hand (adult male, times `head`), in the hand's frame: along = wrist -> middle knuckle, across = towards
# the thumb. Knuckle positions (along, across) and bone lengths, OpenPose's order: thumb, index, middle,
# ring, little finger (each: the base joint, two more joints, the tip).
KNUCKLES = ((0.03, 0.025), (0.095, 0.026), (0.097, 0.006), (0.09, -0.013), (0.08, -0.03))
FINGER_BONES = (
    (0.045, 0.035, 0.03),
    (0.045, 0.026, 0.021),
    (0.05, 0.03, 0.022),
    (0.046, 0.028, 0.021),
    (0.036, 0.021, 0.019),
)
