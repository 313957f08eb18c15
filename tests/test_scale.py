"""Scaled out for real: PostgreSQL + Redis servers, 2 front ends (`python app.py`) and 3 worker processes.

The foundation's two-user API scenario runs against front end 1 with real tiny-engine workers
(`python -m avatargen worker`). The crash test sends 200 jobs from 20 users across both front ends to workers
whose model is a slow fake (tests/slow_worker.py), kills one with SIGKILL mid-batch, restarts Redis (which keeps
nothing) while jobs wait in it, and restarts another worker: every job must end completed, or failed and refunded,
exactly once, with the ledger matching every balance and no file left over.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image
from sqlmodel import Session, select

from avatargen.db.tables import CreditTransaction, Generation, User
from avatargen.settings import Settings
from tests.conftest import make_runtime
from tests.helpers import free_port, wait_until_done
from tests.servers import RedisServer, redis_missing
from tests.test_app import (  # noqa: F401  (collected here again, against the scaled-out `served` below)
    test_custom_pose_from_a_reference_photo_stays_private,
    test_strangers_and_wrong_passwords_are_kept_out,
    test_two_users_generate_and_keep_their_work_to_themselves,
    test_user_errors_reach_the_client_and_charge_nothing,
)

ROOT = Path(__file__).parents[1]
USERS, JOBS_EACH = 20, 10
PATIENT = {"timeout": 120}  # seconds a client waits on one HTTP call: 2 front ends share 2 cores with 3 workers
STALE_S = 15.0  # workers take a silent claim as dead after this long (120 s in production)


class Cluster:
    """Front ends and workers as separate processes over one data dir, one PostgreSQL database and one Redis."""

    def __init__(self, settings: Settings, redis: RedisServer, logs: Path):
        self.settings, self.redis, self.logs = settings, redis, logs
        self.fronts: list[tuple[subprocess.Popen, str]] = []
        self.workers: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        return os.environ | {
            "AVATARGEN_DATA_DIR": str(self.settings.data_dir),
            "AVATARGEN_DATABASE_URL": self.settings.database_url,
            "AVATARGEN_QUEUE_URL": self.redis.url,
            "AVATARGEN_AUTH": "password",
            "AVATARGEN_ENGINE": "tiny",
            "AVATARGEN_WORKER_THREADS": "0",
            "AVATARGEN_STALE_JOB_SECONDS": str(STALE_S),
            "AVATARGEN_MAX_JOB_ATTEMPTS": "3",
            "HF_HUB_OFFLINE": "1",
            **extra,
        }

    def _spawn(self, command: list[str], name: str, **extra: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(command, cwd=ROOT, env=self.env(**extra), stdout=log, stderr=log)

    def start_front(self) -> str:
        port = free_port()
        process = self._spawn([sys.executable, "app.py"], f"front-{port}", AVATARGEN_PORT=str(port))
        url = f"http://127.0.0.1:{port}/"
        self.fronts.append((process, url))
        return url

    def start_worker(self, *, slow_fake: bool) -> subprocess.Popen:
        module = "tests.slow_worker" if slow_fake else "avatargen"
        args = [] if slow_fake else ["worker"]
        worker = self._spawn([sys.executable, "-m", module, *args], f"worker-{len(self.workers)}")
        self.workers.append(worker)
        return worker

    def wait_for_fronts(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for process, url in self.fronts:
            while True:
                assert process.poll() is None, f"front end {url} exited; see {self.logs}"
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"front end {url} did not start"
                time.sleep(0.5)

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers.clear()

    def close(self) -> None:
        self.stop_workers()
        for process, _ in self.fronts:
            process.terminate()
        for process, _ in self.fronts:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

    def status(self) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "avatargen", "status", "--json"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory):
    if reason := redis_missing():
        pytest.skip(reason)
    redis = RedisServer()  # its own server: the crash test restarts it
    base = tmp_path_factory.mktemp("scale")
    settings = Settings(
        data_dir=base / "data", auth="password", engine="tiny", database_url=postgres.create_database(),
        queue_url=redis.url, stale_job_seconds=STALE_S, max_job_attempts=3,
    )  # fmt: skip
    runtime = make_runtime(settings, engine=None)  # this process only reads, writes users and checks
    runtime.services.users.add("alice", password="alice-pw")
    runtime.services.users.add("bob", password="bob-password", credits=3)
    runtime.services.ledger.grant(runtime.services.users.named("bob"), 3)
    built = Cluster(settings, redis, base)
    built.start_front()
    built.start_front()
    try:
        built.wait_for_fronts()
        yield built, runtime
    finally:
        built.close()
        runtime.close()
        redis.stop()


@pytest.fixture
def served(cluster):
    """The scenario's view: front end 1, served by three tiny-engine worker processes (started when none run; the
    cluster stops them at the end)."""
    built, runtime = cluster
    if not built.workers:
        for _ in range(3):
            built.start_worker(slow_fake=False)
    return built.settings, built.fronts[0][1], runtime


def test_both_front_ends_share_one_state(served, cluster, photo):
    built, runtime = cluster
    runtime.services.users.add("dana", password="dana-password")  # her own account: alice's is test_app's
    first, second = (Client(url, auth=("dana", "dana-password"), verbose=False) for _, url in built.fronts)
    pose_id = first.predict(limit=1, api_name="/poses")["data"][0]["id"]
    job = second.predict(handle_file(str(photo)), pose_id, "sd", False, "realistic", 2**32 - 1, api_name="/generate")
    record = wait_until_done(first, job["data"]["id"])
    assert record["status"] == "completed" and record["seed"] == 2**32 - 1
    stats = second.predict(api_name="/stats")["data"]
    assert isinstance(stats["averageProcessingTime"], float)
    report = built.status()
    assert len(report["workers"]) == 3 and report["jobs"]["completed"] >= 1


@pytest.fixture
def slow_workers(cluster):
    """Three slow-fake worker processes in place of any others, stopped after the test (in any order of tests)."""
    built, _ = cluster
    built.stop_workers()
    for _ in range(3):
        built.start_worker(slow_fake=True)
    yield
    built.stop_workers()


def test_200_jobs_survive_a_killed_worker_a_restarted_worker_and_a_restarted_redis(
    cluster, slow_workers, photo, tmp_path
):
    built, runtime = cluster
    services = runtime.services
    names = [f"crowd{index:02d}" for index in range(USERS)]
    for name in names:
        services.users.add(name, password=f"{name}-password", credits=100)  # room for 10 jobs of up to 10 credits
    pose_id = services.poses.library.query(limit=1)[0][0].id
    with Image.open(photo) as original:  # each person their own bytes: Gradio shares one upload copy per content
        photos = []
        for index in range(USERS):
            photos.append(tmp_path / f"photo-{index}.jpg")
            original.save(photos[-1], quality=80 + index)

    accepted: dict[str, list[dict]] = {name: [] for name in names}
    refused: list[str] = []
    latencies: list[float] = []

    clients = [  # one person per client, alternating front ends (connected one by one: each fetches the API)
        Client(built.fronts[index % 2][1], auth=(name, f"{name}-password"), verbose=False, httpx_kwargs=PATIENT)
        for index, name in enumerate(names)
    ]

    def submit(index: int, name: str) -> None:
        client = clients[index]
        rng = random.Random(index)
        for job in range(JOBS_EACH):
            quality, priority = rng.choice(["sd", "sd", "hd"]), rng.random() < 0.3
            sent = time.monotonic()
            try:
                answer = client.predict(
                    handle_file(str(photos[index])), pose_id, quality, priority, "realistic", job, api_name="/generate"
                )
                accepted[name].append(answer["data"])
                latencies.append(time.monotonic() - sent)
            except Exception as error:  # a refusal must say nothing was charged; checked below
                refused.append(str(error))

    senders = [threading.Thread(target=submit, args=(index, name)) for index, name in enumerate(names)]
    for sender in senders:
        sender.start()

    def finished() -> int:
        with Session(services.database, expire_on_commit=False) as session:
            rows = session.exec(select(Generation.status)).all()
        return sum(status in ("completed", "failed") for status in rows)

    def wait_for(condition, what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            progress = f"{sum(map(len, accepted.values()))} accepted, {finished() - baseline} finished"
            assert time.monotonic() < deadline, f"timed out waiting for {what} ({progress}); logs in {built.logs}"
            time.sleep(0.2)

    def pending() -> int:
        with Session(services.database, expire_on_commit=False) as session:
            return len(session.exec(select(Generation.id).where(Generation.status == "pending")).all())

    baseline = finished()  # the scenario's jobs
    wait_for(lambda: finished() >= baseline + 30, "the first 30 jobs")
    built.workers[0].send_signal(signal.SIGKILL)  # mid-batch: it holds claims it will never finish
    built.workers[0].wait(10)

    for worker in built.workers[1:]:  # hold the others while people keep sending, so that jobs wait in Redis
        worker.send_signal(signal.SIGSTOP)
    wait_for(lambda: pending() >= 15 or not any(sender.is_alive() for sender in senders), "a backlog")
    waiting = pending()
    assert waiting > 0
    built.redis.restart()  # it keeps nothing: every queued message is lost, the rows must be found again
    for worker in built.workers[1:]:
        worker.send_signal(signal.SIGCONT)

    wait_for(lambda: finished() >= baseline + 100, "100 jobs")
    built.workers[1].send_signal(signal.SIGTERM)  # a polite restart
    built.workers[1].wait(30)
    built.start_worker(slow_fake=True)
    for sender in senders:
        sender.join(300)
    total = sum(len(jobs) for jobs in accepted.values())
    wait_for(lambda: finished() >= baseline + total, f"all {total} accepted jobs to finish")

    assert total + len(refused) == USERS * JOBS_EACH
    assert all("not charged" in message for message in refused), refused
    report = built.status()
    assert report["jobs"]["pending"] == report["jobs"]["processing"] == 0
    assert len(report["workers"]) == 2  # the untouched one and the new one; the killed one went silent
    with Session(services.database, expire_on_commit=False) as session:
        for name in names:
            user = session.exec(select(User).where(User.username == name)).one()
            rows = {g.id: g for g in session.exec(select(Generation).where(Generation.user_id == user.id))}
            assert set(rows) == {job["id"] for job in accepted[name]}
            ledger = session.exec(select(CreditTransaction).where(CreditTransaction.user_id == user.id)).all()
            debits = Counter(t.generation_id for t in ledger if t.reason == "generation")
            refunds = Counter(t.generation_id for t in ledger if t.reason == "refund")
            assert debits == Counter({gid: 1 for gid in rows})  # each job charged exactly once
            assert refunds == Counter({gid: 1 for gid, row in rows.items() if row.status == "failed"})
            for row in rows.values():
                assert row.status in ("completed", "failed")
                assert [t.delta for t in ledger if t.generation_id == row.id and t.reason == "generation"] == [
                    -row.credit_used
                ]
            balance = sum(t.delta for t in ledger)
            assert balance == services.ledger.statement(user)["balance"] >= 0
            assert balance == 100 - sum(row.credit_used for row in rows.values() if row.status == "completed")
        every = session.exec(select(Generation)).all()
    keys = {g.input_image_path for g in every} | {g.output_image_path for g in every if g.output_image_path}
    root = built.settings.data_dir
    files = {p.relative_to(root).as_posix() for p in root.glob("*/avatar-generator/*/*")}
    assert files == keys  # no orphan outputs from the killed worker, no lost files, no temporary leftovers
    outcomes = Counter(g.status for g in every)
    latencies.sort()
    print(
        f"outcomes: {dict(outcomes)}, waiting in Redis when it restarted: {waiting}, "
        f"refused at submission: {len(refused)}, /generate latency median "
        f"{latencies[len(latencies) // 2]:.2f} s, p95 {latencies[int(len(latencies) * 0.95)]:.2f} s"
    )
