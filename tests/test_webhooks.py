"""Completion webhooks against a real HTTP receiver on 127.0.0.1 that checks signatures and fails on purpose."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session

from avatargen.errors import UserError
from avatargen.generations.webhooks import set_person_webhook, sign
from avatargen.schedule import Schedule
from tests.conftest import generate_one, make_runtime

SECRET = "test-secret"


class Receiver:
    """Answers 500 to the first `failures` posts, then 200; keeps every post with its signature check.

    A `held` receiver answers nothing until `answer.set()`: a slow one, for as long as the test likes.
    """

    def __init__(self, *, failures: int = 0, held: bool = False):
        self.failures = failures
        self.answer = threading.Event()
        if not held:
            self.answer.set()
        self.posts: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.answer.wait(30)
                expected = sign(SECRET, self.headers["X-Avatargen-Timestamp"], body)
                with receiver.arrived:
                    receiver.posts.append(
                        {
                            "path": self.path,
                            "delivery": self.headers["X-Avatargen-Delivery"],
                            "signed": self.headers["X-Avatargen-Signature"] == expected,
                            "body": json.loads(body),
                        }
                    )
                    failing = len(receiver.posts) <= receiver.failures
                    receiver.arrived.notify_all()
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.posts) >= count, timeout), self.posts
            return list(self.posts)


@pytest.fixture
def hooked(settings, fake_engine, clock):
    built = make_runtime(
        settings.model_copy(update={"webhook_secret": SECRET, "webhook_private_ok": True}),
        fake_engine,
        schedule=Schedule(clock=clock),  # the back-off runs on the test's clock
    )
    yield built
    built.close()


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
        hooked.webhooks.schedule.run_due()
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
    [post] = request.wait(1)
    assert post["path"] == "/job" and post["signed"]
    assert post["body"]["event"] == "generation.failed" and post["body"]["data"]["id"] == generation.id
    assert "refunded" in post["body"]["data"]["errorMessage"]
    assert person.posts == []


def test_a_slow_receiver_never_holds_up_the_worker(hooked, photo, pose_id):
    receiver = Receiver(held=True)
    services = hooked.services
    user = services.users.add("patient", password="password")
    with Session(services.database, expire_on_commit=False) as session:
        set_person_webhook(session, user_id=user.id, url=receiver.url)
        session.commit()
    made = [generate_one(services, user, photo=photo, pose_id=pose_id, seed=seed) for seed in (1, 2)]
    while hooked.queue.run_next():
        pass
    assert all(services.generations.get(user, g.id).status == "completed" for g in made)
    assert receiver.posts == []  # both jobs done while the receiver has not answered the first post
    receiver.answer.set()
    assert len(receiver.wait(2, timeout=20)) == 2


def test_a_bad_webhook_url_is_refused_before_charging(hooked, photo, pose_id):
    services = hooked.services
    user = services.users.add("typo", password="password")
    with pytest.raises(UserError, match="webhook URL must be an http"):
        generate_one(services, user, photo=photo, pose_id=pose_id, webhook_url="ftp://example.com/x")
    assert services.ledger.statement(user)["balance"] == 100 and services.generations.page(user)[1] == 0
