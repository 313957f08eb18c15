"""The app under hostile use, launched with password auth: throttled sign-in, strict parameters, bounded inputs,
uploads refused at the door, owner-only downloads, and a cap on saved poses. Raw HTTP (httpx) and gradio_client."""

import json
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from avatargen.errors import UserError
from avatargen.schedule import Schedule
from avatargen.settings import Settings
from avatargen.web.uploads import UploadPurge
from tests.helpers import Clock, refused, serve, wait_until_done


@pytest.fixture(scope="module")
def clock() -> Clock:
    """The served app's clock for purging uploads."""
    return Clock()


@pytest.fixture(scope="module")
def served(tmp_path_factory, clock):
    uploads = tmp_path_factory.mktemp("gradio-uploads")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hardened") / "data",
        auth="password",
        engine="tiny",
        max_upload_bytes=2_000_000,
        max_custom_poses=1,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(uploads))
        with serve(settings, schedule=Schedule(clock=clock)) as launched:
            for name in ("alice", "bob", "carol"):
                launched.runtime.services.users.add(name, password=f"{name}-password")
            yield launched.url, launched.runtime, uploads, launched.api


def client(url: str, name: str) -> Client:
    return Client(url, auth=(name, f"{name}-password"), verbose=False)


def signed_in(url: str, name: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    assert http.post("login", data={"username": name, "password": f"{name}-password"}).status_code == 200
    return http


def raw_call(http: httpx.Client, endpoint: str, data: list) -> tuple[str, dict | None]:
    """Call an endpoint as a plain HTTP client does; returns the final SSE event and its data."""
    event_id = http.post(f"gradio_api/call/{endpoint}", json={"data": data}).json()["event_id"]
    event, payload = None, None
    for line in http.get(f"gradio_api/call/{endpoint}/{event_id}").text.splitlines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            payload = json.loads(line.removeprefix("data: "))
    return event, payload


def test_wrong_passwords_are_throttled_and_the_owner_still_gets_in(served):
    url, _, _, _ = served
    attacker = httpx.Client(base_url=url, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=30)
    answers = [attacker.post("login", data={"username": "carol", "password": "guess"}) for _ in range(8)]
    assert [a.status_code for a in answers[:5]] == [400] * 5
    assert all(a.status_code == 429 for a in answers[5:])
    assert answers[5].json()["detail"] == "Too many sign-in attempts; try again in 2 s."
    assert answers[5].headers["Retry-After"] == "2"
    right = attacker.post("login", data={"username": "carol", "password": "carol-password"})
    assert right.status_code == 429  # from the locked address, not even checked

    owner = httpx.Client(base_url=url, headers={"X-Forwarded-For": "198.51.100.20"}, timeout=30)
    assert owner.post("login", data={"username": "carol", "password": "carol-password"}).status_code == 200
    assert client(url, "carol").predict(api_name="/credits")["data"]["balance"] == 100


def test_search_text_is_bounded(served):
    url, _, _, _ = served
    alice = client(url, "alice")
    message = refused(lambda: alice.predict(search="a " * 500_000, api_name="/poses"))  # how fast: bench/refusals.py
    assert message == "search must be at most 100 characters; this one has 999999."
    assert "search must be text, not 12" in refused(lambda: alice.predict(search=12, api_name="/poses"))
    assert alice.predict(search="hands hands hands hips", limit=3, api_name="/poses")["meta"]["total"] >= 1


MALFORMED = [
    ("generations", ["abc", 0], "limit must be a whole number from 1 to 100, not 'abc'"),
    ("generations", [20, "abc"], "offset must be a whole number"),
    ("generations", ["inf", 0], "limit must be a whole number"),
    ("generations", [[], 0], "limit must be a whole number"),
    ("generations", [20.5, 0], "not 20.5"),
    ("generations", [20, 2**63], "offset must be a whole number from 0 to 10000000, not 9223372036854775808"),
    ("generation", [{"id": 1}], "id must be an id"),
    ("poses", [None, None, None, None, 12, 50, 0, False, False], "search must be text, not 12"),
    ("poses", ["no-such-category", None, None, None, None, 50, 0, False, False], "category must be one of"),
    ("poses", [None, None, None, None, None, True, 0, False, False], "limit must be a whole number"),
    ("poses", [None, None, None, None, None, 50, 0, "yes", False], "group must be true or false, not 'yes'"),
    ("poses", [None, None, None, None, None, 50, 0, False, 1], "mirror must be true or false, not 1"),
    ("price", [["sd"], False, 1], "quality must be one of: sd, hd; not ['sd']"),
    ("price", ["sd", "yes", 1], "priority must be true or false, not 'yes'"),
    ("price", ["sd", [1], 1], "priority must be true or false, not [1]"),
    ("price", ["sd", False, 3], "candidates must be one of: 1, 2, 4; not 3"),
    ("price", ["sd", False, 2.5], "candidates must be one of: 1, 2, 4; not 2.5"),
    ("delete_pose", [None], "id is required"),
]


@pytest.mark.parametrize(("endpoint", "data", "message"), MALFORMED, ids=lambda v: str(v)[:30])
def test_malformed_parameters_get_a_message_naming_them(served, endpoint, data, message):
    url, _, _, _ = served
    event, payload = raw_call(signed_in(url, "bob"), endpoint, data)
    assert event == "error"
    assert payload is not None and message in payload["error"], payload


def test_malformed_generate_parameters_are_refused_and_charge_nothing(served, photo):
    url, _, _, _ = served
    bob = client(url, "bob")
    pose_id = bob.predict(limit=1, api_name="/poses")["data"][0]["id"]
    upload = handle_file(str(photo))

    def generate(**changes):
        options = {"pose_id": pose_id, "quality": "sd", "priority": False, "style": "realistic", "seed": None}
        options |= {"more_photos": None, "mirror": False, "candidates": 1}
        return bob.predict(upload, **(options | changes), api_name="/generate")

    cases = {
        "priority": ["yes", [1], 1, "1"],
        "seed": ["abc", "NaN", "Infinity", [1], 1.5, True, -1, 2**32],
        "quality": [["sd"], "SD"],  # None is "not given": the default, sd
        "style": [3, "no-such-style"],
        "pose_id": [None, ["x"], "../../etc"],
        "candidates": [0, 3, 8, "four", True, [2]],
    }
    for parameter, values in cases.items():
        for value in values:
            message = refused(lambda parameter=parameter, value=value: generate(**{parameter: value}))
            assert message.startswith(parameter), (parameter, value, message)
    credits = bob.predict(api_name="/credits")["data"]
    assert credits["balance"] == 100 and bob.predict(api_name="/generations")["meta"]["total"] == 0

    record = generate(priority="false", seed=7.0)["data"]  # what form-style clients send: no charge for priority
    assert (record["priority"], record["creditUsed"], record["seed"]) == (False, 5, 7)
    wait_until_done(bob, record["id"])


def test_oversized_uploads_are_refused_at_the_door(served, tmp_path):
    url, _, uploads, _ = served
    http = signed_in(url, "alice")
    answer = http.post("gradio_api/upload", files={"files": ("huge.jpg", b"\xff" * 2_500_000, "image/jpeg")})
    assert answer.status_code == 413
    assert not list(uploads.rglob("huge.jpg"))


def test_downloads_are_owner_only_links_never_copies_and_uploads_are_purged(served, clock, photo):
    url, _, uploads, api = served
    alice = client(url, "alice")
    pose_id = alice.predict(limit=1, api_name="/poses")["data"][0]["id"]
    record = alice.predict(handle_file(str(photo)), pose_id, "sd", False, "studio", 3, api_name="/generate")["data"]
    assert list(uploads.rglob(Path(photo).name))  # kept a while: another call may still be sending the same bytes
    clock.now += api.uploads.delay
    api.uploads.schedule.run_due()
    assert not list(uploads.rglob(Path(photo).name))  # Gradio's copy of the photo (EXIF and all) is gone
    assert wait_until_done(alice, record["id"])["status"] == "completed"

    cached = {p for p in uploads.rglob("*") if p.is_file()}
    first = alice.predict(record["id"], api_name="/download_output")
    second = alice.predict(record["id"], api_name="/download_output")
    assert Path(first).read_bytes() == Path(second).read_bytes()
    assert {p for p in uploads.rglob("*") if p.is_file()} == cached  # nothing lands in Gradio's cache

    event, answer = raw_call(signed_in(url, "alice"), "download_output", [record["id"], 0])
    link = answer[0]["url"]
    assert event == "complete" and link == f"{url}files/{record['id']}/output.jpg"
    assert httpx.get(link).status_code == 404  # the link alone is worth nothing
    assert signed_in(url, "bob").get(link).status_code == 404
    assert signed_in(url, "alice").get(link).content == Path(first).read_bytes()
    bob = client(url, "bob")
    assert "Generation not found" in refused(lambda: bob.predict(record["id"], api_name="/download_output"))


def test_saved_poses_are_capped_per_person_and_names_must_be_text(served, photo):
    url, runtime, _, _ = served
    carol = client(url, "carol")
    assert "name must be text, not {'a': 1}" in refused(
        lambda: carol.predict(handle_file(str(photo)), {"a": 1}, api_name="/extract_pose")
    )
    saved = carol.predict(handle_file(str(photo)), "First", api_name="/extract_pose")["data"]
    message = refused(lambda: carol.predict(handle_file(str(photo)), "Second", api_name="/extract_pose"))
    assert message == "You have 1 saved poses, the most one person can keep; delete one to save another."
    carol.predict(saved["id"], api_name="/delete_pose")
    with pytest.raises(UserError, match="the most one person can keep"):  # the service checks it too
        user = runtime.services.users.user_for("carol")
        runtime.services.poses.extract(user, photo=photo)
        runtime.services.poses.extract(user, photo=photo)


def test_a_shared_upload_is_purged_only_after_its_last_use(tmp_path, monkeypatch):
    """Gradio stores identical bytes once: two calls with the same photo share one cached file."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    shared = tmp_path / "0123abcd" / "me.jpg"
    shared.parent.mkdir()
    shared.write_bytes(b"photo")
    clock = Clock()
    schedule = Schedule(clock=clock)
    purge = UploadPurge(schedule, delay=60)

    def later(seconds: float) -> None:
        clock.now += seconds
        schedule.run_due()

    purge.hold(str(shared))  # call one
    purge.hold(str(shared))  # call two, same bytes
    purge.release(str(shared))
    later(120)
    assert shared.exists()  # call two still uses it
    purge.release(str(shared))
    later(59)
    purge.hold(str(shared))  # a third call starts before the delay is over
    later(120)
    assert shared.exists()
    purge.release(str(shared))
    later(59)
    assert shared.exists()
    later(1)
    assert not shared.exists() and not shared.parent.exists()
    purge.release(str(tmp_path.parent / "elsewhere.jpg"))  # outside Gradio's cache: never touched
    schedule.close()
