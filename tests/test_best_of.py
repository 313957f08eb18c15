"""Best of N: `candidates` images of one pose in one engine call, the most alike kept, priced +2 per extra."""

from datetime import timedelta

import pytest
from gradio_client import Client, handle_file
from PIL import Image
from sqlmodel import Session, select

from avatargen.credits.pricing import generation_cost
from avatargen.db.tables import CreditTransaction, utcnow
from avatargen.settings import Settings
from tests.conftest import FakeEngine, generate_batch, generate_one, make_runtime
from tests.helpers import refused, serve, wait_until_done

pytestmark = pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype:UserWarning")


def red_scorer(images, photos):
    """A stand-in likeness: the red of the top-left pixel (FakeEngine paints seed * 40 % 256 red)."""
    assert photos  # scored against the person's photos
    return [round(image.getpixel((0, 0))[0] * 100 / 255) for image in images]


def red(seed: int) -> int:
    return round(seed * 40 % 256 * 100 / 255)


def debits(services, generation_id: str) -> list[int]:
    with Session(services.database) as session:
        query = select(CreditTransaction.delta).where(CreditTransaction.generation_id == generation_id)
        return list(session.exec(query).all())


@pytest.mark.parametrize(("candidates", "extra"), [(1, 0), (2, 2), (4, 6)])
def test_price_adds_two_per_extra_candidate(candidates, extra):
    assert generation_cost("sd", False, candidates) == 5 + extra
    assert generation_cost("hd", True, candidates) == 10 + extra


def test_a_count_other_than_1_2_or_4_is_refused():
    with pytest.raises(ValueError, match="candidates"):
        generation_cost("sd", False, 3)


def test_the_most_alike_of_four_is_kept_and_the_others_offered_for_a_day(settings, photo, pose_id):
    engine = FakeEngine()
    now = [utcnow()]
    runtime = make_runtime(settings, engine, clock=lambda: now[0])
    try:
        runtime.queue.handler.likeness = red_scorer
        services = runtime.services
        user = services.users.add("picky", password="password")
        # seeds 5, 6, 7, 8 paint red 200, 240, 24, 64: the second is the most alike
        generation = generate_one(services, user, photo=photo, pose_id=pose_id, seed=5, candidates=4)
        assert generation.credit_used == 11 and debits(services, generation.id) == [-11]  # one debit, the whole price
        while runtime.queue.run_next():
            pass
        assert engine.calls == [4]  # one engine call
        assert [r.seed for r in engine.requests] == [5, 6, 7, 8]
        record = services.generations.get(user, generation.id)
        assert record.status == "completed" and record.likeness == red(6) and record.seed == 6
        public = record.to_public()
        assert public["candidates"] == 4
        assert [a["likeness"] for a in public["alternatives"]] == [red(5), red(8), red(7)]  # best first
        files = [services.storage.path(a["path"]) for a in record.alternatives]
        assert all(path.is_file() for path in files)
        assert services.storage.path(record.output_image_path).is_file()

        now[0] += timedelta(hours=23)
        assert services.jobs.expire_alternatives() == 0  # not yet a day
        now[0] += timedelta(hours=2)
        assert services.jobs.expire_alternatives() == 1
        assert not any(path.exists() for path in files)
        kept = services.generations.get(user, generation.id)
        assert kept.alternatives == [] and kept.output_image_path == record.output_image_path
        assert services.storage.path(kept.output_image_path).is_file()
    finally:
        runtime.close()


def test_deleting_a_generation_deletes_its_alternatives(services, runtime, photo, pose_id):
    runtime.queue.handler.likeness = red_scorer
    user = services.users.add("tidy", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id, seed=1, candidates=2)
    while runtime.queue.run_next():
        pass
    record = services.generations.get(user, generation.id)
    files = [services.storage.path(key) for key in (record.output_image_path, record.alternatives[0]["path"])]
    assert all(path.is_file() for path in files)
    services.generations.delete(user, generation.id)
    assert not any(path.exists() for path in files)


def test_a_batch_of_poses_with_two_candidates_each_is_one_call(services, runtime, fake_engine, photo):
    runtime.queue.handler.likeness = red_scorer
    runtime.queue.handler.batch_size = 2
    user = services.users.add("batch", password="password")
    pose_ids = [p.id for p in services.poses.library.query(limit=2)[0]]
    rows = generate_batch(services, user, photo=photo, pose_ids=pose_ids, seed=2, candidates=2)
    assert [row.credit_used for row in rows] == [7, 7]
    while runtime.queue.run_next():
        pass
    assert fake_engine.calls == [4]
    for row in rows:
        done = services.generations.get(user, row.id)
        assert done.likeness == max(red(2), red(3)) and len(done.alternatives) == 1


def test_a_failed_scorer_still_delivers_the_first_candidate(services, runtime, photo, pose_id):
    def broken(images, photos):
        raise RuntimeError("no dlib today")

    runtime.queue.handler.likeness = broken
    user = services.users.add("unscored", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id, seed=9, candidates=2)
    while runtime.queue.run_next():
        pass
    done = services.generations.get(user, generation.id)
    assert done.status == "completed" and done.likeness is None and done.seed == 9


def test_candidates_through_the_app_priced_before_and_charged_once(tmp_path, photo):
    settings = Settings(data_dir=tmp_path / "data", engine="tiny", starting_credits=50)
    with serve(settings, engine=FakeEngine()) as launched:
        launched.runtime.queue.handler.likeness = red_scorer
        client = Client(launched.url, verbose=False)
        assert client.predict("sd", False, 4, api_name="/price")["data"]["credits"] == 11
        for wrong in (3, "two", True, 8):
            assert "candidates must be one of: 1, 2, 4" in refused(
                lambda wrong=wrong: client.predict("sd", False, wrong, api_name="/price")
            )
        pose_id = client.predict(limit=1, api_name="/poses")["data"][0]["id"]
        assert "candidates must be one of" in refused(
            lambda: client.predict(handle_file(str(photo)), pose_id, candidates=3, api_name="/generate")
        )
        assert client.predict(api_name="/credits")["data"]["balance"] == 50
        started = client.predict(handle_file(str(photo)), pose_id, seed=5, candidates="4", api_name="/generate")
        assert started["data"]["candidates"] == 4 and started["data"]["creditUsed"] == 11
        done = wait_until_done(client, started["data"]["id"])
        assert done["status"] == "completed" and done["likeness"] == red(6) and len(done["alternatives"]) == 3
        assert client.predict(api_name="/credits")["data"]["balance"] == 39
        kept = Image.open(client.predict(done["id"], api_name="/download_output"))
        other = Image.open(client.predict(done["id"], 1, api_name="/download_output"))
        assert kept.getpixel((0, 0))[0] > other.getpixel((0, 0))[0]  # the kept one is the reddest, as scored
        assert "alternative must be a whole number from 0 to 3" in refused(
            lambda: client.predict(done["id"], 4, api_name="/download_output")
        )
        batch = client.predict(handle_file(str(photo)), [pose_id], candidates=2, api_name="/generate_batch")
        assert batch["data"][0]["creditUsed"] == 7
