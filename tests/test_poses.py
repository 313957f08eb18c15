"""The pose library: the committed templates, search, OpenPose rendering, thumbnails, the build."""

import dataclasses
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from avatargen import poses
from avatargen.errors import UnknownPose
from avatargen.poses import (
    CATEGORIES,
    FACETS,
    FRAMINGS,
    GENDERS,
    KEYPOINT_NAMES,
    VIEWS,
    PoseTemplate,
    render_openpose,
    thumbnail_path,
)
from tests.conftest import ROOT

NECK_TO_R_SHOULDER = (153, 0, 0)  # OpenPose limb colour (255, 0, 0) at controlnet-aux's 0.6 brightness
K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def test_every_template_is_well_formed(library):
    assert 800 <= len(library)
    assert len({t.id for t in library}) == len(library)
    for t in library:
        assert t.category in CATEGORIES and t.gender in GENDERS
        assert t.view in VIEWS and t.framing in FRAMINGS
        assert t.name and t.tags and all(isinstance(tag, str) for tag in t.tags)
        assert len(t.keypoints) == 18, t.id
        for x, y, v in t.keypoints:
            assert v in (0.0, 1.0), t.id
            if v:
                assert 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0, t.id
            else:
                assert (x, y) == (0.0, 0.0), t.id
        assert t.keypoints[K["neck"]][2] == 1.0, t.id


def test_the_library_covers_every_facet_value(library):
    assert library.facets() == {
        "category": sorted(CATEGORIES),
        "gender": sorted(GENDERS),
        "view": sorted(VIEWS),
        "framing": sorted(FRAMINGS),
    }


def _x(t: PoseTemplate, name: str) -> float:
    return t.keypoints[K[name]][0]


def test_views_put_the_body_where_a_viewer_expects_it(library):
    for t in library:
        if t.view == "front":
            assert _x(t, "r_shoulder") < _x(t, "l_shoulder"), t.id  # the person's right on our left
        if t.view == "back":
            assert _x(t, "r_shoulder") > _x(t, "l_shoulder"), t.id
        glance = "looking back" in t.tags  # the head turns back over the shoulder, towards the camera
        if t.view == "side-left" and not glance:
            assert _x(t, "nose") < _x(t, "neck"), t.id  # faces the viewer's left
            assert t.keypoints[K["r_ear"]][2] == 0.0, t.id  # the far ear is hidden
        if t.view == "side-right" and not glance:
            assert _x(t, "nose") > _x(t, "neck"), t.id
            assert t.keypoints[K["l_ear"]][2] == 0.0, t.id
        if t.framing in ("half-body", "head-shoulders"):
            assert t.keypoints[K["r_ankle"]][2] == t.keypoints[K["l_ankle"]][2] == 0.0, t.id


