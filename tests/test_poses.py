"""The pose library: the committed templates, search, OpenPose rendering, thumbnails, the build."""

import dataclasses
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from avatargen.errors import UnknownPose
from avatargen.poses.render import THUMBNAIL_BACKGROUND, render_openpose, thumbnail_path
from avatargen.poses.template import CATEGORIES, FACETS, FRAMINGS, GENDERS, KEYPOINT_NAMES, VIEWS, PoseTemplate
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
        # The head turns back over the shoulder, towards the camera; or the body lies on the ground.
        glance = "looking back" in t.tags or "looking away" in t.tags or t.category == "lying"
        if t.view == "side-left" and not glance:
            assert _x(t, "nose") < _x(t, "neck"), t.id  # faces the viewer's left
            assert t.keypoints[K["r_ear"]][2] == 0.0, t.id  # the far ear is hidden
        if t.view == "side-right" and not glance:
            assert _x(t, "nose") > _x(t, "neck"), t.id
            assert t.keypoints[K["l_ear"]][2] == 0.0, t.id
        if t.framing in ("half-body", "head-shoulders"):
            assert t.keypoints[K["r_ankle"]][2] == t.keypoints[K["l_ankle"]][2] == 0.0, t.id


def test_faces_turned_away_are_hidden(library):
    profile = next(t for t in library if t.view.startswith("side-") and t.framing == "head-shoulders")
    near, far = ("l_ear", "r_ear") if profile.view == "side-left" else ("r_ear", "l_ear")  # the ear towards us
    assert profile.keypoints[K[near]][2] == 1.0 and profile.keypoints[K[far]][2] == 0.0
    backs = [t for t in library if t.view == "back"]
    assert backs and all(t.keypoints[K["nose"]][2] == 1.0 for t in backs)  # from behind, only glancing back
    glance = library.get("fashion-over-shoulder-f-back-full")  # turned away, head turned back to us
    eyes = [e for e in ("r_eye", "l_eye") if glance.keypoints[K[e]][2]]
    nose_side = _x(glance, "nose") - _x(glance, "neck")
    assert len(eyes) == 1 and abs(nose_side) > 0.01 and (_x(glance, eyes[0]) - _x(glance, "neck")) * nose_side > 0


def test_get_and_public_record(library):
    t = library.get("stand-hands-hips-f-3ql-half")
    assert (t.name, t.category, t.gender) == ("Hands on hips, three-quarter left, half body", "standing", "female")
    assert (t.view, t.framing, t.base_pose) == ("three-quarter-left", "half-body", "stand-hands-hips")
    public = json.loads(json.dumps(t.to_public()))
    assert set(public) == {
        "id",
        "name",
        "basePose",
        "category",
        "gender",
        "view",
        "framing",
        "tags",
        "keypoints",
        "hands",
        "formatVersion",
        "owner",
        "private",
    }
    assert public["keypoints"] == [list(k) for k in t.keypoints]
    assert (public["basePose"], public["formatVersion"], public["hands"]) == ("stand-hands-hips", 3, None)
    assert (public["owner"], public["private"]) == (None, False)
    mine = dataclasses.replace(t, id="custom-7", base_pose="", owner=7).to_public()
    assert (mine["owner"], mine["private"], mine["basePose"]) == (7, True, "custom-7")
    hands = library.get("portrait-chin-hand-f-front-half").to_public()["hands"]
    assert len(hands) == 2 and all(len(hand) == 21 for hand in hands)
    assert all(v == 1.0 for _, _, v in hands[0]) and not any(v for _, _, v in hands[1])  # the right hand only


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
    found, total = library.query(search="HANDS  hips", limit=1000)
    assert total == len(found) > 0
    # Ranked, not filtered: every template with both words comes before any with one of them.
    both_words = [all(w in (t.name + " ".join(t.tags)).lower() for w in ("hand", "hip")) for t in found]
    assert both_words[0] and both_words == sorted(both_words, reverse=True) and not all(both_words)
    assert all(any(w in (t.name + " ".join(t.tags)).lower() for w in ("hand", "hip")) for t in found)

    by_tag, _ = library.query(search="passport", limit=1000)  # a tag, not in any name
    assert by_tag and all("passport" in t.tags for t in by_tag)

    both, total = library.query(search="twirl", gender="female", limit=1000)
    assert total == len(both) > 0 and all(t.gender == "female" and "twirl" in t.name.lower() for t in both)
    hips = library.query(search="hips underwater", limit=1000)[0]  # the words it knows still find poses
    assert hips and all("hip" in (t.name + " ".join(t.tags)).lower() for t in hips)
    assert library.query(search="underwater basket weaving") == ([], 0)


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
    hips = dataclasses.replace(library.get("stand-hands-hips-f-3ql-half"), id="custom-1", name="My pose", owner=7)
    wave = dataclasses.replace(library.get("jump-star-m-3ql-full"), id="custom-2", name="My wave", owner=7)
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
    t = library.get("stand-hands-hips-f-front-full")
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
    t = library.get("portrait-chin-hand-f-front-half")
    path = thumbnail_path(t, tmp_path / "thumbs")
    first = path.stat().st_mtime_ns
    os.utime(path, ns=(first - 10**9, first - 10**9))  # so a rewrite could not keep the same mtime
    assert thumbnail_path(t, tmp_path / "thumbs") == path
    assert path.stat().st_mtime_ns == first - 10**9
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left over

    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (192, 288)
        assert image.convert("RGB").getpixel((0, 0)) == THUMBNAIL_BACKGROUND
        assert len(image.convert("RGB").getcolors(1 << 16)) > 10  # a coloured skeleton on it

    moved = dataclasses.replace(t, keypoints=((0.5, 0.5, 1.0),) + t.keypoints[1:])
    assert thumbnail_path(moved, tmp_path / "thumbs") != path
    assert thumbnail_path(t, tmp_path / "thumbs", size=(96, 144)) != path
    assert thumbnail_path(t, tmp_path / "thumbs", mirror=True) != path


