"""Wires settings → database, storage, poses, queue, service and worker. Builds no model until asked."""

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avatargen.db import create_db_engine, init_db
from avatargen.jobs import JobQueue
from avatargen.poses import PoseLibrary
from avatargen.service import AvatarService
from avatargen.settings import Settings
from avatargen.storage import Storage
from avatargen.worker import GenerationWorker, LazyEngine

if TYPE_CHECKING:
    from avatargen.engine import AvatarEngine

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    service: AvatarService
    queue: JobQueue
    engine: LazyEngine
    _stopped: threading.Event = field(default_factory=threading.Event)

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
            sweep = threading.Thread(target=self._sweep, name="avatargen-recovery", daemon=True)
            sweep.start()

    def _sweep(self) -> None:
        while not self._stopped.wait(self.settings.stale_job_seconds / 2):
            try:
                self.service.requeue_stale()
            except Exception:
                log.exception("recovery sweep failed")

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
        self.queue.stop()
        self.service.database.dispose()


def build_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = create_db_engine(settings.db_url)
    init_db(database)
    queue = JobQueue(settings.queue_location)
    service = AvatarService(
        settings, database=database, storage=Storage(settings.data_dir), poses=PoseLibrary.load(), enqueue=queue.enqueue
    )
    engine = LazyEngine(lambda: _load_engine(settings))
    queue.handler = GenerationWorker(
        service, engine, batch_size=settings.batch_size, heartbeat_s=settings.stale_job_seconds / 4
    )
    return Runtime(settings=settings, service=service, queue=queue, engine=engine)


def _load_engine(settings: Settings) -> "AvatarEngine":
    from avatargen.engine import EngineConfig, load_engine

    return load_engine(EngineConfig.from_settings(settings))
