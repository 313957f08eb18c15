"""Queue order and crash recovery on real backends: SQLite files, and PostgreSQL + Redis servers."""

import os
import signal
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

from sqlmodel import Session, select

from avatargen.db.tables import CreditTransaction, Generation, utcnow
from tests.conftest import FakeEngine, generate_one, make_runtime
from tests.helpers import Clock, wait_for


def ledger(services, user_id: int) -> list[tuple[str, int]]:
    with Session(services.database, expire_on_commit=False) as session:
        rows = session.exec(select(CreditTransaction).where(CreditTransaction.user_id == user_id))
        return [(row.reason, row.delta) for row in rows]


def row(services, generation_id: str) -> Generation:
    with Session(services.database, expire_on_commit=False) as session:
        return session.get(Generation, generation_id)


def beat_at(runtime, generation_id: str):
    """When the generation's claim last said it was alive (databases hand back naive UTC times)."""
    moment = row(runtime.services, generation_id).heartbeat_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_priority_jobs_run_first_then_oldest_first(services, runtime, fake_engine, photo, pose_id):
    user = services.users.add("queue", password="password")
    for seed, priority in [(1, False), (2, False), (3, True), (4, False), (5, True)]:
        generate_one(services, user, photo=photo, pose_id=pose_id, seed=seed, priority=priority)
    while runtime.queue.run_next():
        pass
    assert [request.seed for request in fake_engine.requests] == [3, 5, 1, 2, 4]


def test_worker_thread_picks_up_jobs_at_once(services, runtime, fake_engine, photo, pose_id):
    runtime.start_workers(1)
    user = services.users.add("quick", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id)
    wait_for(lambda: row(services, generation.id).status == "completed", timeout=10, what="completion")


def test_job_interrupted_mid_run_finishes_once_after_restart(settings, photo, pose_id):
    stuck = FakeEngine(gated=True)
    before = make_runtime(settings, stuck)
    user = before.services.users.add("crash", password="password")
    generation = generate_one(before.services, user, photo=photo, pose_id=pose_id, seed=9)
    before.start_workers(1)
    assert stuck.started.wait(10)
    assert row(before.services, generation.id).status == "processing"
    # "Crash": this process's worker never reports back. A new process starts over the same files.

    fresh = FakeEngine()
    after = make_runtime(settings, fresh)
    after.start_workers(1, single_process=True)
    wait_for(lambda: row(after.services, generation.id).status == "completed", what="the rerun")
    done = row(after.services, generation.id)
    assert done.attempts == 2 and [r.seed for r in fresh.requests] == [9]

    stuck.gate.set()  # the old worker wakes up late: its result must not count
    before.queue.stop()  # returns once that worker has finished with it
    assert row(after.services, generation.id).output_image_path == done.output_image_path
    outputs = list(after.services.storage.root.glob("outputs/avatar-generator/*/*"))
    assert [p.relative_to(after.services.storage.root).as_posix() for p in outputs] == [done.output_image_path]
    assert ledger(after.services, user.id) == [("grant", 100), ("generation", -5)]
    before.close()
    after.close()


def test_job_out_of_attempts_is_refunded_exactly_once(settings, photo, pose_id):
    settings = settings.model_copy(update={"max_job_attempts": 1})
    stuck = FakeEngine(gated=True)
    before = make_runtime(settings, stuck)
    user = before.services.users.add("unlucky", password="password")
    generation = generate_one(before.services, user, photo=photo, pose_id=pose_id, priority=True)
    before.start_workers(1)
    assert stuck.started.wait(10)

    for _ in range(2):  # two restarts in a row
        again = make_runtime(settings, FakeEngine())
        again.start_workers(0, single_process=True)
        again.close()
    failed = row(before.services, generation.id)
    assert failed.status == "failed" and "refunded" in failed.error_message
    assert ledger(before.services, user.id) == [("grant", 100), ("generation", -8), ("refund", 8)]
    stuck.gate.set()
    before.close()


def test_killed_worker_process_is_recovered(settings, photo, pose_id, tmp_path):
    """A real `python -m avatargen worker` process with the tiny engine, killed with SIGKILL mid-generation."""
    runtime = make_runtime(settings, FakeEngine())
    user = runtime.services.users.add("killed", password="password")
    generation = generate_one(runtime.services, user, photo=photo, pose_id=pose_id, quality="hd")
    env = os.environ | {
        "AVATARGEN_DATA_DIR": str(settings.data_dir),
        "AVATARGEN_ENGINE": "tiny",
        "AVATARGEN_DATABASE_URL": settings.database_url,
        "AVATARGEN_QUEUE_URL": settings.queue_url,
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "avatargen", "worker"],
            cwd=Path(__file__).parents[1],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for(
                lambda: row(runtime.services, generation.id).status == "processing",
                timeout=120,
                what="the worker's claim",
            )
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
    assert row(runtime.services, generation.id).status == "processing"

    runtime.start_workers(1, single_process=True)  # restart: this process is now the only worker
    wait_for(lambda: row(runtime.services, generation.id).status == "completed", what="completion after the kill")
    assert ledger(runtime.services, user.id) == [("grant", 100), ("generation", -7)]
    runtime.close()


