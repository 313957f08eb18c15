"""Per-person limits by tier, on both backends (Redis window with PostgreSQL, in-process window with SQLite)."""

import threading
from datetime import UTC, datetime

import pytest

from avatargen.errors import UserError
from tests.conftest import generate_batch, generate_one, make_runtime
from tests.helpers import Clock, refused


@pytest.fixture
def limited(settings, fake_engine, clock):
    def build(**limits):
        now = lambda: datetime.fromtimestamp(clock.now, UTC)  # noqa: E731 - the runtime's clock, moved by the test
        built = make_runtime(settings.model_copy(update=limits), fake_engine, clock=now)
        made.append(built)
        return built.services

    made = []
    yield build
    for built in made:
        built.close()


def test_jobs_in_flight_are_capped_per_tier_and_charge_nothing(limited, photo, pose_id):
    services = limited(jobs_in_flight={"user": 2}, rate_per_minute={})
    user = services.users.add("busy", password="password")
    admin = services.users.add("boss", password="password", admin=True)
    for _ in range(2):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    with pytest.raises(UserError, match="You have 2 jobs in flight; the limit is 2.*not charged"):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    assert services.ledger.statement(user)["balance"] == 90 and services.generations.page(user)[1] == 2
    for _ in range(3):  # no limit for a tier that has none
        generate_one(services, admin, photo=photo, pose_id=pose_id)

    first = services.generations.page(user)[0][0]
    services.generations.delete(user, first.id)  # one finished (here: cancelled): room again
    generate_one(services, user, photo=photo, pose_id=pose_id)


def test_concurrent_requests_never_exceed_the_in_flight_limit(limited, photo, pose_id):
    services = limited(jobs_in_flight={"user": 2}, rate_per_minute={})
    user = services.users.add("eager", password="password")
    outcomes: list[str] = []

    def create() -> None:
        try:
            generate_one(services, user, photo=photo, pose_id=pose_id)
            outcomes.append("ok")
        except UserError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 2 and services.generations.page(user)[1] == 2
    assert services.ledger.statement(user)["balance"] == 90


def test_requests_per_minute_are_capped_with_a_wait_hint(limited, photo, pose_id):
    services = limited(rate_per_minute={"user": 3}, jobs_in_flight={})
    user = services.users.add("chatty", password="password")
    other = services.users.add("calm", password="password")
    for _ in range(3):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    with pytest.raises(UserError, match=r"You sent 3 generation requests in the last minute.*Try again in \d+ s"):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    assert services.ledger.statement(user)["balance"] == 85
    generate_one(services, other, photo=photo, pose_id=pose_id)  # one person's limit is theirs alone


def wait_asked(message: str) -> int:
    return int(message.split("Try again in ")[1].split(" s")[0])


def test_an_obedient_client_gets_in_on_its_first_retry(limited, clock: Clock, photo, pose_id):
    services = limited(rate_per_minute={"user": 3}, jobs_in_flight={})
    user = services.users.add("obedient", password="password")
    for _ in range(3):
        generate_one(services, user, photo=photo, pose_id=pose_id)
        clock.now += 10
    for _ in range(4):  # refusals leave no trace: each names the same moment, counted down
        asked = wait_asked(refused(lambda: generate_one(services, user, photo=photo, pose_id=pose_id)))
        assert clock.now + asked == 1060  # the first request (at 1000) leaves the window then
        clock.now += 5
    clock.now += asked - 5  # waits exactly what it was told
    generate_one(services, user, photo=photo, pose_id=pose_id)  # accepted at the first try
    assert services.generations.page(user)[1] == 4


def test_requests_refused_for_a_mistake_do_not_count(limited, photo, pose_id):
    services = limited(rate_per_minute={"user": 3}, jobs_in_flight={})
    user = services.users.add("typo", password="password")
    for _ in range(5):
        assert "Unknown pose" in refused(lambda: generate_one(services, user, photo=photo, pose_id="no-such-pose"))
    for _ in range(3):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    assert services.generations.page(user)[1] == 3


def test_a_batch_counts_by_its_jobs(limited, clock: Clock, photo, library):
    services = limited(rate_per_minute={"user": 3}, jobs_in_flight={})
    user = services.users.add("batcher", password="password")
    pose_ids = [template.id for template in library.query(limit=4)[0]]
    assert "count as 4 requests" in refused(lambda: generate_batch(services, user, photo=photo, pose_ids=pose_ids))
    generate_batch(services, user, photo=photo, pose_ids=pose_ids[:2])
    clock.now += 20
    message = refused(lambda: generate_batch(services, user, photo=photo, pose_ids=pose_ids[2:]))
    assert wait_asked(message) == 40 and services.ledger.statement(user)["balance"] == 90
    generate_one(services, user, photo=photo, pose_id=pose_ids[2])  # the one slot left
    clock.now += 40
    generate_batch(services, user, photo=photo, pose_ids=pose_ids[:2])  # both of the first batch's slots freed
