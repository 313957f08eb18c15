"""The service against a real SQLite file, real files and the real huey queue (model faked)."""

import threading

import pytest
from sqlmodel import select

from avatargen.db import queries as db
from avatargen.db.tables import CreditTransaction, Generation
from avatargen.errors import InsufficientCredits, InvalidPhoto, NotFound, UnknownPose, UserError


def ledger_sum(service, user) -> int:
    with service.session() as session:
        return sum(t.delta for t in session.exec(select(CreditTransaction).where(CreditTransaction.user_id == user.id)))


def balance(service, user) -> int:
    return service.credits(user)["balance"]


def files_of(service, user) -> list:
    root = service.storage.root
    return sorted(p.relative_to(root).as_posix() for p in root.glob(f"*/avatar-generator/{user.id}/*"))


@pytest.fixture
def alice(service):
    return service.add_user("alice", password="wonderland")


@pytest.fixture
def bob(service):
    return service.add_user("bob", password="the-builder")


def test_new_user_gets_the_starting_grant_once(service, alice):
    assert balance(service, alice) == 100
    assert service.credits(alice)["transactions"][0]["reason"] == "grant"
    with pytest.raises(UserError, match="already exists"):
        service.add_user("alice", password="again-and-again")
    assert balance(service, alice) == 100


def test_create_debits_records_pending_and_stores_the_photo(service, alice, photo, pose_id, runtime):
    generation = service.create_generation(alice, photo=photo, pose_id=pose_id, quality="hd", priority=True, seed=42)
    assert generation.status == "pending" and generation.credit_used == 10
    assert (generation.width, generation.height) == (768, 1152)
    assert balance(service, alice) == 90 == ledger_sum(service, alice)
    assert len(runtime.queue) == 1
    [stored] = files_of(service, alice)
    assert stored.startswith(f"uploads/avatar-generator/{alice.id}/") and stored.endswith("-astronaut.jpg")


def test_not_enough_credits_records_and_charges_nothing(service, photo, pose_id, runtime):
    poor = service.add_user("poor", password="password", credits=7)
    with pytest.raises(InsufficientCredits, match="costs 10 credits and you have 7"):
        service.create_generation(poor, photo=photo, pose_id=pose_id, quality="hd", priority=True)
    assert balance(service, poor) == 7
    assert service.list_generations(poor) == ([], 0)
    assert files_of(service, poor) == [] and len(runtime.queue) == 0


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"pose_id": "no-such-pose"}, UnknownPose, "no-such-pose"),
        ({"quality": "4k"}, UserError, "Unknown quality"),
        ({"style": "glitter"}, UserError, "Unknown style"),
        ({"seed": -1}, UserError, "seed"),
    ],
)
def test_bad_choices_charge_nothing(service, alice, photo, pose_id, change, error, message):
    arguments = {"photo": photo, "pose_id": pose_id} | change
    with pytest.raises(error, match=message):
        service.create_generation(alice, **arguments)
    assert balance(service, alice) == 100 and files_of(service, alice) == []


def test_bad_photo_charges_nothing(service, alice, pose_id, tmp_path):
    text = tmp_path / "me.jpg"
    text.write_text("hello")
    with pytest.raises(InvalidPhoto):
        service.create_generation(alice, photo=text, pose_id=pose_id)
    assert balance(service, alice) == 100 and service.list_generations(alice)[1] == 0


def test_list_pages_newest_first_and_only_mine(service, alice, bob, photo, pose_id):
    made = [service.create_generation(alice, photo=photo, pose_id=pose_id, seed=i) for i in range(5)]
    service.create_generation(bob, photo=photo, pose_id=pose_id)
    first, total = service.list_generations(alice, limit=2, offset=0)
    second, _ = service.list_generations(alice, limit=2, offset=2)
    last, _ = service.list_generations(alice, limit=2, offset=4)
    assert total == 5
    assert [g.id for g in first + second + last] == [g.id for g in reversed(made)]
    assert service.list_generations(bob)[1] == 1


def test_another_users_generation_looks_like_a_missing_one(service, alice, bob, photo, pose_id):
    mine = service.create_generation(alice, photo=photo, pose_id=pose_id)
    for attempt in (lambda: service.get_generation(bob, mine.id), lambda: service.delete_generation(bob, mine.id)):
        with pytest.raises(NotFound) as theirs:
            attempt()
        with pytest.raises(NotFound) as missing:
            service.get_generation(bob, "0" * 32)
        assert str(theirs.value) == str(missing.value)
    assert service.get_generation(alice, mine.id).id == mine.id


def test_deleting_a_pending_generation_refunds_it_and_removes_its_photo(service, alice, photo, pose_id):
    generation = service.create_generation(alice, photo=photo, pose_id=pose_id)
    service.delete_generation(alice, generation.id)
    assert balance(service, alice) == 100 == ledger_sum(service, alice)
    assert files_of(service, alice) == []
    with pytest.raises(NotFound):
        service.get_generation(alice, generation.id)


def test_concurrent_debits_never_overdraw(service, photo, pose_id):
    user = service.add_user("racer", password="password", credits=20)  # room for exactly 4 at 5 credits
    outcomes: list[str] = []

    def create():
        try:
            service.create_generation(user, photo=photo, pose_id=pose_id)
            outcomes.append("ok")
        except InsufficientCredits:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 4 + ["refused"] * 4
    assert balance(service, user) == 0 == ledger_sum(service, user)
    assert len(files_of(service, user)) == 4


