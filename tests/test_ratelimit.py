"""Per-person limits by tier, on both backends (Redis window with PostgreSQL, in-process window with SQLite)."""

import threading

import pytest

from avatargen.errors import UserError
from tests.conftest import generate_one, make_runtime


@pytest.fixture
def limited(settings, fake_engine):
    def build(**limits):
        built = make_runtime(settings.model_copy(update=limits), fake_engine)
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
    with pytest.raises(UserError, match=r"more than 3 generation requests in the last minute.*Try again in \d+ s"):
        generate_one(services, user, photo=photo, pose_id=pose_id)
    assert services.ledger.statement(user)["balance"] == 85
    generate_one(services, other, photo=photo, pose_id=pose_id)  # one person's limit is theirs alone
