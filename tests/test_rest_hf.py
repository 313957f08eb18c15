"""The REST API under `AVATARGEN_AUTH=hf` (a public Space): a Hugging Face token is a bearer too, and so is an API key
of an hf account. Offline, as tests/test_space.py does it: only the Hub look-ups are replaced."""

import gradio.oauth
import huggingface_hub
import pytest

from avatargen.settings import Settings
from tests.conftest import FakeEngine
from tests.helpers import serve
from tests.test_rest import Rest

HUB_USERS = {"hf_token_of_bob": "bob-hf", "hf_token_of_eve": "eve-hf"}


def fake_whoami(token=None, **_):
    if token not in HUB_USERS:
        raise huggingface_hub.errors.HfHubHTTPError("401 Unauthorized")
    return {"type": "user", "name": HUB_USERS[token]}


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(gradio.oauth, "get_token", lambda: "hf_local_machine")  # Gradio's local OAuth stand-in
    patch.setattr(
        gradio.oauth, "whoami", lambda *a, **k: {"type": "user", "name": "ada", "fullname": "Ada", "avatarUrl": ""}
    )
    patch.setattr(huggingface_hub, "whoami", fake_whoami)
    settings = Settings(data_dir=tmp_path_factory.mktemp("rest-hf") / "data", auth="hf", engine="tiny")
    with serve(settings, engine=FakeEngine()) as launched:
        yield launched
    patch.undo()


def test_a_hugging_face_token_is_a_bearer_for_the_seed_routes(space, photo):
    bob, eve = Rest(space.url, "hf_token_of_bob"), Rest(space.url, "hf_token_of_eve")
    pose_id = bob.http.get("/poses", params={"limit": 1}).json()["data"][0]["id"]
    started = bob.generate(photo, pose_id, quality="sd", priority="false")
    assert started.status_code == 201, started.text
    record = started.json()["data"]
    assert bob.done(record["id"])["status"] == "completed"
    assert bob.http.get("/generations").json()["meta"] == {"total": 1, "limit": 20, "offset": 0, "hasMore": False}
    assert bob.http.get("/stats").json()["data"]["completedGenerations"] == 1
    assert bob.balance() == 95  # the starting credits of a first visit, less one SD generation

    owner = space.runtime.services.users.user_for("hf:bob-hf")
    assert record["userId"] == owner.id
    assert eve.http.get(f"/generations/{record['id']}").status_code == 404  # another Hugging Face user
    assert eve.http.get("/generations").json()["meta"]["total"] == 0

    _, key = space.runtime.services.api_keys.create(owner, "script")
    assert Rest(space.url, key).http.get(f"/generations/{record['id']}").json()["data"]["id"] == record["id"]


def test_unknown_hugging_face_tokens_and_no_token_are_401(space):
    stranger = Rest(space.url, "hf_token_of_nobody").http.get("/stats")
    assert stranger.status_code == 401
    assert stranger.json() == {"message": "This Hugging Face token is not valid, or has expired."}
    nobody = Rest(space.url, None).http.get("/generations")
    assert nobody.status_code == 401
    assert nobody.json()["message"] == (
        "Send an API key or a Hugging Face token as 'Authorization: Bearer <key>' to see your generations."
    )
    assert Rest(space.url, None).http.get("/styles").status_code == 200  # signed-out visitors still browse