def test_build_vocabulary_matches_the_package(build):
    assert build.KEYPOINT_NAMES == KEYPOINT_NAMES
    assert (build.CATEGORIES, build.GENDERS, build.VIEWS, build.FRAMINGS) == (
        CATEGORIES,
        GENDERS,
        VIEWS,
        FRAMINGS,
    )
    assert FACETS == ("category", "gender", "view", "framing")


BUILD_TOLERANCE = 1e-3  # on the canvas (0 to 1): the build's least squares differ in the 4th decimal by BLAS kernel


def test_build_is_deterministic_and_the_committed_file_is_current(tmp_path):
    # A fresh process, so nothing cached in this one can hide a difference.
    out = tmp_path / "templates.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, whichever one is installed
    build = [sys.executable, str(ROOT / "poses" / "build.py"), "--out", str(out)]
    subprocess.run(build, check=True, cwd=tmp_path, env=env)
    committed = ROOT / "avatargen" / "poses" / "templates.parquet"
    assert_same_library(pq.read_table(out), pq.read_table(committed))
    assert committed.stat().st_size < 1_000_000
    assert pq.read_schema(committed).metadata[b"avatargen.poses.format"] == b"3"


def assert_same_library(built, committed) -> None:
    """The schema (metadata included), ids and every non-float column exactly; float columns within the tolerance."""
    import numpy as np

    hint = "run `python poses/build.py` and commit"
    assert built.schema.equals(committed.schema, check_metadata=True), hint
    for name in committed.column_names:
        ours, theirs = built.column(name).to_pylist(), committed.column(name).to_pylist()
        if not _holds_floats(committed.schema.field(name).type):
            assert ours == theirs, f"{name}: {hint}"
            continue
        (our_shape, our_values), (their_shape, their_values) = _split_floats(ours), _split_floats(theirs)
        assert our_shape == their_shape, f"{name} (which points are there): {hint}"
        worst = float(np.max(np.abs(np.subtract(our_values, their_values)), initial=0.0))
        assert worst <= BUILD_TOLERANCE, f"{name} differs by up to {worst}: {hint}"


def _holds_floats(kind) -> bool:
    while hasattr(kind, "value_type"):  # lists of lists ... of values
        kind = kind.value_type
    return pa.types.is_floating(kind)


def _split_floats(value):
    # the nesting with each float replaced by 0.0 (None, a template without hands, stays None), and the floats
    floats = []

    def shape(v):
        if isinstance(v, list):
            return [shape(item) for item in v]
        if isinstance(v, float):
            floats.append(v)
            return 0.0
        return v

    return shape(value), floats


def test_mirror_is_a_render_time_flip(library):
    t = library.get("portrait-chin-hand-f-front-half")  # the right hand on the chin, with its 21 hand points
    m = t.mirrored()
    assert (m.id, m.name, m.view) == (t.id, t.name, "front") and m.mirrored() == t
    assert library.get("stand-hands-hips-f-3ql-half").mirrored().view == "three-quarter-right"
    for name, (x, y, v) in zip(KEYPOINT_NAMES, t.keypoints, strict=True):
        other = name.replace("r_", "l_", 1) if name[:2] == "r_" else name.replace("l_", "r_", 1)
        mx, my, mv = m.keypoints[K[other]]
        assert (mv, my) == (v, y) and mx == pytest.approx(1 - x if v else 0.0, abs=1e-4)
    assert m.hands[1] == tuple((round(1 - x, 4), y, v) for x, y, v in t.hands[0])  # now the left hand
    assert not any(v for _, _, v in m.hands[0])
    assert list(render_openpose(t, 128, 192, mirror=True).getdata()) == list(render_openpose(m, 128, 192).getdata())


