"""The pose book through the API: one entry per base pose with its views and framings, and mirroring at render
time (a flag on /poses and on /generate, not published copies)."""

import numpy as np
import pytest

from avatargen.errors import UserError
from avatargen.poses.library import render_openpose
from avatargen.web.api import Api


@pytest.fixture
def api(runtime) -> Api:
    return Api(runtime.services, thumbnails=runtime.settings.cache_dir / "thumbnails")


def test_grouped_listing_gives_each_base_pose_once_with_what_it_offers(api, services):
    everything = api.poses(limit=200, offset=0)["meta"]["total"]
    grouped = api.poses(limit=200, group=True)
    bases = {record["basePose"] for record in grouped["data"]}
    assert grouped["meta"]["total"] == len(services.poses.library.base_poses()) >= 150
    assert len(bases) == len(grouped["data"]) and grouped["meta"]["total"] < everything
    first = grouped["data"][0]
    assert first["views"] and first["framings"]
    assert {v["id"] for v in first["variants"]} == {t.id for t in services.poses.library.variants(first["basePose"])}
    assert "group must be true or false" in str(pytest.raises(UserError, api.poses, group="yes").value)


def test_mirror_flips_the_listing_and_the_generation(api, runtime, services, fake_engine, photo):
    record = api.poses(view="three-quarter-left", limit=1)["data"][0]
    mirrored = api.poses(view="three-quarter-left", limit=1, mirror=True)["data"][0]
    assert mirrored["id"] == record["id"] and mirrored["view"] == "three-quarter-right"
    assert mirrored["keypoints"][0][0] == pytest.approx(1 - record["keypoints"][0][0], abs=1e-3)

    started = api.generate(str(photo), record["id"], "sd", False, "realistic", 7, None, "true")["data"]
    assert started["mirrored"] is True
    runtime.queue.run_next()
    pose = services.poses.library.get(record["id"])
    sent = np.asarray(fake_engine.requests[-1].pose_image)
    assert np.array_equal(sent, np.asarray(render_openpose(pose, 512, 768, mirror=True)))
    assert not np.array_equal(sent, np.asarray(render_openpose(pose, 512, 768)))
