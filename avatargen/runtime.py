"""Wires settings → database, storage, poses, queue, service and worker. Builds no model until asked."""

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from avatargen.credits.limits import RateLimits
from avatargen.db import queries as db
from avatargen.db.connect import create_db_engine, init_db
from avatargen.db.tables import utcnow
from avatargen.engine.loading import LazyEngine
from avatargen.generations.queue import JobQueue
from avatargen.generations.service import AvatarService
from avatargen.generations.webhooks import Webhooks
from avatargen.generations.worker import GenerationWorker
from avatargen.poses.library import PoseLibrary
from avatargen.settings import Settings
from avatargen.storage.store import Storage

if TYPE_CHECKING:
    from avatargen.engine.engine import AvatarEngine

log = logging.getLogger(__name__)

LOST_GRACE_S = 5.0  # a pending row younger than this may still be on its way into the queue


@dataclass
class Runtime:
    settings: Settings
    service: AvatarService
    queue: JobQueue
    engine: LazyEngine
    webhooks: Webhooks
    _stopped: threading.Event = field(default_factory=threading.Event)
    _sweeper: threading.Thread | None = None
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")  # this worker, in heartbeats

    def __post_init__(self) -> None:
        if self.settings.engine == "auto":
            self.service.placeholder_fallback = self.fell_back_to_placeholder

    def fell_back_to_placeholder(self) -> bool:
        """`auto` could not load the real models and runs the tiny placeholder instead."""
        return self.engine.loaded is not None and self.engine.loaded.placeholder

    def start_workers(self, threads: int | None = None, *, single_process: bool = False) -> None:
        """Recover what a crash left behind, then consume the queue in this process.

        `single_process` says no other worker can be alive, so every `processing` row is a leftover; otherwise only
        rows whose heartbeat is older than `stale_job_seconds` are. A sweep repeats that check while running.
        """
        threads = self.settings.worker_threads if threads is None else threads
        self.service.recover(stale_after=0 if single_process else None)
        self.queue.start(threads)
        if threads:
            self._sweeper = threading.Thread(
                target=self._sweep, args=(threads,), name="avatargen-recovery", daemon=True
            )
            self._sweeper.start()

    def _sweep(self, threads: int) -> None:
        """Say this worker is alive every quarter of `stale_job_seconds`; every other time, recover stalled claims
        and lost messages."""
        started, tick = utcnow(), 0
        while True:
            try:
                with self.service.session() as session:
                    db.beat(session, name=self.name, threads=threads, started_at=started)
                if tick % 2:
                    self.service.requeue_stale()
                    self.requeue_lost()
            except Exception:
                log.exception("recovery sweep failed")
            if self._stopped.wait(self.settings.stale_job_seconds / 4):
                break
            tick += 1
        try:
            with self.service.session() as session:
                db.forget_worker(session, self.name)
        except Exception:
            log.exception("could not remove this worker's heartbeat")

    def requeue_lost(self, *, grace: float = LOST_GRACE_S) -> int:
        """Queue pending rows again when the queue holds fewer messages than there are pending rows: it lost some
        (Redis restarted without persistence). A duplicate message is harmless, its claim fails."""
        with self.service.session() as session:
            pending = db.pending_ids(session, created_before=utcnow() - timedelta(seconds=grace))
        if len(pending) <= len(self.queue):
            return 0
        for generation_id, priority in pending:
            self.queue.enqueue(generation_id, priority)
        log.info("recovery: %d pending generations queued again (the queue had lost messages)", len(pending))
        return len(pending)

    def warm_up(self) -> threading.Thread:
        """Load the engine in the background so the first person does not wait for it."""

        def load() -> None:
            try:
                self.engine.get()
            except Exception:
                log.exception("the generation engine could not be loaded")

        thread = threading.Thread(target=load, name="avatargen-engine-load", daemon=True)
        thread.start()
        return thread

    def run_queued(self, generation_id: str, *, most: int = 4) -> None:
        """Run queued jobs in this thread until this generation has left the queue (or `most` jobs ran).

        For ZeroGPU, where GPU work must run inside the person's own request: the queue order, claims and recovery
        stay as they are; a job whose request died is run by the next person's request.
        """
        for _ in range(most):
            if not self.queue.run_next() or not self.service.is_pending(generation_id):
                return

    def close(self) -> None:
        self._stopped.set()
        if self._sweeper is not None:
            self._sweeper.join(30)
        self.queue.stop()
        self.webhooks.close()
        self.service.database.dispose()


def build_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = create_db_engine(settings.db_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
    init_db(database)
    queue = JobQueue(settings.queue_location)
    webhooks = Webhooks(
        database,
        secret=settings.webhook_secret,
        attempts=settings.webhook_attempts,
        private_ok=settings.webhook_private_ok,
    )
    limits = RateLimits(
        per_minute=settings.rate_per_minute, in_flight=settings.jobs_in_flight, redis_url=settings.queue_location
    )
    service = AvatarService(
        settings,
        database=database,
        storage=Storage(settings.data_dir),
        poses=PoseLibrary.load(),
        enqueue=queue.enqueue,
        limits=limits,
        notify=webhooks.notify,
    )
    engine = LazyEngine(lambda: _load_engine(settings))
    queue.handler = GenerationWorker(
        service, engine, batch_size=settings.batch_size, heartbeat_s=settings.stale_job_seconds / 4
    )
    return Runtime(settings=settings, service=service, queue=queue, engine=engine, webhooks=webhooks)


def _load_engine(settings: Settings) -> "AvatarEngine":
    from avatargen.engine.config import EngineConfig
    from avatargen.engine.loading import load_engine

    return load_engine(EngineConfig.from_settings(settings))
