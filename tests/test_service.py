"""The services against a real SQLite file, real files and the real huey queue (model faked)."""

import threading

import pytest
from sqlmodel import Session, select

from avatargen.accounts.users import find as find_user
from avatargen.credits.ledger import balance as balance_of
from avatargen.db.tables import CreditTransaction, Generation
from avatargen.errors import InsufficientCredits, InvalidPhoto, NotFound, UnknownPose, UserError
from tests.conftest import generate_one


def ledger_sum(services, user) -> int:
    with Session(services.database, expire_on_commit=False) as session:
        return sum(t.delta for t in session.exec(select(CreditTransaction).where(CreditTransaction.user_id == user.id)))


def balance(services, user) -> int:
    return services.ledger.statement(user)["balance"]


def files_of(services, user) -> list:
    root = services.storage.root
    return sorted(p.relative_to(root).as_posix() for p in root.glob(f"*/avatar-generator/{user.id}/*"))


@pytest.fixture
def alice(services):
    return services.users.add("alice", password="wonderland")


@pytest.fixture
def bob(services):
    return services.users.add("bob", password="the-builder")


def test_new_user_gets_the_starting_grant_once(services, alice):
    assert balance(services, alice) == 100
    assert services.ledger.statement(alice)["transactions"][0]["reason"] == "grant"
    with pytest.raises(UserError, match="already exists"):
        services.users.add("alice", password="again-and-again")
    assert balance(services, alice) == 100


def test_create_debits_records_pending_and_stores_the_photo(services, alice, photo, pose_id, runtime):
    generation = generate_one(services, alice, photo=photo, pose_id=pose_id, quality="hd", priority=True, seed=42)
    assert generation.status == "pending" and generation.credit_used == 10
    assert (generation.width, generation.height) == (768, 1152)
    assert balance(services, alice) == 90 == ledger_sum(services, alice)
    assert len(runtime.queue) == 1
    [stored] = files_of(services, alice)
    assert stored.startswith(f"uploads/avatar-generator/{alice.id}/") and stored.endswith("-astronaut.jpg")


def test_not_enough_credits_records_and_charges_nothing(services, photo, pose_id, runtime):
    poor = services.users.add("poor", password="password", credits=7)
    with pytest.raises(InsufficientCredits, match="costs 10 credits and you have 7"):
        generate_one(services, poor, photo=photo, pose_id=pose_id, quality="hd", priority=True)
    assert balance(services, poor) == 7
    assert services.generations.page(poor) == ([], 0)
    assert files_of(services, poor) == [] and len(runtime.queue) == 0


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"pose_id": "no-such-pose"}, UnknownPose, "no-such-pose"),
        ({"quality": "4k"}, UserError, "Unknown quality"),
        ({"style": "glitter"}, UserError, "Unknown style"),
        ({"seed": -1}, UserError, "seed"),
    ],
)
def test_bad_choices_charge_nothing(services, alice, photo, pose_id, change, error, message):
    arguments = {"photo": photo, "pose_id": pose_id} | change
    with pytest.raises(error, match=message):
        generate_one(services, alice, **arguments)
    assert balance(services, alice) == 100 and files_of(services, alice) == []


def test_bad_photo_charges_nothing(services, alice, pose_id, tmp_path):
    text = tmp_path / "me.jpg"
    text.write_text("hello")
    with pytest.raises(InvalidPhoto):
        generate_one(services, alice, photo=text, pose_id=pose_id)
    assert balance(services, alice) == 100 and services.generations.page(alice)[1] == 0


def test_list_pages_newest_first_and_only_mine(services, alice, bob, photo, pose_id):
    made = [generate_one(services, alice, photo=photo, pose_id=pose_id, seed=i) for i in range(5)]
    generate_one(services, bob, photo=photo, pose_id=pose_id)
    first, total = services.generations.page(alice, limit=2, offset=0)
    second, _ = services.generations.page(alice, limit=2, offset=2)
    last, _ = services.generations.page(alice, limit=2, offset=4)
    assert total == 5
    assert [g.id for g in first + second + last] == [g.id for g in reversed(made)]
    assert services.generations.page(bob)[1] == 1


def test_another_users_generation_looks_like_a_missing_one(services, alice, bob, photo, pose_id):
    mine = generate_one(services, alice, photo=photo, pose_id=pose_id)
    for attempt in (lambda: services.generations.get(bob, mine.id), lambda: services.generations.delete(bob, mine.id)):
        with pytest.raises(NotFound) as theirs:
            attempt()
        with pytest.raises(NotFound) as missing:
            services.generations.get(bob, "0" * 32)
        assert str(theirs.value) == str(missing.value)
    assert services.generations.get(alice, mine.id).id == mine.id


def test_deleting_a_pending_generation_refunds_it_and_removes_its_photo(services, alice, photo, pose_id):
    generation = generate_one(services, alice, photo=photo, pose_id=pose_id)
    services.generations.delete(alice, generation.id)
    assert balance(services, alice) == 100 == ledger_sum(services, alice)
    assert files_of(services, alice) == []
    with pytest.raises(NotFound):
        services.generations.get(alice, generation.id)


def test_concurrent_debits_never_overdraw(services, photo, pose_id):
    user = services.users.add("racer", password="password", credits=20)  # room for exactly 4 at 5 credits
    outcomes: list[str] = []

    def create():
        try:
            generate_one(services, user, photo=photo, pose_id=pose_id)
            outcomes.append("ok")
        except InsufficientCredits:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 4 + ["refused"] * 4
    assert balance(services, user) == 0 == ledger_sum(services, user)
    assert len(files_of(services, user)) == 4


