"""A pose template: its keypoints (COCO-18 and hands), its facets and their vocabularies (the one definition).

Imports nothing of avatargen: every other pose module builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# COCO-18, the order OpenPose and ControlNet use.
# fmt: off
KEYPOINT_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# fmt: on
FACE_POINTS = ("nose", "r_eye", "l_eye", "r_ear", "l_ear")
CATEGORIES = ("standing", "walking", "sitting", "lying", "leaning", "portrait", "action", "fashion")
GENDERS = ("female", "male", "unisex")
VIEWS = ("front", "three-quarter-left", "three-quarter-right", "side-left", "side-right", "back")
FRAMINGS = ("full-body", "three-quarter", "half-body", "head-shoulders")
FACETS = ("category", "gender", "view", "framing")  # what the gallery and the API filter on
FACET_VALUES = dict(zip(FACETS, (CATEGORIES, GENDERS, VIEWS, FRAMINGS), strict=True))  # each facet's vocabulary
VIEW_LABEL = {v: v.replace("-left", " left").replace("-right", " right") for v in VIEWS}
FRAMING_LABEL = {
    "full-body": "full body",
    "three-quarter": "three-quarter length",
    "half-body": "half body",
    "head-shoulders": "head and shoulders",
}
FORMAT_VERSION = 3  # of the record: 3 added `basePose` and `hands`
HAND_POINTS = 21  # OpenPose hand keypoints: the wrist, then four per finger from the thumb to the little finger
# The index each keypoint takes in the mirror image (the person's right and left swap).
MIRROR_INDEX = tuple(
    KEYPOINT_NAMES.index(n.replace("r_", "l_", 1) if n[:2] == "r_" else n.replace("l_", "r_", 1))
    for n in KEYPOINT_NAMES
)


@dataclass(frozen=True)
class PoseTemplate:
    """One pose: facets to filter on, 18 OpenPose body keypoints on a 2:3 canvas, and maybe hands.

    `owner` is None for the shared library and the owning user's id for a private custom pose.
    `base_pose` names the pose a library template shows (its other templates show it from other views
    and framings); `hands` are the right and the left hand's 21 OpenPose keypoints each, or None.
    """

    id: str
    name: str
    category: str
    gender: str  # body proportions: female, male or unisex
    view: str
    framing: str
    tags: tuple[str, ...]
    keypoints: tuple[tuple[float, float, float], ...]  # COCO-18 (x, y, visibility); x, y in [0, 1]
    owner: int | None = None
    base_pose: str = ""  # empty for a custom pose: it is its own base pose
    hands: tuple[tuple[tuple[float, float, float], ...], ...] | None = None  # (right, left), 21 (x, y, v) each

    @property
    def base(self) -> str:
        """The base pose this template shows (a custom pose's own id)."""
        return self.base_pose or self.id

    def to_public(self) -> dict:
        """JSON-ready record (camelCase keys), as the API returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "basePose": self.base,
            "category": self.category,
            "gender": self.gender,
            "view": self.view,
            "framing": self.framing,
            "tags": list(self.tags),
            "keypoints": [list(k) for k in self.keypoints],
            "hands": None if self.hands is None else [[list(k) for k in hand] for hand in self.hands],
            "formatVersion": FORMAT_VERSION,
            "owner": self.owner,
            "private": self.owner is not None,
        }

    def mirrored(self) -> PoseTemplate:
        """The mirror image (the person's right and left swapped, x flipped): the same id and facets."""

        def flip(points):
            return tuple((round(1.0 - x, 4), y, v) if v else (x, y, v) for x, y, v in points)

        body = flip(self.keypoints)
        hands = None if self.hands is None else (flip(self.hands[1]), flip(self.hands[0]))
        view = self.view.replace("left", "right") if "left" in self.view else self.view.replace("right", "left")
        return replace(self, view=view, keypoints=tuple(body[i] for i in MIRROR_INDEX), hands=hands)
