"""Completion webhooks against real HTTP receivers on 127.0.0.1 that check signatures, fail, hang or redirect on
purpose; the outbox against a worker process killed with SIGKILL; every way the issue aimed a webhook inward."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session, select

from avatargen.db.connect import transaction
from avatargen.db.tables import WebhookOutbox
from avatargen.errors import UserError
from avatargen.generations.webhooks import check_url, parse_url, set_person_webhook, sign
from tests.conftest import generate_one, make_runtime
from tests.helpers import Clock, refused, wait_for

SECRET = "test-secret"


class Receiver:
    """Answers 500 to the first `failures` posts, then 200; keeps every post with its signature check.

    A `held` receiver answers nothing until `answer.set()`: a slow one, for as long as the test likes.
    """

    def __init__(self, *, failures: int = 0, held: bool = False, redirect: str | None = None):
        self.failures = failures
        self.redirect = redirect
        self.reached = threading.Event()  # a post arrived (and, when held, is waiting for its answer)
        self.answer = threading.Event()
        if not held:
            self.answer.set()
        self.posts: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.reached.set()
                receiver.answer.wait(30)
                expected = sign(SECRET, self.headers["X-Avatargen-Timestamp"], body)
                with receiver.arrived:
                    receiver.posts.append(
                        {
                            "path": self.path,
                            "delivery": self.headers["X-Avatargen-Delivery"],
                            "signed": self.headers["X-Avatargen-Signature"] == expected,
                            "host": self.headers["Host"],
                            "body": json.loads(body),
                        }
                    )
                    failing = len(receiver.posts) <= receiver.failures
                    receiver.arrived.notify_all()
                if receiver.redirect:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect)
                else:
                    self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.posts) >= count, timeout), self.posts
            return list(self.posts)


def on(clock: Clock):
    """The runtime's clock (a datetime), moved by the test: the back-off runs on it."""
    return lambda: datetime.fromtimestamp(clock.now, UTC)


@pytest.fixture
def hooked(settings, fake_engine, clock):
    settings = settings.model_copy(update={"webhook_secret": SECRET, "webhook_private_ok": True})
    built = make_runtime(settings, fake_engine, clock=on(clock))
    yield built
    built.close()


@pytest.fixture
def guarded(settings, fake_engine, clock):
    """Webhooks as deployed: only public addresses."""
    built = make_runtime(settings.model_copy(update={"webhook_secret": SECRET}), fake_engine, clock=on(clock))
    yield built
    built.close()


def hook_person(services, name: str, url: str):
    user = services.users.add(name, password="password")
    with Session(services.database, expire_on_commit=False) as session:
        set_person_webhook(session, user_id=user.id, url=url)
        session.commit()
    return user


def outbox_rows(services) -> list[WebhookOutbox]:
    with transaction(services.database) as session:
        return list(session.exec(select(WebhookOutbox)).all())


def test_a_completed_job_is_posted_signed_and_retried_with_back_off(hooked, clock, photo, pose_id):
    receiver = Receiver(failures=2)
    services = hooked.services
    user = services.users.add("hooked", password="password")
    with Session(services.database, expire_on_commit=False) as session:
        set_person_webhook(session, user_id=user.id, url=f"{receiver.url}/person")
        session.commit()
    generation = generate_one(services, user, photo=photo, pose_id=pose_id)
    assert hooked.queue.run_next()

    def later(seconds: float) -> int:
        """Posts received once the clock moved on and what was due then was sent."""
        clock.now += seconds
        hooked.outbox.send_due(wait=True)
        return len(receiver.posts)

    assert later(0) == 1  # at once
    assert later(0.9) == 1 and later(0.1) == 2  # 1 s after the first failure
    assert later(1.9) == 2 and later(0.1) == 3  # then 2 s
    posts = receiver.posts
    assert [p["signed"] for p in posts] == [True, True, True]
    assert len({p["delivery"] for p in posts}) == 1  # one delivery, tried three times
    event = posts[-1]["body"]
    assert event["event"] == "generation.completed" and event["data"]["id"] == generation.id
    assert event["data"]["status"] == "completed" and event["data"]["outputImageUrl"]
    assert later(3600) == 3  # delivered: no more tries
    assert outbox_rows(services) == []