def test_worker_completes_and_stats_add_up(services, runtime, alice, photo, pose_id, fake_engine):
    ok = generate_one(services, alice, photo=photo, pose_id=pose_id, quality="hd", seed=3)
    doomed = generate_one(services, alice, photo=photo, pose_id=pose_id, priority=True)
    fake_engine.fail_with = RuntimeError("GPU fell over")
    assert runtime.queue.run_next()  # the priority job runs first, and fails
    fake_engine.fail_with = None
    assert runtime.queue.run_next()

    failed, done = services.generations.get(alice, doomed.id), services.generations.get(alice, ok.id)
    assert failed.status == "failed" and "8 credits were refunded" in failed.error_message
    assert done.status == "completed" and done.progress == 1.0
    assert done.started_at <= done.completed_at
    with services.storage.open_image(done.output_image_path) as image:
        assert image.size == (768, 1152)
    [request] = fake_engine.requests
    assert request.seed == 3 and request.pose_image.size == (768, 1152)

    stats = services.generations.stats(alice)
    assert stats["totalGenerations"] == 2 and stats["completedGenerations"] == 1 and stats["failedGenerations"] == 1
    assert stats["totalCreditsUsed"] == 7 and stats["averageProcessingTime"] >= 0
    assert balance(services, alice) == 93 == ledger_sum(services, alice)

    services.generations.delete(alice, done.id)
    assert not services.storage.path(done.output_image_path).exists()
    assert not services.storage.path(done.input_image_path).exists()


def test_a_claim_succeeds_once(services, alice, photo, pose_id):
    generation = generate_one(services, alice, photo=photo, pose_id=pose_id)
    assert services.jobs.claim(generation.id) is not None
    assert services.jobs.claim(generation.id) is None
    with pytest.raises(UserError, match="being made right now"):
        services.generations.delete(alice, generation.id)


def test_refund_happens_once(services, alice, photo, pose_id):
    generation = generate_one(services, alice, photo=photo, pose_id=pose_id)
    services.jobs.claim(generation.id)
    assert services.jobs.fail(generation.id, "boom") is True
    assert services.jobs.fail(generation.id, "boom again") is False
    assert balance(services, alice) == 100 == ledger_sum(services, alice)
    with Session(services.database, expire_on_commit=False) as session:
        row = session.get(Generation, generation.id)
        assert row.status == "failed" and row.error_message == "boom"
        assert balance_of(session, alice.id) == 100


def test_local_user_is_created_once_when_auth_is_off(services):
    first, again = services.users.user_for(None), services.users.user_for("someone-else")
    assert first.id == again.id and first.username == "local"
    assert services.ledger.statement(first)["balance"] == 100


def test_password_mode_checks_hashes(services, alice):
    assert services.users.authenticate("alice", "wonderland")
    assert not services.users.authenticate("alice", "Wonderland")
    assert not services.users.authenticate("nobody", "wonderland")
    with Session(services.database, expire_on_commit=False) as session:
        stored = find_user(session, "alice").password_hash
    assert stored.startswith("scrypt$") and "wonderland" not in stored


def test_photo_without_a_face_is_refused_before_charging(services, alice, pose_id, tmp_path):
    from skimage import data

    coffee = tmp_path / "coffee.jpg"
    from PIL import Image

    Image.fromarray(data.coffee()).save(coffee)
    with pytest.raises(UserError, match="(?i)face"):
        generate_one(services, alice, photo=coffee, pose_id=pose_id)
    assert balance(services, alice) == 100 and files_of(services, alice) == []


def test_custom_pose_is_private_and_usable(services, runtime, alice, bob, photo, fake_engine):
    mine = services.poses.extract(alice, photo=photo, name="Astronaut salute")
    assert mine.id.startswith("custom-") and mine.owner == alice.id and mine.name == "Astronaut salute"
    listed, total = services.poses.query(alice, limit=5)
    assert listed[0].id == mine.id and total == len(services.poses.library) + 1
    assert services.poses.query(alice, search="astronaut salute")[0] == [mine]
    assert mine.id not in [t.id for t in services.poses.query(bob, limit=1000)[0]]
    assert services.poses.query(bob)[1] == len(services.poses.library)

    with pytest.raises(UnknownPose):
        generate_one(services, bob, photo=photo, pose_id=mine.id)
    generation = generate_one(services, alice, photo=photo, pose_id=mine.id, seed=5)
    assert runtime.queue.run_next()
    assert services.generations.get(alice, generation.id).status == "completed"
    assert fake_engine.requests[-1].prompt.endswith("astronaut salute")

    with pytest.raises(NotFound):
        services.poses.delete(bob, mine.id)
    services.poses.delete(alice, mine.id)
    assert services.poses.query(alice)[1] == len(services.poses.library)


def test_reference_photo_without_a_person_is_refused(services, alice, tmp_path):
    from PIL import Image

    empty = tmp_path / "wall.png"
    Image.new("RGB", (400, 600), (200, 190, 170)).save(empty)
    with pytest.raises(UserError, match="couldn't find a person"):
        services.poses.extract(alice, photo=empty)
    assert services.poses.query(alice)[1] == len(services.poses.library)


def test_short_passwords_and_damaged_hashes_are_refused(services):
    with pytest.raises(UserError, match="at least 8 characters"):
        services.users.add("shorty", password="1234567")
    from avatargen.accounts.passwords import verify_password

    assert not verify_password("anything", "scrypt$not-a-hash")
    assert not verify_password("anything", None)


def test_first_requests_racing_for_the_local_user_get_one_user(services):
    users = []
    threads = [threading.Thread(target=lambda: users.append(services.users.user_for(None))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(users) == 6 and len({user.id for user in users}) == 1
    assert services.ledger.statement(users[0])["balance"] == 100
