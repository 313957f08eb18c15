"""Wires settings → database, storage, poses, queue, the services and the worker. Builds no model until asked."""

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from avatargen.accounts.api_keys import ApiKeys
from avatargen.accounts.users import Users
from avatargen.credits.ledger import Ledger
from avatargen.credits.limits import RateLimits
from avatargen.db.connect import create_db_engine, init_db
from avatargen.db.tables import utcnow
from avatargen.engine.loading import LazyEngine
from avatargen.generations.jobs import Jobs
from avatargen.generations.outbox import Outbox
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.queue import JobQueue
from avatargen.generations.recovery import Recovery
from avatargen.generations.service import Generations
from avatargen.generations.sharing import Sharing
from avatargen.generations.worker import GenerationWorker
from avatargen.poses.library import PoseLibrary
from avatargen.services import Services
from avatargen.settings import Settings
from avatargen.storage.store import Storage

if TYPE_CHECKING:
    from avatargen.engine.engine import AvatarEngine
    from avatargen.engine.video import VideoEngine

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    services: Services
    queue: JobQueue
    worker: GenerationWorker  # the queue's handler
    engine: LazyEngine
    recovery: Recovery
    outbox: Outbox  # webhook deliveries
    _stopped: threading.Event = field(default_factory=threading.Event)
    _sweeper: threading.Thread | None = None
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")  # this worker, in heartbeats

    def start_workers(self, threads: int | None = None, *, single_process: bool = False) -> None:
        """Recover what a crash left behind, then consume the queue in this process.

        `single_process` says no other worker can be alive, so every `processing` row is a leftover; otherwise only
        rows whose heartbeat is older than `stale_job_seconds` are. A sweep repeats that check while running.
        """
        threads = self.settings.worker_threads if threads is None else threads
        self.recovery.recover(stale_after=0 if single_process else None)
        self.outbox.start()
        self.queue.start(threads)
        if threads:
            self._sweeper = threading.Thread(
                target=self.recovery.sweep,
                args=(self._stopped,),
                kwargs={"worker": self.name, "threads": threads},
                name="avatargen-recovery",
                daemon=True,
            )
            self._sweeper.start()

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
        stay as they are; a job whose request died is run by the next person's request. No sweep runs there, so
        best-of-N alternatives whose day is over are deleted here first.
        """
        self.services.jobs.expire_alternatives()
        for _ in range(most):
            if not self.queue.run_next() or not self.services.jobs.is_pending(generation_id):
                return

    def close(self, *, grace: float = 30) -> None:
        """Stop consuming, waiting up to `grace` seconds per worker thread for the job it runs; jobs still running
        then go back to the queue for the next worker (their run not counted as an attempt)."""
        self._stopped.set()
        if self._sweeper is not None:
            self._sweeper.join(grace)
        self.queue.stop(grace)
        for generation in self.worker.hand_back_running():
            log.info("generation %s handed back to the queue", generation.id)
            self.queue.enqueue(generation.id, generation.priority)
        self.outbox.close()
        self.services.database.dispose()


def build_runtime(
    settings: Settings,
    *,
    load_engine: "Callable[[], AvatarEngine] | None" = None,
    load_video: "Callable[[AvatarEngine], VideoEngine] | None" = None,
    clock: Callable[[], datetime] = utcnow,
) -> Runtime:
    """Everything the app and the workers run on. `load_engine` builds the generation engine on first use
    (default: the one the settings name), `load_video` the video engine on it (default: AnimateDiff on its parts);
    `clock` is what claims, heartbeats, recovery, webhook retries and the daily top-up take as now."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = create_db_engine(settings.db_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
    init_db(database)
    queue = JobQueue(settings.queue_location)
    engine = LazyEngine(load_engine or (lambda: _load_engine(settings)))
    outbox = Outbox(
        database,
        secret=settings.webhook_secret,
        attempts=settings.webhook_attempts,
        private_ok=settings.webhook_private_ok,
        clock=clock,
    )
    storage = Storage(settings.data_dir)
    ledger = Ledger(database, daily_credits=settings.daily_credits, clock=clock)
    poses = PoseBook(settings, database=database, library=PoseLibrary.load())
    # Under `auto`, images from the placeholder model it fell back to are free: priced 0, and refunded if charged.
    placeholders_free = settings.engine == "auto"
    services = Services(
        settings=settings,
        database=database,
        storage=storage,
        users=Users(settings, database=database, ledger=ledger),
        api_keys=ApiKeys(database, clock=clock),
        ledger=ledger,
        poses=poses,
        generations=Generations(
            settings,
            database=database,
            storage=storage,
            poses=poses,
            enqueue=queue.enqueue,
            limits=RateLimits(
                per_minute=settings.rate_per_minute,
                in_flight=settings.jobs_in_flight,
                redis_url=settings.queue_location,
                clock=lambda: clock().timestamp(),
            ),
            free=lambda: placeholders_free and engine.loaded is not None and engine.loaded.placeholder,
        ),
        jobs=Jobs(database, storage=storage, placeholders_free=placeholders_free, outbox=outbox, clock=clock),
        sharing=Sharing(database, clock=clock),
    )
    video = LazyEngine(lambda: (load_video or (lambda image: _load_video(settings, image)))(engine.get()))
    worker = GenerationWorker(
        services.jobs,
        poses,
        engine,
        batch_size=settings.batch_size,
        heartbeat_s=settings.stale_job_seconds / 4,
        video=video,
    )
    queue.handler = worker
    recovery = Recovery(settings, database=database, jobs=services.jobs, queue=queue, clock=clock)
    return Runtime(
        settings=settings,
        services=services,
        queue=queue,
        worker=worker,
        engine=engine,
        recovery=recovery,
        outbox=outbox,
    )


def _load_video(settings: Settings, image: "AvatarEngine") -> "VideoEngine":
    from avatargen.engine.config import EngineConfig
    from avatargen.engine.video import load_video_engine

    return load_video_engine(image, EngineConfig.from_settings(settings))


def _load_engine(settings: Settings) -> "AvatarEngine":
    from avatargen.engine.config import EngineConfig
    from avatargen.engine.loading import load_engine

    return load_engine(EngineConfig.from_settings(settings))