def test_a_request_url_wins_over_the_person_url_and_failures_are_posted_too(hooked, photo, pose_id, fake_engine):
    person, request = Receiver(), Receiver()
    services = hooked.services
    user = services.users.add("both", password="password")
    with Session(services.database, expire_on_commit=False) as session:
        set_person_webhook(session, user_id=user.id, url=person.url)
        session.commit()
    generation = generate_one(services, user, photo=photo, pose_id=pose_id, webhook_url=f"{request.url}/job")
    fake_engine.fail_with = RuntimeError("out of memory")
    assert hooked.queue.run_next()
    hooked.outbox.send_due(wait=True)
    [post] = request.wait(1)
    assert post["path"] == "/job" and post["signed"]
    assert post["body"]["event"] == "generation.failed" and post["body"]["data"]["id"] == generation.id
    assert "refunded" in post["body"]["data"]["errorMessage"]
    assert person.posts == []


def test_a_hanging_receiver_holds_up_neither_the_worker_nor_anybody_else(hooked, photo, pose_id):
    slow, quick = Receiver(held=True), Receiver()
    services = hooked.services
    patient = hook_person(services, "patient", slow.url)
    other = hook_person(services, "other", quick.url)
    made = [generate_one(services, patient, photo=photo, pose_id=pose_id, seed=seed) for seed in (1, 2)]
    hooked.outbox.start()  # the sender thread, as in a running process
    while hooked.queue.run_next():
        pass
    assert all(services.generations.get(patient, g.id).status == "completed" for g in made)
    assert slow.reached.wait(20)  # the first post is hanging
    generate_one(services, other, photo=photo, pose_id=pose_id)
    assert hooked.queue.run_next()
    [post] = quick.wait(1)  # while the hanging receiver still holds the first post of the other person
    assert post["signed"] and slow.posts == []
    slow.answer.set()
    assert len(slow.wait(2, timeout=20)) == 2


def test_a_bad_webhook_url_is_refused_before_charging(hooked, photo, pose_id):
    services = hooked.services
    user = services.users.add("typo", password="password")
    with pytest.raises(UserError, match="webhook URL must be an http"):
        generate_one(services, user, photo=photo, pose_id=pose_id, webhook_url="ftp://example.com/x")
    assert services.ledger.statement(user)["balance"] == 100 and services.generations.page(user)[1] == 0


INWARD = {
    "http://%31%32%37.0.0.1:{port}/": "without '%'",  # decoded by urllib into 127.0.0.1
    "http://127.0.0.1:{port}/": "resolves to 127.0.0.1, which is not a public address",
    "http://2130706433:{port}/": "resolves to 127.0.0.1",  # 127.0.0.1 as one number
    "http://0x7f.1:{port}/": "resolves to 127.0.0.1",
    "http://localhost:{port}/": "not a public address",
    "http://[::1]:{port}/": "resolves to ::1",
    "http://[::ffff:127.0.0.1]:{port}/": "not a public address",
    "http://user:pw@example.com/": "must not carry a user name",
    "http://10.0.0.8/": "resolves to 10.0.0.8",
    "http://169.254.169.254/latest/meta-data": "resolves to 169.254.169.254",
}


def test_every_inward_webhook_url_is_refused_when_saved(guarded, photo, pose_id):
    receiver = Receiver()
    services = guarded.services
    user = services.users.add("aimer", password="password")
    for url, why in INWARD.items():
        url = url.format(port=receiver.port)
        assert why in refused(lambda url=url: check_url(url))  # the CLI's check (`user webhook NAME URL`)
        generate = lambda url=url: generate_one(services, user, photo=photo, pose_id=pose_id, webhook_url=url)  # noqa: E731
        assert why in refused(generate)
    assert services.ledger.statement(user)["balance"] == 100 and services.generations.page(user)[1] == 0
    assert parse_url("HTTPS://Bücher.Example/hook?x=1").url == "https://xn--bcher-kva.example/hook?x=1"  # IDNA, once


def test_a_stored_inward_url_is_refused_at_delivery_with_a_log_line(guarded, photo, pose_id, caplog):
    """URLs saved before these checks (or by hand) are checked again when their delivery's turn comes."""
    receiver = Receiver()
    services = guarded.services
    user = hook_person(services, "old-hook", f"http://%31%32%37.0.0.1:{receiver.port}/")
    generate_one(services, user, photo=photo, pose_id=pose_id)
    assert guarded.queue.run_next()
    with caplog.at_level(logging.WARNING, logger="avatargen.generations.outbox"):
        guarded.outbox.send_due(wait=True)
    assert "refused: The webhook URL's host must be written plainly, without '%'." in caplog.text
    assert receiver.posts == [] and outbox_rows(services) == []


