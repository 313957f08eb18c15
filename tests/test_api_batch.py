"""/generate_batch, /jobs and /breakdown through gradio_client against the launched app (model faked)."""

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from avatargen.settings import Settings
from tests.conftest import FakeEngine
from tests.helpers import serve, wait_for

PASSWORD = "a-long-password"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("api") / "data", engine="tiny", auth="password", batch_size=1)
    engine = FakeEngine(gated=True)
    with serve(settings, engine=engine) as launched:
        launched.runtime.services.users.add("ann", password=PASSWORD)
        launched.runtime.services.users.add("ben", password=PASSWORD, credits=12)
        yield launched.url, launched.runtime, engine
        engine.gate.set()


def client(url: str, name: str) -> Client:
    return Client(url, auth=(name, PASSWORD), verbose=False)


def test_a_batch_is_charged_whole_listed_as_jobs_and_private(served, photo):
    url, runtime, engine = served
    ann, ben = client(url, "ann"), client(url, "ben")
    poses = [t.id for t in runtime.services.poses.library.query(limit=9)[0]]

    started = ann.predict(handle_file(str(photo)), poses[:3], "sd", False, "anime", 11, api_name="/generate_batch")
    assert started["message"] == "Avatar generations started"
    assert [g["poseTemplateId"] for g in started["data"]] == poses[:3]
    assert {g["seed"] for g in started["data"]} == {11}
    assert ann.predict(api_name="/credits")["data"]["balance"] == 85

    jobs = ann.predict(api_name="/jobs")["data"]
    assert [job["id"] for job in jobs] == [g["id"] for g in started["data"]]
    assert [job["queuePosition"] for job in jobs] == [None, 1, 2]  # one running, two waiting behind it
    assert ben.predict(api_name="/jobs")["data"] == []

    with pytest.raises(AppError, match="These 3 generations cost 15 credits in all and you have 12"):
        ben.predict(handle_file(str(photo)), poses[:3], "sd", False, "realistic", None, api_name="/generate_batch")
    with pytest.raises(AppError, match="pose_ids may hold at most 8 ids"):
        ben.predict(handle_file(str(photo)), poses, "sd", False, "realistic", None, api_name="/generate_batch")
    with pytest.raises(AppError, match="pose_ids must be a list"):
        ben.predict(handle_file(str(photo)), "not-a-list", "sd", False, "realistic", None, api_name="/generate_batch")
    assert ben.predict(api_name="/credits")["data"]["balance"] == 12

    engine.gate.set()
    wait_for(lambda: ann.predict(api_name="/jobs")["data"] == [], timeout=60, what="the jobs to finish")
    breakdown = ann.predict(api_name="/breakdown")["data"]
    assert breakdown["style"] == [{"style": "anime", "generations": 3, "credits": 15}]
    assert [row["generations"] for row in breakdown["day"]] == [3]
