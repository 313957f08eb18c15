"""Retries that never pay twice: a client's `request_id` answers the first result (through the launched app, and
under concurrency on SQLite and PostgreSQL); photos of a request whose process was killed mid-transaction are
staged files the orphan sweep removes after an hour."""

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from gradio_client import Client, handle_file

from avatargen.settings import Settings
from tests.conftest import FakeEngine, generate_batch, generate_one, make_runtime
from tests.helpers import Clock, refused, serve


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("retries") / "data", engine="tiny", worker_threads=0)
    with serve(settings, engine=FakeEngine()) as launched:
        yield launched.url


def test_a_retried_request_id_is_charged_once_through_the_app(app_url, photo):
    client = Client(app_url, verbose=False)
    pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
    options = ("sd", False, "realistic", None, None, False, None)

    def generate(request_id):
        return client.predict(handle_file(str(photo)), pose_id, *options, request_id, api_name="/generate")["data"]

    first, again = generate("retry-1"), generate("retry-1")
    assert again["id"] == first["id"] and first["requestId"] == "retry-1"
    assert client.predict(api_name="/credits")["data"]["balance"] == 95  # charged once
    assert generate("retry-2")["id"] != first["id"]  # another id is another request
    assert generate(None)["requestId"] is None  # the key is optional
    assert client.predict(api_name="/credits")["data"]["balance"] == 85
    assert "request_id must be an id" in refused(lambda: generate("no spaces or %"))
    pose_ids = [pose["id"] for pose in client.predict(limit=2, api_name="/poses")["data"]]
    batch = (handle_file(str(photo)), pose_ids, *options, "batch-1")
    made = client.predict(*batch, api_name="/generate_batch")["data"]
    assert [r["id"] for r in client.predict(*batch, api_name="/generate_batch")["data"]] == [r["id"] for r in made]
    assert client.predict(api_name="/credits")["data"]["balance"] == 75


def test_concurrent_twins_are_charged_once(runtime, services, photo, pose_id):
    user = services.users.add("twins", password="password")
    made: list[str] = []

    def create() -> None:
        made.append(generate_one(services, user, photo=photo, pose_id=pose_id, request_id="same").id)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 6 and len(set(made)) == 1
    assert services.generations.page(user)[1] == 1 and services.ledger.statement(user)["balance"] == 95
    other = services.users.add("other-twin", password="password")  # the key is per person
    assert generate_one(services, other, photo=photo, pose_id=pose_id, request_id="same").id != made[0]
    batch = generate_batch(services, user, photo=photo, pose_ids=[pose_id], request_id="b")
    assert generate_batch(services, user, photo=photo, pose_ids=[pose_id], request_id="b") == batch
    assert services.generations.page(user)[1] == 2 and batch[0].request_id == "b"
    uploads = services.storage.root / "uploads"
    assert len([p for p in uploads.rglob("*") if p.is_file()]) == 3  # a twin's photo goes with its refusal


KILLED_FRONT_END = """
import os, signal, sys
from avatargen.credits import ledger
from avatargen.generations.options import GenerationOptions
from avatargen.runtime import build_runtime
from avatargen.settings import Settings

runtime = build_runtime(Settings(), load_engine=lambda: None)
user = runtime.services.users.add("killed", password="password")
ledger.lock_user = lambda *_: os.kill(os.getpid(), signal.SIGKILL)  # dies inside the transaction
pose_id = runtime.services.poses.library.query(limit=1)[0][0].id
runtime.services.generations.create(user, photo=sys.argv[1], pose_ids=[pose_id], options=GenerationOptions())
"""


def test_no_orphan_photo_after_a_front_end_killed_mid_request(settings, photo, fake_engine):
    env = os.environ | {
        "AVATARGEN_DATA_DIR": str(settings.data_dir),
        "AVATARGEN_DATABASE_URL": settings.database_url,
        "AVATARGEN_QUEUE_URL": settings.queue_url,
        "AVATARGEN_ENGINE": "tiny",
    }
    killed = subprocess.run([sys.executable, "-c", KILLED_FRONT_END, str(photo)], env=env, cwd=os.getcwd())
    assert killed.returncode == -signal.SIGKILL
    uploads = settings.data_dir / "uploads"
    left = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(left) == 1 and left[0].name.endswith(".jpg.staged")  # never under a name a row could use

    clock = Clock(now=datetime.now(UTC).timestamp())
    runtime = make_runtime(settings, fake_engine, clock=lambda: datetime.fromtimestamp(clock.now, UTC))
    try:
        services = runtime.services
        user = services.users.add("alive", password="password")
        kept = generate_one(services, user, photo=photo, pose_id=services.poses.library.query(limit=1)[0][0].id)
        assert runtime.recovery.sweep_orphans() == 0  # younger than an hour: it may still be on its way
        clock.now += 3601
        assert runtime.recovery.sweep_orphans() == 1
        remaining = [p for p in uploads.rglob("*") if p.is_file()]
        assert remaining == [services.storage.path(kept.input_image_path)]  # a row's photo stays
        assert services.ledger.statement(services.users.named("killed"))["balance"] == 100  # never charged
    finally:
        runtime.close()
