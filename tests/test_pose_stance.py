"""Ground and balance: every static template stands, its centre of mass (an anthropometric segment table) over
what rests on the ground; the check itself finds a body tipped over."""

import pytest

from avatargen.poses.stance import BALANCE_LIMIT, SEGMENTS, balance_offset, centre_of_mass, support


def test_the_segment_table_is_a_whole_body():
    assert sum(share for *_, share, _ in SEGMENTS) == pytest.approx(1.0, abs=1e-9)


def test_a_body_standing_straight_balances_and_one_tipped_over_does_not(build):
    body = build.BODIES["male"]
    upright = build.Pose(r_leg=build.Limb(abduct=4), l_leg=build.Limb(abduct=4))
    points, _ = build.skeleton(upright, body)
    x, height, z = centre_of_mass(points)
    sole = min(points["r_foot"][1], points["l_foot"][1])
    assert 0.5 < (height - sole) / (points["head_top"][1] - sole) < 0.62  # about 56% of stature, as measured
    assert abs(x) < 0.01 and balance_offset(points) == 0.0
    assert {name for name, *_ in support(points)} >= {"r_foot", "l_foot"}
    tipped, _ = build.skeleton(build.Pose(sway_forward=20.0, r_leg=upright.r_leg, l_leg=upright.l_leg), body)
    assert balance_offset(tipped) > BALANCE_LIMIT
    one_leg = build.Pose(r_leg=build.Limb(abduct=4), l_leg=build.Limb(flex=-30, abduct=30, bend=60), hip_roll=15)
    points, _ = build.skeleton(one_leg, body)
    assert balance_offset(points) > 0  # the weight is not over the standing foot...
    assert balance_offset(build.skeleton(build.balanced(one_leg, body), body)[0]) <= 0.01  # ...until it sways


def test_every_static_template_stands_on_its_feet(build):
    off = {}
    for shot in build.shots():
        if shot.base.static:
            points, _ = build.skeleton(shot.pose, shot.body)
            if (gap := balance_offset(points)) > BALANCE_LIMIT:
                off[shot.id] = round(gap, 3)
            assert max(abs(shot.pose.sway_forward), abs(shot.pose.sway_side)) <= build.SWAY_LIMIT, shot.id
    assert not off, f"off balance (metres outside the feet): {off}"
    assert sum(shot.base.static for shot in build.shots()) >= 300


def test_planted_feet_rest_on_the_ground(build):
    for shot in build.shots():
        for joint, place in shot.variant.contacts:
            if place == "ground":
                points, _ = build.skeleton(shot.pose, shot.body)
                assert joint in {name for name, *_ in support(points)}, (shot.id, joint)