def test_a_redirect_is_never_followed(hooked, photo, pose_id, caplog):
    inner = Receiver()
    outer = Receiver(redirect=f"{inner.url}/admin")
    services = hooked.services
    user = hook_person(services, "redirected", outer.url)
    generate_one(services, user, photo=photo, pose_id=pose_id)
    assert hooked.queue.run_next()
    with caplog.at_level(logging.WARNING, logger="avatargen.generations.outbox"):
        hooked.outbox.send_due(wait=True)
    assert len(outer.posts) == 1 and inner.posts == []
    assert "a redirect (HTTP 302) is never followed" in caplog.text and outbox_rows(services) == []


class Resolver:
    """Stands in for DNS for the names it knows: each look-up answers the next address of its list (rebinding)."""

    def __init__(self, monkeypatch, names: dict[str, list[str]]):
        self.names = names
        self.asked: list[str] = []
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host not in self.names:
                return real(host, port, *args, **kwargs)
            self.asked.append(host)
            address = self.names[host].pop(0) if len(self.names[host]) > 1 else self.names[host][0]
            return real(address, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_is_refused_and_the_connection_goes_to_the_checked_address(
    guarded, hooked, photo, pose_id, monkeypatch, caplog
):
    receiver = Receiver()
    public = "93.184.216.34"
    names = {"rebind.example": [public, public, "127.0.0.1"], "hook.example": ["127.0.0.1"]}
    resolver = Resolver(monkeypatch, names)
    services = guarded.services
    url = check_url(f"http://rebind.example:{receiver.port}/")  # public when saved, and when the request came
    user = services.users.add("rebinder", password="password")
    generate_one(services, user, photo=photo, pose_id=pose_id, webhook_url=url)
    assert guarded.queue.run_next()
    with caplog.at_level(logging.WARNING, logger="avatargen.generations.outbox"):
        guarded.outbox.send_due(wait=True)
    assert "rebind.example resolves to 127.0.0.1, which is not a public address" in caplog.text
    assert receiver.posts == []

    # the one look-up a delivery makes is the address it connects to; the request still names the URL's host
    resolver.asked.clear()
    user = hook_person(hooked.services, "pinned", f"http://hook.example:{receiver.port}/in")
    generate_one(hooked.services, user, photo=photo, pose_id=pose_id)
    assert hooked.queue.run_next()
    hooked.outbox.send_due(wait=True)
    [post] = receiver.wait(1)
    assert post["host"] == f"hook.example:{receiver.port}" and post["path"] == "/in" and post["signed"]
    assert resolver.asked == ["hook.example"]


def test_a_delivery_waiting_for_its_retry_survives_kill_9(settings, photo, pose_id):
    """The issue's case: the receiver fails, the worker process is killed with SIGKILL while the delivery waits
    for its retry; a worker started again delivers it."""
    receiver = Receiver(failures=10**6)  # refuses until told otherwise
    settings = settings.model_copy(update={"webhook_secret": SECRET, "webhook_private_ok": True})
    runtime = make_runtime(settings, None)
    try:
        services = runtime.services
        user = hook_person(services, "survivor", receiver.url)
        generation = generate_one(services, user, photo=photo, pose_id=pose_id)
    finally:
        runtime.close()
    env = os.environ | {
        "AVATARGEN_DATA_DIR": str(settings.data_dir),
        "AVATARGEN_DATABASE_URL": settings.database_url,
        "AVATARGEN_QUEUE_URL": settings.queue_url,
        "AVATARGEN_WEBHOOK_SECRET": SECRET,
        "AVATARGEN_WEBHOOK_PRIVATE_OK": "true",
        "AVATARGEN_ENGINE": "tiny",
        "SLOW_WORKER_S": "0.01",
    }

    def worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tests.slow_worker"], env=env, cwd=os.getcwd())

    def waiting_for_retry() -> bool:
        rows = outbox_rows_at(settings)
        return bool(rows) and rows[0].attempts >= 1 and rows[0].claimed_until is None

    first = worker()
    try:
        wait_for(waiting_for_retry, timeout=120, what="a refused first try")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill()
    [row] = outbox_rows_at(settings)
    assert row.generation_id == generation.id and row.attempts >= 1
    receiver.failures = 0  # the receiver is back
    tried = len(receiver.posts)
    second = worker()
    try:
        wait_for(lambda: not outbox_rows_at(settings), timeout=120, what="the delivery after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    posts = receiver.posts
    assert len(posts) == tried + 1 and len({p["delivery"] for p in posts}) == 1  # one delivery, tried again
    assert posts[-1]["signed"] and posts[-1]["body"]["data"]["status"] == "completed"


def outbox_rows_at(settings) -> list[WebhookOutbox]:
    from avatargen.db.connect import create_db_engine

    database = create_db_engine(settings.db_url)
    try:
        with transaction(database) as session:
            return list(session.exec(select(WebhookOutbox)).all())
    finally:
        database.dispose()
