"""Custom poses: a person's pose from their photo, with mediapipe running offline."""

import threading

import pytest
from PIL import Image
from skimage import data

from avatargen.errors import NoPersonFound, UserError
from avatargen.poses import extract as pose_extract
from avatargen.poses.extract import describe_pose, detect_pose, extract_pose
from avatargen.poses.plausibility import assess, pose_distance
from avatargen.poses.render import render_openpose
from avatargen.poses.template import KEYPOINT_NAMES, PoseTemplate

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
# Where the astronaut's joints are in skimage's 512 x 512 photo (pixels, x to the right), read off the
# photo by eye: she faces the camera, so her right side is on our left.
ASTRONAUT = {
    "nose": (222, 128),
    "r_eye": (205, 104),
    "l_eye": (247, 111),
    "r_shoulder": (115, 240),
    "l_shoulder": (305, 255),
    "r_elbow": (68, 410),
    "l_elbow": (322, 378),
}


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def found(astronaut):
    return detect_pose(astronaut)


def test_the_astronauts_joints_are_where_they_are_in_the_photo(found):
    assert found.detector == "mediapipe" and found.framing == "half-body" and found.view == "front"
    for name, (px, py) in ASTRONAUT.items():
        x, y, visible = found.keypoints[K[name]]
        assert visible == 1.0, name
        fx, fy = found.to_photo(x, y)
        assert abs(fx - px) < 26 and abs(fy - py) < 26, (name, (round(fx), round(fy)), (px, py))


def test_the_astronauts_joints_are_placed_like_a_body(found):
    p = {n: found.keypoints[K[n]][:2] for n in ASTRONAUT}
    assert p["r_eye"][0] < p["nose"][0] < p["l_eye"][0]  # her right eye on our left, the nose between
    assert max(p["r_eye"][1], p["l_eye"][1]) < p["nose"][1] < min(p["r_shoulder"][1], p["l_shoulder"][1])
    assert p["r_shoulder"][0] < p["nose"][0] < p["l_shoulder"][0]
    assert p["r_elbow"][1] > p["r_shoulder"][1] and p["l_elbow"][1] > p["l_shoulder"][1]
    assert p["r_elbow"][0] < p["r_shoulder"][0]  # her right arm hangs out to the side
    neck = found.keypoints[K["neck"]]
    assert neck[2] == 1.0 and neck[0] == pytest.approx((p["r_shoulder"][0] + p["l_shoulder"][0]) / 2, abs=1e-3)
    assert found.keypoints[K["r_knee"]][2] == found.keypoints[K["l_ankle"]][2] == 0.0  # not in the photo


def test_the_pose_is_framed_like_a_library_template(found, astronaut):
    keypoints = extract_pose(astronaut)
    assert keypoints == found.keypoints
    assert len(keypoints) == 18 and all(len(k) == 3 for k in keypoints)
    assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y, v in keypoints if v)
    assert assess(keypoints, found.framing).ok
    assert describe_pose(keypoints) == {"view": "front", "framing": "half-body"}
    template = PoseTemplate("custom-1", "My pose", "portrait", "unisex", "front", "half-body", (), keypoints, owner=1)
    image = render_openpose(template, 512, 768)
    assert image.getbbox() is not None and image.size == (512, 768)


