"""Several poses at once, the jobs listing, the stats breakdown: the services against a real SQLite file and queue."""

import pytest

from avatargen.errors import InsufficientCredits, UnknownPose, UserError
from avatargen.generations.service import MAX_BATCH
from tests.conftest import generate_batch


@pytest.fixture
def alice(services):
    return services.users.add("alice", password="wonderland")


@pytest.fixture
def poses(services) -> list[str]:
    return [template.id for template in services.poses.library.query(limit=MAX_BATCH + 1)[0]]


def balance(services, user) -> int:
    return services.ledger.statement(user)["balance"]


def test_a_batch_charges_every_pose_in_one_go(services, alice, photo, poses, runtime):
    made = generate_batch(services, alice, photo=photo, pose_ids=poses[:3], quality="hd", seed=7)
    assert [g.pose_template_id for g in made] == poses[:3]
    assert {g.seed for g in made} == {7} and {g.credit_used for g in made} == {7}
    assert balance(services, alice) == 100 - 21 and len(runtime.queue) == 3
    debits = [t for t in services.ledger.statement(alice)["transactions"] if t["reason"] == "generation"]
    assert sorted(t["generationId"] for t in debits) == sorted(g.id for g in made)


def test_a_batch_over_the_balance_is_refused_whole(services, photo, poses, runtime):
    poor = services.users.add("poor", password="password", credits=12)
    with pytest.raises(InsufficientCredits, match="These 3 generations cost 15 credits in all and you have 12"):
        generate_batch(services, poor, photo=photo, pose_ids=poses[:3])
    assert balance(services, poor) == 12 and services.generations.page(poor)[1] == 0 and len(runtime.queue) == 0


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda ids: [], "Pick a pose"),
        (lambda ids: [ids[0], "no-such-pose"], "no-such-pose"),
        (lambda ids: ids[: MAX_BATCH + 1], f"at most {MAX_BATCH} poses"),
    ],
)
def test_a_bad_batch_charges_nothing(services, alice, photo, poses, pick, message):
    with pytest.raises((UserError, UnknownPose), match=message):
        generate_batch(services, alice, photo=photo, pose_ids=pick(poses))
    assert balance(services, alice) == 100 and services.generations.page(alice)[1] == 0


def test_deleting_one_of_a_batch_keeps_the_photo_the_others_use(services, alice, photo, poses):
    first, second = generate_batch(services, alice, photo=photo, pose_ids=poses[:2])
    assert first.input_image_path == second.input_image_path
    services.generations.delete(alice, first.id)
    assert services.generations.input_paths(alice, second.id)[0].is_file()
    services.generations.delete(alice, second.id)
    assert not services.storage.path(second.input_image_path).exists()
    assert balance(services, alice) == 100


def test_jobs_list_the_queue_position_and_an_estimate(services, alice, photo, poses):
    bob = services.users.add("bob", password="the-builder")
    [early] = generate_batch(services, bob, photo=photo, pose_ids=poses[:1])
    mine = generate_batch(services, alice, photo=photo, pose_ids=poses[:2])
    [urgent] = generate_batch(services, alice, photo=photo, pose_ids=poses[2:3], priority=True)
    jobs = services.generations.jobs(alice)
    assert [job["id"] for job in jobs] == [g.id for g in [*mine, urgent]]  # never bob's
    assert [job["queuePosition"] for job in jobs] == [3, 4, 1]
    assert {job["etaSeconds"] for job in jobs} == {None}  # nothing has run yet

    claimed = services.jobs.claim(early.id)
    services.jobs.complete(
        claimed,
        services.storage.save_image(
            services.storage.open_image(early.input_image_path), kind="outputs", user_id=bob.id, name="out"
        ),
    )
    jobs = services.generations.jobs(alice)
    assert [job["queuePosition"] for job in jobs] == [2, 3, 1]
    assert all(job["etaSeconds"] is not None and job["etaSeconds"] >= 0 for job in jobs)
    assert services.generations.jobs(bob) == []


def test_breakdown_counts_generations_and_kept_credits(services, alice, photo, poses):
    generate_batch(services, alice, photo=photo, pose_ids=poses[:2], style="anime")
    [failed] = generate_batch(services, alice, photo=photo, pose_ids=poses[:1], quality="hd")
    services.jobs.claim(failed.id)
    services.jobs.fail(failed.id, "boom")
    breakdown = services.generations.breakdown(alice)
    assert {row["style"]: row["generations"] for row in breakdown["style"]} == {"anime": 2, "realistic": 1}
    assert {row["quality"]: row["credits"] for row in breakdown["quality"]} == {"sd": 10, "hd": 0}
    [day] = breakdown["day"]
    assert day["generations"] == 3 and day["credits"] == 10 and len(day["day"]) == 10
    finished, total = services.generations.page(alice, statuses=["completed", "failed"])
    assert total == 1 and finished[0].id == failed.id


def test_a_batch_must_fit_under_the_jobs_in_flight_limit(services, alice, photo, poses):
    from avatargen.credits.limits import RateLimited, RateLimits

    services.generations.limits = RateLimits(per_minute={}, in_flight={"user": 4})
    generate_batch(services, alice, photo=photo, pose_ids=poses[:2])
    with pytest.raises(RateLimited, match="These 3 generations would make 5 jobs in flight; the limit is 4"):
        generate_batch(services, alice, photo=photo, pose_ids=poses[2:5])
    assert len(generate_batch(services, alice, photo=photo, pose_ids=poses[2:4])) == 2
    assert balance(services, alice) == 80
