"""End to end: the real app (password auth, tiny real pipeline) driven by two users through gradio_client."""

import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

import app
from avatargen.settings import Settings
from tests.helpers import refused, serve, wait_until_done

ROOT = Path(__file__).parents[1]


def cli(settings: Settings, *args: str, stdin: str | None = None) -> str:
    env = {"AVATARGEN_DATA_DIR": str(settings.data_dir), "AVATARGEN_AUTH": "password", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "avatargen", *args],
        cwd=ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        input=stdin,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("app") / "data", auth="password", engine="tiny")
    settings.data_dir.mkdir(parents=True)
    assert "created user 'alice'" in cli(settings, "user", "add", "alice", "--password", "alice-pw")
    cli(settings, "user", "add", "bob", "--credits", "3", stdin="bob-password\n")  # asked for, not an argument
    assert "balance 6 credits" in cli(settings, "credits", "grant", "bob", "3")
    with serve(settings) as launched:
        yield launched.settings, launched.url, launched.runtime


def test_two_users_generate_and_keep_their_work_to_themselves(served, photo):
    settings, url, _ = served
    alice = Client(url, auth=("alice", "alice-pw"), verbose=False)
    bob = Client(url, auth=("bob", "bob-password"), verbose=False)

    poses = alice.predict(category="standing", limit=5, api_name="/poses")
    assert poses["meta"]["total"] >= 1 and all(p["category"] == "standing" for p in poses["data"])
    pose_id = poses["data"][0]["id"]

    started = alice.predict(handle_file(str(photo)), pose_id, "sd", False, "anime", 1234, api_name="/generate")
    assert started["message"] == "Avatar generation started"
    generation = started["data"]
    assert generation["status"] == "pending" and generation["creditUsed"] == 5

    done = wait_until_done(alice, generation["id"])
    assert done["status"] == "completed", done["errorMessage"]
    assert done["startedAt"] <= done["completedAt"]
    with Image.open(alice.predict(generation["id"], api_name="/download_output")) as image:
        assert image.size == (512, 768)
    credits = alice.predict(api_name="/credits")["data"]
    assert credits["balance"] == 95
    assert [(t["reason"], t["delta"]) for t in credits["transactions"]] == [("generation", -5), ("grant", 100)]
    listed = alice.predict(limit=20, offset=0, api_name="/generations")
    assert listed["meta"] == {"total": 1, "limit": 20, "offset": 0, "hasMore": False}
    stats = alice.predict(api_name="/stats")["data"]
    assert stats["completedGenerations"] == 1 and stats["totalCreditsUsed"] == 5

    # Bob cannot see, download or delete it: the same answer as for an id that does not exist.
    missing = refused(lambda: bob.predict("f" * 32, api_name="/generation"))
    assert "Generation not found" in missing
    for endpoint in ("/generation", "/download_output", "/delete_generation", "/cancel_generation"):
        assert refused(lambda endpoint=endpoint: bob.predict(generation["id"], api_name=endpoint)) == missing
    assert bob.predict(api_name="/generations")["meta"]["total"] == 0

    finished = refused(lambda: alice.predict(generation["id"], api_name="/cancel_generation"))
    assert "can no longer be cancelled" in finished  # only a job still waiting can be

    files = [settings.data_dir / done["inputImageUrl"], settings.data_dir / done["outputImageUrl"]]
    assert all(f.exists() for f in files)
    assert alice.predict(generation["id"], api_name="/delete_generation") == {
        "message": "Generation deleted successfully"
    }
    assert not any(f.exists() for f in files)
    assert "Generation not found" in refused(lambda: alice.predict(generation["id"], api_name="/generation"))


def test_user_errors_reach_the_client_and_charge_nothing(served, photo, tmp_path):
    _, url, _ = served
    bob = Client(url, auth=("bob", "bob-password"), verbose=False)
    pose_id = bob.predict(limit=1, api_name="/poses")["data"][0]["id"]
    balance = bob.predict(api_name="/credits")["data"]["balance"]

    text = tmp_path / "selfie.png"
    text.write_text("not an image at all")
    assert "not a photo we can read" in refused(
        lambda: bob.predict(handle_file(str(text)), pose_id, "sd", False, "realistic", None, api_name="/generate")
    )
    assert "Unknown pose" in refused(
        lambda: bob.predict(handle_file(str(photo)), "nope", "sd", False, "realistic", None, api_name="/generate")
    )
    assert f"costs 10 credits and you have {balance}" in refused(
        lambda: bob.predict(handle_file(str(photo)), pose_id, "hd", True, "realistic", None, api_name="/generate")
    )
    assert bob.predict(api_name="/credits")["data"]["balance"] == balance
    assert bob.predict(api_name="/generations")["meta"]["total"] == 0


def test_strangers_and_wrong_passwords_are_kept_out(served):
    _, url, _ = served
    with pytest.raises(Exception, match="(?i)invalid|credentials|login|unauthor"):
        Client(url, auth=("alice", "wrong"), verbose=False)
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do; what matters is no access
        Client(url, verbose=False).predict(api_name="/credits")


def test_page_serves_with_the_placeholder_banner_once_the_engine_is_loaded(served):
    settings, url, runtime = served
    runtime.engine.get()
    assert app.engine_notice(runtime).startswith("⚠️ **Placeholder mode.**")


def test_auth_none_refuses_to_serve_beyond_loopback():
    with pytest.raises(ValueError, match="loopback"):
        Settings(auth="none", host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        Settings(auth="none", share=True)
    assert Settings(auth="password", host="0.0.0.0").host == "0.0.0.0"


def test_custom_pose_from_a_reference_photo_stays_private(served, photo):
    _, url, _ = served
    alice = Client(url, auth=("alice", "alice-pw"), verbose=False)
    bob = Client(url, auth=("bob", "bob-password"), verbose=False)

    saved = alice.predict(handle_file(str(photo)), "Mission portrait", api_name="/extract_pose")
    assert saved["message"] == "Pose saved to your private poses"
    pose = saved["data"]
    assert pose["private"] is True and pose["name"] == "Mission portrait" and len(pose["keypoints"]) == 18

    first = alice.predict(limit=1, api_name="/poses")
    assert first["data"][0]["id"] == pose["id"]
    assert pose["id"] not in [p["id"] for p in bob.predict(search="mission portrait", api_name="/poses")["data"]]
    assert bob.predict(limit=1, api_name="/poses")["meta"]["total"] == first["meta"]["total"] - 1
    assert "Unknown pose" in refused(
        lambda: bob.predict(handle_file(str(photo)), pose["id"], "sd", False, "realistic", None, api_name="/generate")
    )
    assert "Pose not found" in refused(lambda: bob.predict(pose["id"], api_name="/delete_pose"))
    assert alice.predict(pose["id"], api_name="/delete_pose") == {"message": "Pose deleted successfully"}