def test_size_and_mirroring_do_not_change_the_pose(found, astronaut):
    small = extract_pose(astronaut.resize((256, 256)))
    assert pose_distance(small, found.keypoints) < 0.05
    mirrored = extract_pose(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    swap = {
        i: K["l_" + n[2:]] if n.startswith("r_") else K["r_" + n[2:]] if n.startswith("l_") else i
        for i, n in enumerate(KEYPOINT_NAMES)
    }
    flipped = [mirrored[swap[i]] for i in range(18)]
    flipped = [(1 - x, y, v) if v else (x, y, v) for x, y, v in flipped]
    both = [i for i in range(18) if flipped[i][2] and found.keypoints[i][2]]
    assert {"nose", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow"} <= {KEYPOINT_NAMES[i] for i in both}
    assert (
        max(abs(flipped[i][0] - found.keypoints[i][0]) + abs(flipped[i][1] - found.keypoints[i][1]) for i in both)
        < 0.08
    )


def test_a_grey_photo_and_a_side_view_work():
    camera = Image.fromarray(data.camera())  # mode L: a man behind a camera on a tripod, seen from the side
    assert camera.mode == "L"
    found = detect_pose(camera)
    assert found.framing == "three-quarter"
    assert found.keypoints[K["nose"]][0] < found.keypoints[K["neck"]][0] or found.view != "front"


@pytest.mark.parametrize(
    "photo",
    [
        pytest.param(lambda: Image.fromarray(data.coffee()), id="a cup of coffee"),
        pytest.param(lambda: Image.fromarray(data.chelsea()), id="a cat"),
        pytest.param(lambda: Image.new("RGB", (400, 600), (128, 128, 128)), id="plain grey"),
    ],
)
def test_a_photo_without_a_person_is_a_clear_user_error(photo):
    with pytest.raises(NoPersonFound, match="We couldn't find a person in that photo") as raised:
        extract_pose(photo())
    assert isinstance(raised.value, UserError)
    assert str(raised.value) == (
        "We couldn't find a person in that photo. Use a photo where your whole upper body is visible."
    )


def test_concurrent_callers_share_one_detector(astronaut, found):
    results, errors = [], []

    def run():
        try:
            results.append(extract_pose(astronaut))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [found.keypoints] * 4
    assert list(pose_extract._detectors) == ["mediapipe"]


def test_openpose_is_used_only_when_its_weights_are_already_cached(monkeypatch, astronaut):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if pose_extract.openpose_weights() is None:  # the usual case here: nothing cached, nothing downloaded
        assert detect_pose(astronaut).detector == "mediapipe"
        with pytest.raises(RuntimeError, match="not in the Hugging Face cache"):
            detect_pose(astronaut, detector="openpose")
    with pytest.raises(ValueError):
        detect_pose(astronaut, detector="yolo")


def test_describe_pose_on_simple_poses():
    stand = [[0.0, 0.0, 0.0] for _ in range(18)]
    for name, xy in {
        "nose": (0.5, 0.1),
        "neck": (0.5, 0.2),
        "r_shoulder": (0.34, 0.2),
        "l_shoulder": (0.66, 0.2),
        "r_hip": (0.45, 0.5),
        "l_hip": (0.55, 0.5),
        "r_knee": (0.45, 0.7),
        "l_knee": (0.55, 0.7),
        "r_ankle": (0.45, 0.9),
        "l_ankle": (0.55, 0.9),
        "r_eye": (0.48, 0.09),
        "l_eye": (0.52, 0.09),
    }.items():
        stand[K[name]] = [*xy, 1.0]
    assert describe_pose(stand) == {"view": "front", "framing": "full-body"}
    back = [list(p) for p in stand]
    back[K["r_shoulder"]], back[K["l_shoulder"]] = stand[K["l_shoulder"]], stand[K["r_shoulder"]]
    for name in ("nose", "r_eye", "l_eye"):
        back[K[name]] = [0.0, 0.0, 0.0]
    back[K["r_ear"]], back[K["l_ear"]] = [0.53, 0.1, 1.0], [0.47, 0.1, 1.0]
    assert describe_pose(back)["view"] == "back"
    side = [list(p) for p in stand]
    side[K["r_shoulder"]], side[K["l_shoulder"]] = [0.49, 0.2, 1.0], [0.51, 0.2, 1.0]
    side[K["nose"]], side[K["r_eye"]], side[K["l_ear"]] = [0.42, 0.1, 1.0], [0.0, 0.0, 0.0], [0.5, 0.09, 1.0]
    assert describe_pose(side) == {"view": "side-left", "framing": "full-body"}
    no_legs = [p if KEYPOINT_NAMES[i][2:] not in ("knee", "ankle") else [0.0, 0.0, 0.0] for i, p in enumerate(stand)]
    assert describe_pose(no_legs)["framing"] == "three-quarter"  # cut between the hips and the knees
