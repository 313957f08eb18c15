"""Per-person limits by tier, on both backends (Redis window with PostgreSQL, in-process window with SQLite)."""

import threading

import pytest

from avatargen.errors import UserError
from tests.conftest import make_runtime


@pytest.fixture
def limited(settings, fake_engine):
    def build(**limits):
        built = make_runtime(settings.model_copy(update=limits), fake_engine)
        made.append(built)
        return built.service

    made = []
    yield build
    for built in made:
        built.close()


def test_jobs_in_flight_are_capped_per_tier_and_charge_nothing(limited, photo, pose_id):
    service = limited(jobs_in_flight={"user": 2}, rate_per_minute={})
    user = service.add_user("busy", password="password")
    admin = service.add_user("boss", password="password", admin=True)
    for _ in range(2):
        service.create_generation(user, photo=photo, pose_id=pose_id)
    with pytest.raises(UserError, match="You have 2 jobs in flight; the limit is 2.*not charged"):
        service.create_generation(user, photo=photo, pose_id=pose_id)
    assert service.credits(user)["balance"] == 90 and service.list_generations(user)[1] == 2
    for _ in range(3):  # no limit for a tier that has none
        service.create_generation(admin, photo=photo, pose_id=pose_id)

    first = service.list_generations(user)[0][0]
    service.delete_generation(user, first.id)  # one finished (here: cancelled): room again
    service.create_generation(user, photo=photo, pose_id=pose_id)


def test_concurrent_requests_never_exceed_the_in_flight_limit(limited, photo, pose_id):
    service = limited(jobs_in_flight={"user": 2}, rate_per_minute={})
    user = service.add_user("eager", password="password")
    outcomes: list[str] = []

    def create() -> None:
        try:
            service.create_generation(user, photo=photo, pose_id=pose_id)
            outcomes.append("ok")
        except UserError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 2 and service.list_generations(user)[1] == 2
    assert service.credits(user)["balance"] == 90


def test_requests_per_minute_are_capped_with_a_wait_hint(limited, photo, pose_id):
    service = limited(rate_per_minute={"user": 3}, jobs_in_flight={})
    user = service.add_user("chatty", password="password")
    other = service.add_user("calm", password="password")
    for _ in range(3):
        service.create_generation(user, photo=photo, pose_id=pose_id)
    with pytest.raises(UserError, match=r"more than 3 generation requests in the last minute.*Try again in \d+ s"):
        service.create_generation(user, photo=photo, pose_id=pose_id)
    assert service.credits(user)["balance"] == 85
    service.create_generation(other, photo=photo, pose_id=pose_id)  # one person's limit is theirs alone