def test_hands_are_drawn_by_controlnet_aux(library):
    import numpy as np

    t = library.get("portrait-chin-hand-f-front-half")
    with_hands = np.asarray(render_openpose(t, 512, 768)).astype(int)
    without = np.asarray(render_openpose(dataclasses.replace(t, hands=None), 512, 768)).astype(int)
    ys, xs = np.nonzero((with_hands != without).any(axis=2))
    assert len(xs) > 300  # fingers: 20 coloured bones and 21 blue dots
    wrist = t.keypoints[K["r_wrist"]]
    canvas_w = 512
    assert abs(np.median(xs) - wrist[0] * canvas_w) < 60 and abs(np.median(ys) - wrist[1] * 768) < 60
    assert (with_hands == (0, 0, 255)).all(axis=2).sum() > 50  # controlnet-aux's blue hand keypoints


def test_search_ranks_whole_words_with_stems_and_synonyms(library):
    def first(query: str, **filters):
        found, total = library.query(search=query, limit=5, **filters)
        assert total > 0, query
        return found

    hair = first("hair")
    assert all("chair" not in t.name.lower() and "hair" in t.name.lower() for t in hair)
    assert not any("chair" in t.name.lower() for t in library.query(search="hair", limit=1000)[0])
    up = first("arms up")[0]
    assert all(up.keypoints[K[w]][1] < up.keypoints[K["neck"]][1] for w in ("r_wrist", "l_wrist")), up.id
    assert not any("approach" in (t.name + " ".join(t.tags)).lower() for t in library.query(search="chin")[0])
    assert library.query(search="jump", limit=1000) == library.query(search="jumping", limit=1000)
    assert library.query(search="sit", limit=1000)[1] == library.query(search="seated", limit=1000)[1]
    assert library.query(search="phone", limit=1000) == library.query(search="mobile", limit=1000)
    lying = first("lying")
    assert all(t.category == "lying" for t in lying)
    assert library.query(search="reclining", limit=1000)[1] == library.query(search="lying", limit=1000)[1]
    assert all("bench" in t.name.lower() for t in first("bench"))
    assert all("twirl" in t.name.lower() for t in first("twirl"))
    assert all("laugh" in t.name.lower() for t in first("laughing"))
    # The words of a name count more than tags, and tags more than facets; repeated words count once.
    assert first("hands on hips")[0].name.startswith("Hands on hips")
    assert library.query(search="wall wall WALL", limit=1000) == library.query(search="wall", limit=1000)
    side = first("profile")
    assert all(t.view in ("side-left", "side-right") or "profile" in t.name.lower() for t in side)
    first_of_three = first("knees up arms")[0]
    assert all(w in (first_of_three.name + " ".join(first_of_three.tags)).lower() for w in ("knee", "up", "arm"))
    assert library.query(search="the a of") == library.query()


def test_grouped_query_lists_each_base_pose_once(library):
    groups, total = library.query(group=True, limit=1000)
    assert total == len(groups) == len(library.base_poses()) >= 150
    assert len({t.base_pose for t in groups}) == total
    sitting, _ = library.query(category="sitting", group=True, limit=1000)
    assert {t.base_pose for t in sitting} == {t.base_pose for t in library if t.category == "sitting"}
    record = library.grouped_record(library.get("stand-hands-hips-f-3ql-half"))
    shots = library.variants("stand-hands-hips")
    assert record["basePose"] == "stand-hands-hips" and len(record["variants"]) == len(shots) > 3
    assert set(record["views"]) == {t.view for t in shots} and set(record["framings"]) == {t.framing for t in shots}
    mine = dataclasses.replace(shots[0], id="custom-3", base_pose="", owner=1)
    assert library.query(include=[mine], group=True, limit=1)[0] == [mine]
    assert library.grouped_record(mine)["variants"] == [
        {"id": "custom-3", "name": mine.name, "view": mine.view, "framing": mine.framing}
    ]


def test_contact_sheets_show_every_category(library):
    """One sheet per category, kept under tmp/artifacts/pose-sheets/ (ignored by git) for a person to look at."""
    from PIL import Image

    from avatargen.poses.render import contact_sheet

    folder = ROOT / "tmp" / "artifacts" / "pose-sheets"
    folder.mkdir(parents=True, exist_ok=True)
    for category in CATEGORIES:
        templates, _ = library.query(category=category, group=True, limit=1000)
        path = folder / f"{category}.png"
        contact_sheet(templates, columns=8).save(path)
        with Image.open(path) as sheet:
            assert sheet.width == 8 * 150 and sheet.height >= 255 * ((len(templates) + 7) // 8)


def test_importing_the_module_loads_nothing_heavy():
    code = (
        "import sys, avatargen.poses.library, avatargen.poses.plausibility, avatargen.poses.extract; "
        "import avatargen.poses.body, avatargen.poses.template, avatargen.poses.search, avatargen.poses.framing; "
        "import avatargen.poses.render; "
        "heavy = {'torch', 'datasets', 'controlnet_aux', 'PIL', 'numpy', 'mediapipe'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
