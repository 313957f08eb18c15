"""Owner-only downloads under each sign-in mode: the owner gets their files, another signed-in person and a
signed-out visitor get the 404 of a file that does not exist. The launched app, raw HTTP, the model faked."""

from datetime import UTC, datetime

import gradio.oauth
import httpx
import huggingface_hub
import pytest
from gradio_client import Client
from PIL import Image

from avatargen.db.tables import Status
from avatargen.settings import Settings
from tests.conftest import FakeEngine, generate_one
from tests.helpers import serve, wait_for
from tests.test_space import fake_whoami, oauth_session

PASSWORD = "a-long-password"


def finished(services, user, **options):
    """A completed generation of `user` (the served app's worker makes it)."""
    pose_id = services.poses.library.query(limit=1)[0][0].id
    row = generate_one(services, user, pose_id=pose_id, **options)
    wait_for(lambda: services.generations.get(user, row.id).status == Status.completed, what="the generation")
    return services.generations.get(user, row.id)


def pose_slug(services, row) -> str:
    """The pose's name as a file name: "Standing relaxed, front" → "standing-relaxed-front"."""
    name = services.poses.library.get(row.pose_template_id).name
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def assert_owner_only(url, row, owner: httpx.Client, other: httpx.Client, services) -> None:
    link = f"{url}files/{row.id}/output.jpg"
    answer = owner.get(link)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert answer.headers["content-disposition"] == f'inline; filename="{pose_slug(services, row)}-{day}.jpg"'
    assert "private" in answer.headers["cache-control"]
    saved = owner.get(link, params={"download": "1"}).headers["content-disposition"]
    assert saved.startswith("attachment;")
    assert owner.get(f"{url}files/{row.id}/photo.jpg").headers["content-disposition"].endswith(f'photo-{day}.jpg"')
    assert owner.get(f"{url}files/{row.id}/photo-2.jpg").status_code == 404  # it was made from one photo
    missing = owner.get(f"{url}files/{'f' * 32}/output.jpg")
    assert missing.status_code == 404
    for stranger in (other, httpx.Client(timeout=30)):
        for part in ("output", "photo"):
            refused = stranger.get(f"{url}files/{row.id}/{part}.jpg")
            assert (refused.status_code, refused.content) == (404, missing.content)


def test_password_sessions_download_only_their_own_files(tmp_path, photo):
    settings = Settings(data_dir=tmp_path / "data", auth="password", engine="tiny")
    with serve(settings, engine=FakeEngine()) as served:
        services = served.runtime.services
        for name in ("alice", "bob"):
            services.users.add(name, password=PASSWORD)
        row = finished(services, services.users.user_for("alice"), photo=photo)
        sessions = {}
        for name in ("alice", "bob"):
            sessions[name] = httpx.Client(base_url=served.url, timeout=30)
            assert sessions[name].post("login", data={"username": name, "password": PASSWORD}).status_code == 200
        assert_owner_only(served.url, row, sessions["alice"], sessions["bob"], services)

        alice = Client(served.url, auth=("alice", PASSWORD), verbose=False)  # scripts get the same file
        with Image.open(alice.predict(row.id, api_name="/download_output")) as image:
            assert image.size == (row.width, row.height)
        sessions["alice"].get("logout")
        assert sessions["alice"].get(f"{served.url}files/{row.id}/output.jpg").status_code == 404  # signed out


@pytest.fixture
def hub(monkeypatch):
    """Gradio's mocked OAuth signs people in as "ada"; tokens are checked against a fake Hub."""
    monkeypatch.setattr(gradio.oauth, "get_token", lambda: "hf_local_machine")
    monkeypatch.setattr(
        gradio.oauth, "whoami", lambda *a, **k: {"type": "user", "name": "ada", "fullname": "Ada", "avatarUrl": ""}
    )
    monkeypatch.setattr(huggingface_hub, "whoami", fake_whoami)


def test_hugging_face_sessions_and_tokens_download_only_their_own_files(tmp_path, photo, hub):
    settings = Settings(data_dir=tmp_path / "data", auth="hf", engine="tiny")
    with serve(settings, engine=FakeEngine()) as served:
        services, url = served.runtime.services, served.url
        ada = httpx.Client(headers=oauth_session(url), timeout=30)  # the OAuth session, as a browser holds it
        bob = httpx.Client(headers={"Authorization": "Bearer hf_token_of_bob"}, timeout=30)  # a script's token
        ada_row = finished(services, services.users.user_for("hf:ada"), photo=photo)
        bob_row = finished(services, services.users.user_for("hf:bob-hf"), photo=photo)
        assert_owner_only(url, ada_row, ada, bob, services)
        assert_owner_only(url, bob_row, bob, ada, services)
        forged = httpx.Client(headers={"X-HF-Authorization": "Bearer hf_token_of_nobody"}, timeout=30)
        assert forged.get(f"{url}files/{bob_row.id}/output.jpg").status_code == 404

        script = Client(url, token="hf_token_of_bob", verbose=False)
        with Image.open(script.predict(bob_row.id, api_name="/download_output")) as image:
            assert image.size == (bob_row.width, bob_row.height)


def test_without_sign_in_the_local_person_downloads_their_files(tmp_path, photo):
    settings = Settings(data_dir=tmp_path / "data", auth="none", engine="tiny")
    with serve(settings, engine=FakeEngine()) as served:
        services, url = served.runtime.services, served.url
        row = finished(services, services.users.user_for(None), photo=photo)
        local = httpx.Client(timeout=30)
        assert local.get(f"{url}files/{row.id}/output.jpg").status_code == 200
        assert (
            local.get(f"{url}files/{row.id}/output.jpg", params={"download": "true"})
            .headers["content-disposition"]
            .startswith("attachment;")
        )
        assert local.get(f"{url}files/{'0' * 32}/output.jpg").status_code == 404
        services.generations.delete(services.users.user_for(None), row.id)
        assert local.get(f"{url}files/{row.id}/output.jpg").status_code == 404  # deleted: gone for good
