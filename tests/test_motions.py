"""Motions: the committed sequences are plausible in every frame, move smoothly, filter and search like poses, preview,
and are what poses/build_motions.py builds."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from avatargen.errors import UnknownMotion
from avatargen.poses.motions import MAX_STEP, PREVIEW_FRAMES, SAMPLES, MotionLibrary
from avatargen.poses.plausibility import assess, pose_distance
from avatargen.poses.template import CATEGORIES, FRAMINGS, GENDERS, KEYPOINT_NAMES, VIEWS
from tests.conftest import ROOT

ASKED_FOR = {  # the list, by what a person would call them
    "walk-towards",
    "walk-cycle-side",
    "turn-around",
    "wave",
    "hair-flip",
    "twirl",
    "sit-down",
    "stand-up",
    "jump",
    "hips-to-arms-crossed",
    "look-over-shoulder",
    "runway",
}
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


@pytest.fixture(scope="module")
def motions() -> MotionLibrary:
    return MotionLibrary.load()


def test_the_library_has_the_motions_people_ask_for(motions):
    assert len(motions) >= 12
    assert ASKED_FOR <= {m.id for m in motions}
    for m in motions:
        assert m.category in CATEGORIES and m.gender in GENDERS and m.view in VIEWS and m.framing in FRAMINGS
        assert m.name and m.tags and len(m.samples) == SAMPLES
        assert m.keyframes[0][0] == 0.0 and m.keyframes[-1][0] == 1.0


@pytest.mark.parametrize("count", [8, 16, 32])
def test_every_frame_passes_the_pose_librarys_checks(motions, count):
    for m in motions:
        frames = m.frames(count)
        assert len(frames) == count
        for i, frame in enumerate(frames):
            assert assess(frame.keypoints, m.framing).ok, (m.id, i, assess(frame.keypoints, m.framing).problems)
            for x, y, v in frame.keypoints:
                assert v in (0.0, 1.0) and (v or (x, y) == (0.0, 0.0))
            if frame.hands is not None:
                assert [len(hand) for hand in frame.hands] == [21, 21]


@pytest.mark.parametrize("count", [16, 32])
def test_no_joint_jumps_between_frames(motions, count):
    for m in motions:
        # at 32 frames each step is about half as long
        assert m.largest_step(count) <= MAX_STEP * 16 / count, m.id


def test_motions_move_and_loops_join_up(motions):
    for m in motions:
        frames = [f.keypoints for f in m.frames(16)]
        assert max(pose_distance(frames[0], f) for f in frames) > 0.05, f"{m.id} hardly moves"
        if m.loop:
            # the frame after the last is the first again: no jump when the clip loops
            assert pose_distance(frames[-1], frames[0]) < 0.2, m.id
        else:
            assert pose_distance(m.frames(8)[-1].keypoints, m.frames(32)[-1].keypoints) < 1e-3, m.id


def test_turning_around_shows_the_back_half_way(motions):
    frames = motions.get("turn-around").frames(16)
    front, back = frames[0], frames[8]
    assert front.keypoints[K["r_shoulder"]][0] < front.keypoints[K["l_shoulder"]][0]  # the person's right on our left
    assert back.keypoints[K["r_shoulder"]][0] > back.keypoints[K["l_shoulder"]][0]
    assert front.keypoints[K["nose"]][2] == 1.0 and back.keypoints[K["nose"]][2] == 0.0  # the face turned away


def test_walking_towards_the_camera_grows_and_sitting_down_lowers_the_hips(motions):
    walk = motions.get("walk-towards").frames(16)
    height = [f.keypoints[K["r_ankle"]][1] - f.keypoints[K["neck"]][1] for f in (walk[0], walk[-1])]
    assert height[1] > 1.15 * height[0]
    sit = motions.get("sit-down").frames(16)
    assert sit[-1].keypoints[K["r_hip"]][1] > sit[0].keypoints[K["r_hip"]][1] + 0.1


def test_hands_are_carried_through_every_frame(motions):
    for m in motions:
        with_hands = [f.hands is not None for f in m.frames(16)]
        assert all(with_hands) or not any(with_hands), m.id
    assert motions.get("wave").frames(16)[8].hands is not None


def test_mirrored_frames_are_the_mirror_images(motions):
    m = motions.get("wave")
    for plain, mirrored in zip(m.frames(16), m.frames(16, mirror=True), strict=True):
        assert mirrored == plain.mirrored()


def test_frame_counts_outside_the_range_are_refused(motions):
    with pytest.raises(ValueError, match="8 to 32"):
        motions.get("wave").frames(64)


def test_filters_and_search_like_the_pose_gallery(motions):
    walking, total = motions.query(category="walking")
    assert total == len(walking) >= 2 and all(m.category == "walking" for m in walking)
    found, _ = motions.query(search="spin")
    assert {"twirl", "turn-around"} <= {m.id for m in found}
    found, _ = motions.query(search="sitting")  # stems and synonyms as for poses
    assert "sit-down" in {m.id for m in found}
    page, total = motions.query(limit=3, offset=3)
    assert len(page) == 3 and total == len(motions)
    assert set(motions.facets()) == {"category", "gender", "view", "framing"}
    with pytest.raises(UnknownMotion, match="Pick a motion"):
        motions.get("moonwalk")


def test_every_motion_has_a_small_animated_preview(motions):
    for m in motions:
        with Image.open(m.preview) as preview:
            # held poses (the same frame twice) are stored once
            assert preview.format == "WEBP" and preview.is_animated and PREVIEW_FRAMES // 2 <= preview.n_frames
        assert m.preview.stat().st_size < 40_000


def test_records_are_json_ready(motions):
    record = motions.get("turn-around").to_public()
    assert json.loads(json.dumps(record)) == record
    assert record["loop"] is True and record["keyframes"][0] == {"at": 0.0, "pose": "stand-relaxed"}


def test_the_committed_motions_are_what_the_build_makes(tmp_path, motions):
    # The build checks every sample in 3D (angles a body reaches, no limb through the torso) and fails otherwise.
    out, previews = tmp_path / "motions.json", tmp_path / "previews"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "poses" / "build_motions.py"), "--out", str(out), "--previews", str(previews)]
    subprocess.run(command, check=True, cwd=tmp_path, env=env, capture_output=True)
    built = MotionLibrary.load(out)
    assert [m.id for m in built] == [m.id for m in motions], "run `python poses/build_motions.py` and commit"
    for ours, theirs in zip(built, motions, strict=True):
        assert ours.to_public() == theirs.to_public()
        for (k0, _), (k1, _) in zip(ours.samples, theirs.samples, strict=True):
            assert [v for *_, v in k0] == [v for *_, v in k1], ours.id
            assert max(abs(a - b) for p, q in zip(k0, k1, strict=True) for a, b in zip(p, q, strict=True)) < 1e-3
    assert {p.name for p in previews.iterdir()} == {m.preview.name for m in motions}
