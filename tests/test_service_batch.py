"""Several poses at once, the jobs listing, the stats breakdown: the service against a real SQLite file and queue."""

import pytest

from avatargen.errors import InsufficientCredits, UnknownPose, UserError
from avatargen.generations.service import MAX_BATCH


@pytest.fixture
def alice(service):
    return service.add_user("alice", password="wonderland")


@pytest.fixture
def poses(service) -> list[str]:
    return [template.id for template in service.poses.query(limit=MAX_BATCH + 1)[0]]


def balance(service, user) -> int:
    return service.credits(user)["balance"]


def test_a_batch_charges_every_pose_in_one_go(service, alice, photo, poses, runtime):
    made = service.create_generations(alice, photo=photo, pose_ids=poses[:3], quality="hd", seed=7)
    assert [g.pose_template_id for g in made] == poses[:3]
    assert {g.seed for g in made} == {7} and {g.credit_used for g in made} == {7}
    assert balance(service, alice) == 100 - 21 and len(runtime.queue) == 3
    debits = [t for t in service.credits(alice)["transactions"] if t["reason"] == "generation"]
    assert sorted(t["generationId"] for t in debits) == sorted(g.id for g in made)


def test_a_batch_over_the_balance_is_refused_whole(service, photo, poses, runtime):
    poor = service.add_user("poor", password="password", credits=12)
    with pytest.raises(InsufficientCredits, match="These 3 generations cost 15 credits in all and you have 12"):
        service.create_generations(poor, photo=photo, pose_ids=poses[:3])
    assert balance(service, poor) == 12 and service.list_generations(poor)[1] == 0 and len(runtime.queue) == 0


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda ids: [], "Pick a pose"),
        (lambda ids: [ids[0], "no-such-pose"], "no-such-pose"),
        (lambda ids: ids[: MAX_BATCH + 1], f"at most {MAX_BATCH} poses"),
    ],
)
def test_a_bad_batch_charges_nothing(service, alice, photo, poses, pick, message):
    with pytest.raises((UserError, UnknownPose), match=message):
        service.create_generations(alice, photo=photo, pose_ids=pick(poses))
    assert balance(service, alice) == 100 and service.list_generations(alice)[1] == 0


def test_deleting_one_of_a_batch_keeps_the_photo_the_others_use(service, alice, photo, poses):
    first, second = service.create_generations(alice, photo=photo, pose_ids=poses[:2])
    assert first.input_image_path == second.input_image_path
    service.delete_generation(alice, first.id)
    assert service.input_path(alice, second.id).is_file()
    service.delete_generation(alice, second.id)
    assert not service.storage.path(second.input_image_path).exists()
    assert balance(service, alice) == 100


def test_jobs_list_the_queue_position_and_an_estimate(service, alice, photo, poses):
    bob = service.add_user("bob", password="the-builder")
    [early] = service.create_generations(bob, photo=photo, pose_ids=poses[:1])
    mine = service.create_generations(alice, photo=photo, pose_ids=poses[:2])
    [urgent] = service.create_generations(alice, photo=photo, pose_ids=poses[2:3], priority=True)
    jobs = service.jobs(alice)
    assert [job["id"] for job in jobs] == [g.id for g in [*mine, urgent]]  # never bob's
    assert [job["queuePosition"] for job in jobs] == [3, 4, 1]
    assert {job["etaSeconds"] for job in jobs} == {None}  # nothing has run yet

    claimed = service.claim(early.id)
    service.complete(
        claimed,
        service.storage.save_image(
            service.storage.open_image(early.input_image_path), kind="outputs", user_id=bob.id, name="out"
        ),
    )
    jobs = service.jobs(alice)
    assert [job["queuePosition"] for job in jobs] == [2, 3, 1]
    assert all(job["etaSeconds"] is not None and job["etaSeconds"] >= 0 for job in jobs)
    assert service.jobs(bob) == []


def test_breakdown_counts_generations_and_kept_credits(service, alice, photo, poses):
    service.create_generations(alice, photo=photo, pose_ids=poses[:2], style="anime")
    [failed] = service.create_generations(alice, photo=photo, pose_ids=poses[:1], quality="hd")
    service.claim(failed.id)
    service.fail(failed.id, "boom")
    breakdown = service.breakdown(alice)
    assert {row["style"]: row["generations"] for row in breakdown["style"]} == {"anime": 2, "realistic": 1}
    assert {row["quality"]: row["credits"] for row in breakdown["quality"]} == {"sd": 10, "hd": 0}
    [day] = breakdown["day"]
    assert day["generations"] == 3 and day["credits"] == 10 and len(day["day"]) == 10
    finished, total = service.list_generations(alice, statuses=["completed", "failed"])
    assert total == 1 and finished[0].id == failed.id


def test_a_batch_must_fit_under_the_jobs_in_flight_limit(service, alice, photo, poses):
    from avatargen.credits.limits import RateLimited, RateLimits

    service.limits = RateLimits(per_minute={}, in_flight={"user": 4})
    service.create_generations(alice, photo=photo, pose_ids=poses[:2])
    with pytest.raises(RateLimited, match="These 3 generations would make 5 jobs in flight; the limit is 4"):
        service.create_generations(alice, photo=photo, pose_ids=poses[2:5])
    assert len(service.create_generations(alice, photo=photo, pose_ids=poses[2:4])) == 2
    assert balance(service, alice) == 80
