"""Everyday pose searches and, for each, which templates answer it, judged by rule (words, facets, keypoints).

Shared by tests/test_pose_search.py (precision@3 of the forty) and bench/pose_search.py (before/after figures).
The first 25 are the kinds of query the pose-book review measured; the rest widen the set.
"""

from collections.abc import Callable

from avatargen.poses.template import KEYPOINT_NAMES, PoseTemplate

Judge = Callable[[PoseTemplate], bool]
_K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def _text(t: PoseTemplate) -> str:
    return " ".join((t.name, *t.tags)).lower()


def words(*alternatives: str) -> Judge:
    """Relevant when the name or a tag holds any of these words or phrases."""
    return lambda t: any(a in _text(t) for a in alternatives)


def both(*judges: Judge) -> Judge:
    return lambda t: all(j(t) for j in judges)


def facet(name: str, *values: str) -> Judge:
    return lambda t: getattr(t, name) in values


def _arms_up(t: PoseTemplate) -> bool:
    nose_y = t.keypoints[_K["neck"]][1]
    return all(t.keypoints[_K[w]][2] and t.keypoints[_K[w]][1] < nose_y for w in ("r_wrist", "l_wrist"))


def _standing(t: PoseTemplate) -> bool:
    return t.category == "standing" or "standing" in t.name.lower()


BACK_VIEW = lambda t: t.view == "back" or "back to the camera" in _text(t) or "walking away" in _text(t)  # noqa: E731

QUERIES: tuple[tuple[str, Judge], ...] = (
    ("back view", BACK_VIEW),
    ("lying on the grass", facet("category", "lying")),
    ("holding a phone", words("phone")),
    ("face", words("face", "cheek")),
    ("from behind", BACK_VIEW),
    ("running", lambda t: t.base == "run" or "running" in t.tags),
    ("woman sitting on a chair", both(facet("gender", "female"), facet("category", "sitting"), words("chair"))),
    ("man with arms crossed", both(facet("gender", "male"), words("arms crossed", "arms folded"))),
    ("hands on hips", words("hands on hips", "hands on the hips", "hand on the hip", "hand on hip")),
    ("headshot", facet("framing", "head-shoulders")),
    ("corporate headshot", both(facet("framing", "head-shoulders", "half-body"), words("business", "linkedin"))),
    ("walking towards the camera", lambda t: t.category == "walking" and (t.view == "front" or "towards" in t.name)),
    ("jumping for joy", words("jump")),
    ("lying on the side", both(facet("category", "lying"), words("side"))),
    ("leaning against a wall", both(facet("category", "leaning"), words("wall"))),
    ("sitting on the floor", both(facet("category", "sitting"), words("floor"))),
    ("dancing", words("danc", "salsa", "ballet")),
    ("yoga pose", words("yoga")),
    ("looking over the shoulder", words("over the shoulder")),
    ("with a coffee", words("coffee")),
    ("hand in hair", words("hair")),
    ("kneeling", words("kneel")),
    ("side profile", lambda t: t.view in ("side-left", "side-right") or "profile" in _text(t)),
    ("thinking", words("thoughtful", "pensive", "thinker", "thinking")),
    ("taking a selfie", words("selfie")),
    ("on the stairs", words("stair", "steps")),
    ("squatting", words("squat", "crouch")),
    ("arms up", _arms_up),
    ("hands in pockets", words("pocket")),
    ("laughing", words("laugh")),
    ("sunglasses", words("sunglasses")),
    ("woman with a handbag", both(facet("gender", "female"), words("bag", "clutch"))),
    ("sitting cross legged", words("cross-legged")),
    ("confident business man", both(facet("gender", "male"), words("business", "confident", "power"))),
    ("three quarter left", facet("view", "three-quarter-left")),
    ("standing full body front", both(_standing, facet("framing", "full-body"), facet("view", "front"))),
    ("sitting on a bench", words("bench")),
    ("holding a hat", words("hat")),
    ("stretching arms", words("stretch")),
    ("twirling in a dress", words("twirl")),
)
ISSUE_STYLE = QUERIES[:25]


def precision_at(templates: list[PoseTemplate], judge: Judge, k: int = 3) -> float:
    """Relevant templates among the first k, empty slots counting as misses."""
    return sum(judge(t) for t in templates[:k]) / k
