"""Left and right: the library favours neither side (raised hands, hand keypoints, the weight leg, the views),
and a mirror image names its mirror view."""

import pytest

from avatargen.poses.balance import MEASURES, counts, majority_share, sides
from avatargen.poses.template import KEYPOINT_NAMES, VIEW_LABEL

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def test_left_and_right_are_published_evenly(library):
    found = counts(library)
    shares = {m: round(majority_share(*found[m]), 2) for m in MEASURES}
    assert all(share <= 0.6 for share in shares.values()), (found, shares)
    assert found["raised hand"][0] + found["raised hand"][1] >= 100  # measured on many templates, not a few
    assert sum(found["weight leg"]) >= 40 and sum(found["hand keypoints"]) >= 100


def test_each_category_leans_to_neither_side(library):
    by_category: dict[str, list] = {}
    for t in library:
        by_category.setdefault(t.category, []).append(t)
    for category, templates in by_category.items():
        right, left = counts(templates)["raised hand"]
        if right + left >= 20:
            assert majority_share(right, left) <= 0.7, (category, right, left)


def test_the_measures_read_the_keypoints(library):
    raised = next(t for t in library if sides(t)["raised hand"] == 1)
    wrist, shoulder = raised.keypoints[K["r_wrist"]], raised.keypoints[K["r_shoulder"]]
    assert wrist[1] < shoulder[1]
    flipped = sides(raised.mirrored())
    assert flipped["raised hand"] == -1 and flipped["view"] == -sides(raised)["view"]


@pytest.mark.parametrize("view", ["three-quarter-left", "side-right", "front", "back"])
def test_a_mirror_image_names_its_mirror_view(library, view):
    t = next(t for t in library if t.view == view)
    m = t.mirrored()
    assert m.id == t.id and VIEW_LABEL[m.view] in m.name
    assert (m.view == view) == (view in ("front", "back"))
    if m.view != view:
        assert VIEW_LABEL[view] not in m.name
    assert m.mirrored() == t