def test_worker_completes_and_stats_add_up(service, runtime, alice, photo, pose_id, fake_engine):
    ok = service.create_generation(alice, photo=photo, pose_id=pose_id, quality="hd", seed=3)
    doomed = service.create_generation(alice, photo=photo, pose_id=pose_id, priority=True)
    fake_engine.fail_with = RuntimeError("GPU fell over")
    assert runtime.queue.run_next()  # the priority job runs first, and fails
    fake_engine.fail_with = None
    assert runtime.queue.run_next()

    failed, done = service.get_generation(alice, doomed.id), service.get_generation(alice, ok.id)
    assert failed.status == "failed" and "8 credits were refunded" in failed.error_message
    assert done.status == "completed" and done.progress == 1.0
    assert done.started_at <= done.completed_at
    with service.storage.open_image(done.output_image_path) as image:
        assert image.size == (768, 1152)
    [request] = fake_engine.requests
    assert request.seed == 3 and request.pose_image.size == (768, 1152)

    stats = service.stats(alice)
    assert stats["totalGenerations"] == 2 and stats["completedGenerations"] == 1 and stats["failedGenerations"] == 1
    assert stats["totalCreditsUsed"] == 7 and stats["averageProcessingTime"] >= 0
    assert balance(service, alice) == 93 == ledger_sum(service, alice)

    service.delete_generation(alice, done.id)
    assert not service.storage.path(done.output_image_path).exists()
    assert not service.storage.path(done.input_image_path).exists()


def test_a_claim_succeeds_once(service, alice, photo, pose_id):
    generation = service.create_generation(alice, photo=photo, pose_id=pose_id)
    assert service.claim(generation.id) is not None
    assert service.claim(generation.id) is None
    with pytest.raises(UserError, match="being made right now"):
        service.delete_generation(alice, generation.id)


def test_refund_happens_once(service, alice, photo, pose_id):
    generation = service.create_generation(alice, photo=photo, pose_id=pose_id)
    service.claim(generation.id)
    assert service.fail(generation.id, "boom") is True
    assert service.fail(generation.id, "boom again") is False
    assert balance(service, alice) == 100 == ledger_sum(service, alice)
    with service.session() as session:
        row = session.get(Generation, generation.id)
        assert row.status == "failed" and row.error_message == "boom"
        assert db.balance(session, alice.id) == 100


def test_local_user_is_created_once_when_auth_is_off(service):
    first, again = service.user_for(None), service.user_for("someone-else")
    assert first.id == again.id and first.username == "local"
    assert service.credits(first)["balance"] == 100


def test_password_mode_checks_hashes(service, alice):
    assert service.authenticate("alice", "wonderland")
    assert not service.authenticate("alice", "Wonderland")
    assert not service.authenticate("nobody", "wonderland")
    with service.session() as session:
        stored = db.get_user(session, "alice").password_hash
    assert stored.startswith("scrypt$") and "wonderland" not in stored


def test_photo_without_a_face_is_refused_before_charging(service, alice, pose_id, tmp_path):
    from skimage import data

    coffee = tmp_path / "coffee.jpg"
    from PIL import Image

    Image.fromarray(data.coffee()).save(coffee)
    with pytest.raises(UserError, match="(?i)face"):
        service.create_generation(alice, photo=coffee, pose_id=pose_id)
    assert balance(service, alice) == 100 and files_of(service, alice) == []


def test_custom_pose_is_private_and_usable(service, runtime, alice, bob, photo, fake_engine):
    mine = service.extract_pose(alice, photo=photo, name="Astronaut salute")
    assert mine.id.startswith("custom-") and mine.owner == alice.id and mine.name == "Astronaut salute"
    listed, total = service.query_poses(alice, limit=5)
    assert listed[0].id == mine.id and total == len(service.poses) + 1
    assert service.query_poses(alice, search="astronaut salute")[0] == [mine]
    assert mine.id not in [t.id for t in service.query_poses(bob, limit=1000)[0]]
    assert service.query_poses(bob)[1] == len(service.poses)

    with pytest.raises(UnknownPose):
        service.create_generation(bob, photo=photo, pose_id=mine.id)
    generation = service.create_generation(alice, photo=photo, pose_id=mine.id, seed=5)
    assert runtime.queue.run_next()
    assert service.get_generation(alice, generation.id).status == "completed"
    assert fake_engine.requests[-1].prompt.endswith("astronaut salute")

    with pytest.raises(NotFound):
        service.delete_pose(bob, mine.id)
    service.delete_pose(alice, mine.id)
    assert service.query_poses(alice)[1] == len(service.poses)


def test_reference_photo_without_a_person_is_refused(service, alice, tmp_path):
    from PIL import Image

    empty = tmp_path / "wall.png"
    Image.new("RGB", (400, 600), (200, 190, 170)).save(empty)
    with pytest.raises(UserError, match="couldn't find a person"):
        service.extract_pose(alice, photo=empty)
    assert service.query_poses(alice)[1] == len(service.poses)


def test_short_passwords_and_damaged_hashes_are_refused(service):
    with pytest.raises(UserError, match="at least 8 characters"):
        service.add_user("shorty", password="1234567")
    from avatargen.accounts.passwords import verify_password

    assert not verify_password("anything", "scrypt$not-a-hash")
    assert not verify_password("anything", None)


def test_first_requests_racing_for_the_local_user_get_one_user(service):
    users = []
    threads = [threading.Thread(target=lambda: users.append(service.user_for(None))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(users) == 6 and len({user.id for user in users}) == 1
    assert service.credits(users[0])["balance"] == 100
