"""Wires settings → database, storage, poses, queue, the services and the worker. Builds no model until asked."""

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from avatargen.accounts.users import Users
from avatargen.credits.ledger import Ledger
from avatargen.credits.limits import RateLimits
from avatargen.db.connect import create_db_engine, init_db
from avatargen.db.tables import utcnow
from avatargen.engine.loading import LazyEngine
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.queue import JobQueue
from avatargen.generations.recovery import Recovery
from avatargen.generations.service import Generations
from avatargen.generations.webhooks import Webhooks
from avatargen.generations.worker import GenerationWorker
from avatargen.poses.library import PoseLibrary
from avatargen.schedule import Schedule
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
    engine: LazyEngine
    recovery: Recovery
    webhooks: Webhooks
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
        stay as they are; a job whose request died is run by the next person's request.
        """
        for _ in range(most):
            if not self.queue.run_next() or not self.services.jobs.is_pending(generation_id):
                return

    def close(self) -> None:
        self._stopped.set()
        if self._sweeper is not None:
            self._sweeper.join(30)
        self.queue.stop()
        self.webhooks.close()
        self.services.database.dispose()


def build_runtime(
    settings: Settings,
    *,
    load_engine: "Callable[[], AvatarEngine] | None" = None,
    load_video: "Callable[[AvatarEngine], VideoEngine] | None" = None,
    schedule: Schedule | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Runtime:
    """Everything the app and the workers run on. `load_engine` builds the generation engine on first use
    (default: the one the settings name), `load_video` the video engine on it (default: AnimateDiff on its parts);
    `schedule` times webhook retries (default: on the monotonic clock);
    `clock` is what claims, heartbeats, recovery and the daily top-up take as now."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = create_db_engine(settings.db_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
    init_db(database)
    queue = JobQueue(settings.queue_location)
    engine = LazyEngine(load_engine or (lambda: _load_engine(settings)))
    webhooks = Webhooks(
        database,
        secret=settings.webhook_secret,
        attempts=settings.webhook_attempts,
        private_ok=settings.webhook_private_ok,
        schedule=schedule,
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
            ),
            free=lambda: placeholders_free and engine.loaded is not None and engine.loaded.placeholder,
        ),
        jobs=Jobs(database, storage=storage, placeholders_free=placeholders_free, notify=webhooks.notify, clock=clock),
    )
    video = LazyEngine(lambda: (load_video or (lambda image: _load_video(settings, image)))(engine.get()))
    queue.handler = GenerationWorker(
        services.jobs,
        poses,
        engine,
        batch_size=settings.batch_size,
        heartbeat_s=settings.stale_job_seconds / 4,
        video=video,
    )
    recovery = Recovery(settings, database=database, jobs=services.jobs, queue=queue, clock=clock)
    return Runtime(
        settings=settings, services=services, queue=queue, engine=engine, recovery=recovery, webhooks=webhooks
    )


def _load_video(settings: Settings, image: "AvatarEngine") -> "VideoEngine":
    from avatargen.engine.config import EngineConfig
    from avatargen.engine.video import load_video_engine

    return load_video_engine(image, EngineConfig.from_settings(settings))


def _load_engine(settings: Settings) -> "AvatarEngine":
    from avatargen.engine.config import EngineConfig
    from avatargen.engine.loading import load_engine

    return load_engine(EngineConfig.from_settings(settings))
