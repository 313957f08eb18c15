"""The seed's REST API beside the page, through httpx against the launched app (password mode; hf mode below):
its five routes with its shapes, a real photo uploaded as multipart, paging, privacy, keys, statuses, OpenAPI."""

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from PIL import Image
from sqlmodel import select

from avatargen.db.connect import transaction
from avatargen.db.tables import WebhookTarget
from avatargen.settings import Settings
from avatargen.web.rest import PREFIX, router
from tests.conftest import FakeEngine
from tests.helpers import serve, wait_for

MAX_UPLOAD = 2_000_000
ROOT = Path(__file__).parents[1]


class Rest:
    """One person's REST client: the API's base address and their bearer key."""

    def __init__(self, url: str, key: str | None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=url.rstrip("/") + PREFIX, headers=headers, timeout=60)

    def generate(self, photo, pose_id: str, **fields) -> httpx.Response:
        with open(photo, "rb") as image:
            return self.http.post("/generate", data={"poseTemplateId": pose_id, **fields}, files={"image": image})

    def done(self, generation_id: str) -> dict:
        def finished():
            record = self.http.get(f"/generations/{generation_id}").json()["data"]
            return record if record["status"] in ("completed", "failed") else None

        return wait_for(finished, 120, what=f"generation {generation_id}")

    def balance(self) -> int:
        return self.http.get("/credits").json()["data"]["balance"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("rest") / "data",
        auth="password",
        engine="tiny",
        max_upload_bytes=MAX_UPLOAD,
        rate_per_minute={"user": 30, "admin": 1},  # admins here stand for a tier with a tiny limit
        webhook_private_ok=True,  # a webhook URL here must resolve: this machine resolves only loopback
    )
    with serve(settings, engine=FakeEngine()) as launched:
        services = launched.runtime.services
        people = {}
        for name, credits, admin in (("alice", 100, False), ("bob", 3, False), ("carol", 100, True)):
            user = services.users.add(name, password=f"{name}-password", credits=credits, admin=admin)
            people[name] = services.api_keys.create(user, "tests")[1]
        yield launched, people


@pytest.fixture(scope="module")
def pose_id(served) -> str:
    launched, _ = served
    return launched.runtime.services.poses.library.query(limit=1)[0][0].id


def rest(served, name: str | None) -> Rest:
    launched, people = served
    return Rest(launched.url, people[name] if name else None)