def test_faces_turned_away_are_hidden(library):
    back = library.get("stand-relaxed-f-back-full")
    assert [back.keypoints[K[n]][2] for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")] == [0, 0, 0, 1, 1]
    glance = library.get("fashion-over-shoulder-f-back-half")  # turned away, head turned back to us
    assert glance.keypoints[K["nose"]][2] == 1.0 and _x(glance, "nose") < _x(glance, "neck")


def test_get_and_public_record(library):
    t = library.get("stand-hands-hips-f-3ql-full")
    assert (t.name, t.category, t.gender) == ("Hands on hips, three-quarter left", "standing", "female")
    assert (t.view, t.framing) == ("three-quarter-left", "full-body")
    public = json.loads(json.dumps(t.to_public()))
    assert set(public) == {
        "id",
        "name",
        "category",
        "gender",
        "view",
        "framing",
        "tags",
        "keypoints",
        "owner",
        "private",
    }
    assert public["keypoints"] == [list(k) for k in t.keypoints]
    assert (public["owner"], public["private"]) == (None, False)
    mine = dataclasses.replace(t, id="custom-7", owner=7).to_public()
    assert (mine["owner"], mine["private"]) == (7, True)


@pytest.mark.parametrize("bad", ["xyz", "", None, 42])
def test_unknown_pose_is_a_user_error(library, bad):
    with pytest.raises(UnknownPose, match="Pick a pose from the gallery"):
        library.get(bad)


def test_query_filters_by_facets(library):
    everything, total = library.query(limit=1000)
    assert total == len(library) == len(everything)

    page, total = library.query(category="standing", gender="female", limit=1000)
    expected = [t for t in library if t.category == "standing" and t.gender == "female"]
    assert page == expected and total == len(expected) > 0

    sides, total = library.query(view=["side-left", "side-right"], framing="full-body", limit=1000)
    assert total == len(sides) > 0
    assert {t.view for t in sides} == {"side-left", "side-right"} and {t.framing for t in sides} == {"full-body"}

    assert library.query(category=[], gender="", view=None, limit=1000)[1] == len(library)
    assert library.query(category="underwater") == ([], 0)


def test_query_searches_name_and_tags_case_insensitively(library):
    hips, total = library.query(search="HANDS  hips", limit=1000)
    assert total == len(hips) > 0
    assert all("hands on hips" in (t.name + " ".join(t.tags)).lower() for t in hips)

    by_tag, _ = library.query(search="linkedin", limit=1000)  # a tag, not in any name
    assert by_tag and all("linkedin" in t.tags for t in by_tag)

    both, total = library.query(search="wave", gender="male", limit=1000)
    assert total == len(both) > 0 and all(t.gender == "male" and "wav" in t.name.lower() for t in both)
    assert library.query(search="hips underwater") == ([], 0)


def test_query_pages(library):
    seen, offset = [], 0
    while True:
        page, total = library.query(category=["standing", "action"], limit=7, offset=offset)
        assert total == len(library.query(category=["standing", "action"], limit=1000)[0])
        if not page:
            break
        assert len(page) <= 7
        seen += page
        offset += 7
    assert len(seen) == total and len({t.id for t in seen}) == total
    assert library.query(limit=0) == ([], len(library))
    with pytest.raises(ValueError):
        library.query(offset=-1)


def test_query_lists_included_private_templates_first(library):
    facets = library.facets()
    hips = dataclasses.replace(library.get("stand-hands-hips-f-3ql-full"), id="custom-1", name="My pose", owner=7)
    wave = dataclasses.replace(library.get("wave-m-front-full"), id="custom-2", name="My wave", owner=7)
    first = library.query(limit=1)[0][0]

    page, total = library.query(include=[hips, wave], limit=3)
    assert page == [hips, wave, first] and total == len(library) + 2
    assert library.query(include=[hips, wave], offset=1, limit=2) == ([wave, first], len(library) + 2)

    page, total = library.query(include=[hips, wave], search="my wave", limit=1000)
    assert page == [wave] and total == 1
    page, total = library.query(include=(hips, wave), category="action", gender="male", limit=1000)
    assert page[0] == wave and hips not in page and total == 1 + library.query(category="action", gender="male")[1]

    assert library.facets() == facets and len(library) == len(list(library))
    assert "custom-1" not in library
    with pytest.raises(UnknownPose):
        library.get("custom-1")


def _pixel_between(t: PoseTemplate, a: str, b: str, width: int, height: int) -> tuple[int, int]:
    canvas_w = min(width, height * 2 / 3)
    canvas_h = canvas_w * 3 / 2
    (xa, ya, _), (xb, yb, _) = t.keypoints[K[a]], t.keypoints[K[b]]
    x = (width - canvas_w) / 2 + (xa + xb) / 2 * canvas_w
    y = (height - canvas_h) / 2 + (ya + yb) / 2 * canvas_h
    return int(x), int(y)


@pytest.mark.parametrize("size", [(512, 768), (768, 512), (300, 300)])
def test_render_openpose_draws_standard_colours_in_place(library, size):
    t = library.get("stand-relaxed-m-front-full")
    image = render_openpose(t, *size)
    assert image.size == size and image.mode == "RGB"
    assert image.getpixel(_pixel_between(t, "neck", "r_shoulder", *size)) == NECK_TO_R_SHOULDER
    assert image.getpixel((0, 0)) == (0, 0, 0)
    if size[0] > size[1]:  # a landscape image: the 2:3 canvas sits in the middle, bars left and right
        assert not any(image.crop((0, 0, size[0] // 4, size[1])).getextrema()[c][1] for c in range(3))


def test_render_openpose_leaves_out_missing_joints():
    empty = PoseTemplate("empty", "Empty", "standing", "unisex", "front", "full-body", (), ((0.0, 0.0, 0.0),) * 18)
    assert render_openpose(empty, 64, 96).getbbox() is None


def test_thumbnail_is_rendered_once_and_cached(library, tmp_path):
    t = library.get("wave-m-front-full")
    path = thumbnail_path(t, tmp_path / "thumbs")
    first = path.stat().st_mtime_ns
    os.utime(path, ns=(first - 10**9, first - 10**9))  # so a rewrite could not keep the same mtime
    assert thumbnail_path(t, tmp_path / "thumbs") == path
    assert path.stat().st_mtime_ns == first - 10**9
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left over

    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (192, 288)
        assert image.convert("RGB").getpixel((0, 0)) == poses.THUMBNAIL_BACKGROUND
        assert len(image.convert("RGB").getcolors(1 << 16)) > 10  # a coloured skeleton on it

    moved = dataclasses.replace(t, keypoints=((0.5, 0.5, 1.0),) + t.keypoints[1:])
    assert thumbnail_path(moved, tmp_path / "thumbs") != path
    assert thumbnail_path(t, tmp_path / "thumbs", size=(96, 144)) != path


def test_build_vocabulary_matches_the_package(build):
    assert build.KEYPOINT_NAMES == KEYPOINT_NAMES
    assert (build.CATEGORIES, build.GENDERS, build.VIEWS, build.FRAMINGS) == (
        CATEGORIES,
        GENDERS,
        VIEWS,
        FRAMINGS,
    )
    assert FACETS == ("category", "gender", "view", "framing")


def test_build_is_deterministic_and_the_committed_file_is_current(tmp_path):
    # A fresh process, so nothing cached in this one can hide a difference.
    out = tmp_path / "templates.parquet"
    subprocess.run([sys.executable, str(ROOT / "poses" / "build.py"), "--out", str(out)], check=True, cwd=tmp_path)
    committed = ROOT / "poses" / "templates.parquet"
    assert out.read_bytes() == committed.read_bytes(), "run `python poses/build.py` and commit"
    assert committed.stat().st_size < 1_000_000
    assert pq.read_schema(committed).metadata[b"avatargen.poses.format"] == b"2"


def test_mirrored_pose_is_the_mirror_image(build):
    swap = {
        i: K[n.replace("r_", "l_") if n.startswith("r_") else n.replace("l_", "r_")]
        for i, n in enumerate(KEYPOINT_NAMES)
    }
    pose, body = build.WAVING, build.BODIES["female"]
    assert build.mirrored(build.mirrored(pose)) == pose
    original = build.keypoints(pose, body, "front", "full-body")
    mirror = build.keypoints(build.mirrored(pose), body, "front", "full-body")
    for i, (x, y, v) in enumerate(original):
        mx, my, mv = mirror[swap[i]]
        assert mv == v and my == pytest.approx(y, abs=2e-4)
        assert mx == 0.0 if not v else mx == pytest.approx(1 - x, abs=2e-4)


def test_importing_the_module_loads_nothing_heavy():
    code = (
        "import sys, avatargen.poses, avatargen.pose_quality, avatargen.pose_extract; "
        "heavy = {'torch', 'datasets', 'controlnet_aux', 'PIL', 'numpy', 'mediapipe'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