def test_same_size_jobs_share_one_pipeline_call_priority_first(settings, photo, pose_id):
    engine = FakeEngine()
    runtime = make_runtime(settings.model_copy(update={"batch_size": 3}), engine)
    user = runtime.services.users.add("batcher", password="password", credits=1000)
    plan = [(1, "sd", False), (2, "hd", False), (3, "sd", False), (4, "sd", True), (5, "sd", False), (6, "hd", True)]
    made = {
        seed: generate_one(runtime.services, user, photo=photo, pose_id=pose_id, seed=seed, quality=q, priority=p)
        for seed, q, p in plan
    }
    while runtime.queue.run_next():
        pass
    # The older priority job (4, sd) heads the queue and takes the two oldest sd jobs; then the hd priority job
    # (6) takes the other hd; the last sd job runs alone.
    assert engine.calls == [3, 2, 1]
    assert [r.seed for r in engine.requests] == [4, 1, 3, 6, 2, 5]
    for seed, generation in made.items():
        done = row(runtime.services, generation.id)
        assert done.status == "completed"
        with runtime.services.storage.open_image(done.output_image_path) as image:
            assert (
                image.size == (done.width, done.height) and abs(image.getpixel((0, 0))[0] - seed * 40 % 256) <= 5
            )  # its own image
    runtime.close()


def test_a_live_worker_keeps_its_claim_and_a_silent_one_loses_it(settings, photo, pose_id):
    settings = settings.model_copy(update={"stale_job_seconds": 2.0})  # a held claim beats every 0.5 s
    clock = Clock(utcnow())  # every worker's now: heartbeats, and the sweep that judges them
    slow = FakeEngine(gated=True)
    busy = make_runtime(settings, slow, clock=clock)
    user = busy.services.users.add("alive", password="password")
    generation = generate_one(busy.services, user, photo=photo, pose_id=pose_id)
    busy.queue.start(1)  # its worker thread only: the sweeps are the other process's, run by hand below
    assert slow.started.wait(10)

    other = make_runtime(settings, FakeEngine(), clock=clock)  # a second worker starts while the first is busy
    clock.now += timedelta(seconds=3)  # well past the stale limit: only the first worker's heartbeat keeps the claim
    wait_for(lambda: beat_at(busy, generation.id) == clock.now, what="the busy worker's next heartbeat")
    assert other.recovery.requeue_stale() == (0, 0)
    assert row(busy.services, generation.id).status == "processing"
    slow.gate.set()
    wait_for(lambda: row(busy.services, generation.id).status == "completed", what="completion by the first worker")
    assert row(busy.services, generation.id).attempts == 1

    busy.close()

    silent = FakeEngine(gated=True)
    stuck = make_runtime(settings, silent, clock=clock)
    second = generate_one(stuck.services, user, photo=photo, pose_id=pose_id)
    stuck.queue.handler.heartbeat_s = 3600  # this worker says nothing while it works
    stuck.queue.start(1)
    assert silent.started.wait(10)
    clock.now += timedelta(seconds=3)
    assert other.recovery.requeue_stale() == (1, 0)
    other.queue.start(1)
    wait_for(lambda: row(other.services, second.id).status == "completed", what="the takeover")
    assert row(other.services, second.id).attempts == 2
    silent.gate.set()
    other.close()
    stuck.close()


def test_a_queue_error_does_not_kill_the_worker(runtime, services, photo, pose_id, monkeypatch):
    calls = {"n": 0}
    dequeue = runtime.queue.huey.dequeue

    def flaky():
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("queue went away")
        return dequeue()

    monkeypatch.setattr(runtime.queue.huey, "dequeue", flaky)
    runtime.queue.start(1)
    user = services.users.add("flaky", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id)
    wait_for(lambda: row(services, generation.id).status == "completed", what="completion after the queue error")


def test_a_queue_that_cannot_take_the_job_charges_nothing(services, photo, pose_id, monkeypatch):
    from avatargen.errors import UserError

    user = services.users.add("unqueued", password="password")

    def broken(*_):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(services.generations, "enqueue", broken)
    try:
        generate_one(services, user, photo=photo, pose_id=pose_id)
        raise AssertionError("expected a refusal")
    except UserError as error:
        assert "you were not charged" in str(error)
    assert services.ledger.statement(user)["balance"] == 100
    assert services.generations.page(user)[1] == 0