def test_the_seed_routes_answer_the_seed_shapes(served, photo, pose_id):
    launched, _ = served
    alice = rest(served, "alice")
    started = alice.generate(photo, pose_id, quality="hd", priority="false")
    assert started.status_code == 201, started.text
    assert started.json()["message"] == "Avatar generation started"
    record = started.json()["data"]
    assert (record["poseTemplateId"], record["quality"], record["priority"], record["status"]) == (
        pose_id,
        "hd",
        False,
        "pending",
    )
    assert {"id", "userId", "inputImageUrl", "outputImageUrl", "errorMessage", "creditUsed", "createdAt"} <= set(record)
    assert record["creditUsed"] == 7 and alice.balance() == 93

    done = alice.done(record["id"])
    assert done["status"] == "completed" and done["outputImageUrl"] and done["completedAt"]
    gradio = Client(launched.url, auth=("alice", "alice-password"), verbose=False)
    assert gradio.predict(record["id"], api_name="/generation")["data"] == done  # the named endpoint's own record

    second = alice.generate(photo, pose_id).json()["data"]
    first_page = alice.http.get("/generations", params={"limit": 1, "offset": 0}).json()
    assert first_page["meta"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}
    assert [g["id"] for g in first_page["data"]] == [second["id"]]  # newest first
    last_page = alice.http.get("/generations?limit=20&offset=1").json()
    assert last_page["meta"] == {"total": 2, "limit": 20, "offset": 1, "hasMore": False}
    assert [g["id"] for g in last_page["data"]] == [record["id"]]
    assert alice.http.get("/generations").json()["meta"]["limit"] == 20  # the seed's defaults

    download = alice.http.get(f"/generations/{record['id']}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "image/jpeg"
    day = record["createdAt"][:10]
    assert download.headers["content-disposition"] == f'attachment; filename="avatar-{pose_id}-{day}.jpg"'
    assert Image.open(io.BytesIO(download.content)).size == (record["width"], record["height"])

    alice.done(second["id"])
    stats = alice.http.get("/stats").json()["data"]
    assert stats["totalGenerations"] == stats["completedGenerations"] == 2
    assert stats["totalCreditsUsed"] == 12 and stats["failedGenerations"] == 0

    deleted = alice.http.delete(f"/generations/{record['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"message": "Generation deleted successfully"}
    gone = alice.http.get(f"/generations/{record['id']}")
    assert gone.status_code == 404 and gone.json() == {"message": "Generation not found."}


def test_the_added_routes_answer_like_the_named_endpoints(served, photo, pose_id, monkeypatch):
    launched, _ = served
    alice = rest(served, "alice")
    gradio = Client(launched.url, auth=("alice", "alice-password"), verbose=False)
    query = {"category": "standing", "search": "hands on hips", "limit": 3}
    named = gradio.predict(**query, group=True, api_name="/poses")
    assert alice.http.get("/poses", params=query | {"group": "true"}).json() == named
    assert alice.http.get("/styles").json() == gradio.predict(api_name="/styles")
    assert alice.http.get("/price", params={"quality": "hd", "priority": "true"}).json()["data"]["credits"] == 10
    assert alice.http.get("/credits").json() == gradio.predict(api_name="/credits")
    assert alice.http.get("/stats/breakdown").json() == gradio.predict(api_name="/breakdown")
    assert rest(served, None).http.get("/poses", params={"limit": 1}).status_code == 200  # browsing needs no key

    monkeypatch.setattr(launched.api.services.generations, "enqueue", lambda *_: None)  # no worker hears of it
    waiting = alice.generate(photo, pose_id, webhookUrl="http://127.0.0.1:9/hook").json()["data"]
    jobs = alice.http.get("/jobs").json()["data"]
    assert [job["id"] for job in jobs] == [waiting["id"]] and jobs[0]["queuePosition"] >= 1
    with transaction(launched.runtime.services.database) as session:
        hook = session.exec(select(WebhookTarget).where(WebhookTarget.generation_id == waiting["id"])).one()
    assert hook.url == "http://127.0.0.1:9/hook"
    not_yet = alice.http.get(f"/generations/{waiting['id']}/download")
    assert not_yet.status_code == 409 and "no image yet (status: pending)" in not_yet.json()["message"]
    before = alice.balance()
    assert alice.http.delete(f"/generations/{waiting['id']}").status_code == 200
    assert alice.balance() == before + waiting["creditUsed"]  # a pending one is cancelled and refunded


def test_another_persons_generation_is_not_found(served, photo, pose_id):
    alice, bob = rest(served, "alice"), rest(served, "bob")
    record = alice.generate(photo, pose_id).json()["data"]
    for answer in (
        bob.http.get(f"/generations/{record['id']}"),
        bob.http.delete(f"/generations/{record['id']}"),
        bob.http.get(f"/generations/{record['id']}/download"),
        bob.http.get("/generations/no-such-id"),
    ):
        assert answer.status_code == 404 and answer.json() == {"message": "Generation not found."}
    assert bob.http.get("/generations").json()["meta"]["total"] == 0
    assert alice.http.get(f"/generations/{record['id']}").status_code == 200  # still there for her


def test_no_key_a_bad_key_and_a_revoked_key_are_401(served, caplog):
    launched, _ = served
    services = launched.runtime.services
    dave = services.users.add("dave", password="dave-password")
    record, key = services.api_keys.create(dave, "laptop")
    caplog.set_level(logging.DEBUG)
    assert Rest(launched.url, key).http.get("/stats").status_code == 200
    assert services.api_keys.of(dave)[0].last_used_at is not None

    nobody = Rest(launched.url, None).http.get("/stats")
    assert nobody.status_code == 401 and nobody.headers["www-authenticate"] == "Bearer"
    assert nobody.json() == {"message": "Send an API key as 'Authorization: Bearer <key>' to see your stats."}
    wrong = Rest(launched.url, key[:-2] + "xx").http.get("/generations")
    assert wrong.status_code == 401 and wrong.json() == {"message": "This API key is not valid."}
    services.api_keys.revoke(dave, record.id)
    revoked = Rest(launched.url, key).http.get("/generations")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]
    assert Rest(launched.url, "avk_typo").http.get("/poses").status_code == 401  # a wrong key is wrong everywhere
    assert key not in caplog.text and key[4:20] not in caplog.text


def test_a_person_lists_and_revokes_their_own_keys(served):
    launched, _ = served
    services = launched.runtime.services
    erin, frank = (services.users.add(name, password=f"{name}-password") for name in ("erin", "frank"))
    laptop, key = services.api_keys.create(erin, "laptop")
    spare, spare_key = services.api_keys.create(erin, "spare")
    frank_key = services.api_keys.create(frank, "phone")[1]
    mine = Rest(launched.url, key).http.get("/keys").json()["data"]
    assert [(k["id"], k["name"], k["prefix"]) for k in mine] == [
        (laptop.id, "laptop", key[:12]),
        (spare.id, "spare", spare_key[:12]),
    ]
    assert key not in str(mine) and mine[0]["lastUsedAt"] and mine[0]["revokedAt"] is None

    stranger = Rest(launched.url, frank_key).http.delete(f"/keys/{laptop.id}")
    assert stranger.status_code == 404  # another person's key is like a missing one
    assert Rest(launched.url, key).http.delete("/keys/first").status_code == 400
    revoked = Rest(launched.url, spare_key).http.delete(f"/keys/{laptop.id}")
    assert revoked.status_code == 200 and revoked.json() == {"message": "API key revoked"}
    assert Rest(launched.url, key).http.get("/keys").status_code == 401
    assert Rest(launched.url, spare_key).http.get("/keys").json()["data"][0]["revokedAt"]


def test_bad_values_are_400_naming_the_parameter_and_charge_nothing(served, photo, pose_id, tmp_path):
    launched, _ = served
    alice = rest(served, "alice")
    gradio = Client(launched.url, auth=("alice", "alice-password"), verbose=False)
    balance, total = alice.balance(), alice.http.get("/generations").json()["meta"]["total"]
    cases = {
        "limit": alice.http.get("/generations", params={"limit": "ten"}),
        "offset": alice.http.get("/generations", params={"offset": "-1"}),
        "quality": alice.generate(photo, pose_id, quality="ultra"),
        "priority": alice.generate(photo, pose_id, priority="maybe"),
        "seed": alice.generate(photo, pose_id, seed="1.5"),
        "poseTemplateId": alice.http.post("/generate", files={"image": open(photo, "rb")}),
        "image": alice.http.post("/generate", data={"poseTemplateId": pose_id}),
        "poseTemplateIds": alice.http.post("/generate/batch", files={"image": open(photo, "rb")}),
        "category": alice.http.get("/poses", params={"category": "flying"}),
        "webhook URL": alice.generate(photo, pose_id, webhookUrl="ftp://example.org"),
    }
    for parameter, answer in cases.items():
        assert answer.status_code == 400, (parameter, answer.text)
        assert parameter in answer.json()["message"], answer.json()
    assert cases["quality"].json()["message"] == "quality must be one of: sd, hd; not 'ultra'."
    with pytest.raises(Exception, match="limit must be a whole number from 1 to 100, not 'ten'"):
        gradio.predict("ten", 0, api_name="/generations")  # the named endpoint's very words
    text = tmp_path / "selfie.jpg"
    text.write_text("not an image at all")
    unreadable = alice.generate(text, pose_id)
    assert unreadable.status_code == 400 and "not a photo we can read" in unreadable.json()["message"]
    unknown = alice.generate(photo, "no-such-pose")
    assert unknown.status_code == 400 and "Unknown pose" in unknown.json()["message"]
    assert alice.balance() == balance and alice.http.get("/generations").json()["meta"]["total"] == total


def test_not_enough_credits_is_402_and_nothing_is_charged(served, photo, pose_id):
    bob = rest(served, "bob")
    refused = bob.generate(photo, pose_id, quality="hd", priority="true")
    assert refused.status_code == 402
    assert refused.json() == {"message": "This generation costs 10 credits and you have 3."}
    assert bob.balance() == 3 and bob.http.get("/generations").json()["meta"]["total"] == 0


def test_too_large_is_413_and_too_many_requests_429_with_retry_after(served, photo, pose_id, tmp_path):
    alice, carol = rest(served, "alice"), rest(served, "carol")
    balance = alice.balance()
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (MAX_UPLOAD + 1))
    over = alice.generate(big, pose_id)
    assert over.status_code == 413 and over.json() == {"message": "The photo in image is over 2 MB, the limit."}
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    huge = alice.http.post("/generate", content=b"x" * (5 * MAX_UPLOAD), headers=multipart)  # its length says so
    assert huge.status_code == 413 and huge.json()["message"].startswith("The request is over 9 MB")
    head = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
    streamed = alice.http.post("/generate", content=iter([head] + [b"x" * MAX_UPLOAD] * 5), headers=multipart)
    assert streamed.status_code == 413 and streamed.json() == huge.json()  # no length given: counted as it comes
    assert alice.balance() == balance

    assert carol.generate(photo, pose_id).status_code == 201
    limited = carol.generate(photo, pose_id)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert "generation requests in the last minute" in limited.json()["message"]


EXPECTED_ROUTES = {
    ("POST", "/generate"),
    ("POST", "/generate/batch"),
    ("GET", "/generations"),
    ("GET", "/generations/{id}"),
    ("DELETE", "/generations/{id}"),
    ("GET", "/generations/{id}/download"),
    ("GET", "/stats"),
    ("GET", "/stats/breakdown"),
    ("GET", "/jobs"),
    ("GET", "/credits"),
    ("GET", "/price"),
    ("GET", "/styles"),
    ("GET", "/poses"),
    ("GET", "/keys"),
    ("DELETE", "/keys/{id}"),
}


def test_the_openapi_document_lists_every_route_with_its_schemas(served):
    api = rest(served, None).http
    document = api.get("/openapi.json").json()
    listed = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    served_routes = {(method, route.path) for route in router.routes for method in route.methods}
    assert listed == served_routes == EXPECTED_ROUTES
    generate = document["paths"]["/generate"]["post"]
    form = generate["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = document["components"]["schemas"][form]["properties"]
    assert {"image", "poseTemplateId", "quality", "priority"} <= set(fields)
    assert {"201", "400", "401", "402", "404", "413", "429"} <= set(generate["responses"])
    page = document["components"]["schemas"]["GenerationPage"]["properties"]
    assert set(page) == {"data", "meta"} and document["components"]["schemas"]["Meta"]["required"] == [
        "total",
        "limit",
        "offset",
        "hasMore",
    ]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = api.get("/docs")
    assert docs.status_code == 200 and f"{PREFIX}/openapi.json" in docs.text and "swagger" in docs.text.lower()


def readme_lines() -> list[str]:
    """The lines of the README's REST example, as a person would paste them."""
    section = (ROOT / "README.md").read_text().split("\n## REST API", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.split("```bash\n", 1)[1].split("```", 1)[0].splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readmes_curl_examples_work_unchanged(served, photo, tmp_path):
    launched, _ = served
    api, key_line, *commands = readme_lines()
    assert api.startswith("API=") and key_line.startswith("KEY=$(") and all(c.startswith("curl ") for c in commands)
    shutil.copy(photo, tmp_path / "me.jpg")
    env = {
        **os.environ,
        "API": launched.url.rstrip("/") + PREFIX,  # the one line a reader changes: where their app runs
        "AVATARGEN_DATA_DIR": str(launched.settings.data_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # `python` is this one
        "PYTHONPATH": str(ROOT),
    }

    def run(line: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (line, done.stderr)
        return done.stdout

    env["KEY"] = run(f'{key_line} && printf %s "$KEY"', cwd=ROOT)
    generate, listing, one, download, delete, stats = commands
    started = json.loads(run(generate))
    assert started["message"] == "Avatar generation started" and started["data"]["status"] == "pending"
    env["ID"] = started["data"]["id"]
    assert Rest(launched.url, env["KEY"]).done(env["ID"])["status"] == "completed"
    assert json.loads(run(listing))["meta"]["offset"] == 0
    assert json.loads(run(one))["data"]["id"] == env["ID"]
    run(download)
    [saved] = tmp_path.glob("avatar-stand-relaxed-f-front-full-*.jpg")  # curl -OJ names it as the server says
    assert Image.open(saved).size == (started["data"]["width"], started["data"]["height"])
    assert json.loads(run(delete)) == {"message": "Generation deleted successfully"}
    assert set(json.loads(run(stats))["data"]) >= {"totalGenerations", "completedGenerations", "totalCreditsUsed"}


def test_without_sign_in_the_one_local_user_needs_no_key(services, tmp_path):
    from fastapi.testclient import TestClient

    from avatargen.web.api import Api
    from avatargen.web.rest import rest_app

    assert services.settings.auth == "none"
    with TestClient(rest_app(Api(services, thumbnails=tmp_path / "thumbnails"))) as local:
        answer = local.get("/generations")
        assert answer.status_code == 200 and answer.json()["meta"]["total"] == 0
        assert local.get("/credits").json()["data"]["balance"] == 100
    assert services.users.user_for(None).username == "local"
