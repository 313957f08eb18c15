"""Recovery: work a crashed worker left `processing`, and queue messages a queue lost, go back in the queue.

No process assumes it is the only worker: a `processing` row belongs to a dead one only once its heartbeat is older
than `stale_job_seconds`. Time comes from `clock`, so tests move it instead of waiting.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from avatargen.db.connect import transaction
from avatargen.db.tables import utcnow
from avatargen.generations import health, queries
from avatargen.generations.jobs import Jobs
from avatargen.generations.queue import JobQueue
from avatargen.settings import Settings

log = logging.getLogger(__name__)

ORPHAN_AGE_S = 3600.0  # a stored file no generation names, this old, was left by a crash: deleted
ORPHAN_SWEEP_EVERY = 60  # sweeps (of stale_job_seconds / 4) between two looks for orphan files
LOST_GRACE_S = 5.0  # a pending row younger than this may still be on its way into the queue
STOPPED_MESSAGE = "The generator stopped while making this image; your credits were refunded."


class Recovery:
    def __init__(
        self,
        settings: Settings,
        *,
        database: Engine,
        jobs: Jobs,
        queue: JobQueue,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.settings = settings
        self.database = database
        self.jobs = jobs
        self.queue = queue
        self.clock = clock

    def requeue_stale(self, *, stale_after: float | None = None) -> tuple[int, int]:
        """Put `processing` rows whose worker went silent back in the queue, or fail and refund them (once) when
        they are out of attempts. Returns (queued again, failed)."""
        stale_after = self.settings.stale_job_seconds if stale_after is None else stale_after
        with transaction(self.database) as session:
            retry, give_up = queries.requeue_stale(
                session,
                stale_before=self.clock() - timedelta(seconds=stale_after),
                max_attempts=self.settings.max_job_attempts,
            )
        for generation_id, priority in retry:
            self.queue.enqueue(generation_id, priority)
        failed = sum(self.jobs.fail(gid, STOPPED_MESSAGE) for gid in give_up)
        if retry or failed:
            log.info("recovery: %d stalled generations queued again, %d failed and refunded", len(retry), failed)
        return len(retry), failed

    def requeue_lost(self, *, grace: float = LOST_GRACE_S) -> int:
        """Queue pending rows again when the queue holds fewer messages than there are pending rows: it lost some
        (Redis restarted without persistence). A duplicate message is harmless, its claim fails."""
        with transaction(self.database) as session:
            pending = queries.pending_ids(session, created_before=self.clock() - timedelta(seconds=grace))
        if len(pending) <= len(self.queue):
            return 0
        for generation_id, priority in pending:
            self.queue.enqueue(generation_id, priority)
        log.info("recovery: %d pending generations queued again (the queue had lost messages)", len(pending))
        return len(pending)

    def sweep_orphans(self, *, older_than: float = ORPHAN_AGE_S) -> int:
        """Delete stored files that no generation names and that are older than `older_than` seconds: photos of a
        request whose front end died before its transaction committed, half-written or staged files, outputs of
        a worker killed before it recorded them. Returns how many went."""
        storage = self.jobs.storage
        candidates = storage.files_before(self.clock().timestamp() - older_than)
        owners = {int(key.split("/")[2]) for key in candidates}
        with transaction(self.database) as session:
            named = queries.stored_keys(session, user_ids=owners)
        orphans = [key for key in candidates if key not in named]
        for key in orphans:
            storage.path(key).unlink(missing_ok=True)
        if orphans:
            log.info("recovery: %d stored files no generation names were deleted", len(orphans))
        return len(orphans)

    def recover(self, *, stale_after: float | None = None) -> int:
        """At start: requeue stalled work, and enqueue every `pending` row again (its message may be lost; a
        duplicate message is harmless, its claim fails). Returns how many rows were queued."""
        self.requeue_stale(stale_after=stale_after)
        self.sweep_orphans()
        with transaction(self.database) as session:
            pending = queries.pending_ids(session)
        for generation_id, priority in pending:
            self.queue.enqueue(generation_id, priority)
        return len(pending)

    def sweep(self, stopped: threading.Event, *, worker: str, threads: int) -> None:
        """Until `stopped`: say this worker is alive every quarter of `stale_job_seconds`; every other time, recover
        stalled claims and lost messages, and delete best-of-N alternatives whose day is over. A clean stop removes
        this worker's heartbeat."""
        started, tick = self.clock(), 0
        while True:
            try:
                with transaction(self.database) as session:
                    health.beat(session, name=worker, threads=threads, started_at=started, now=self.clock())
                if tick % 2:
                    self.requeue_stale()
                    self.requeue_lost()
                    self.jobs.expire_alternatives()
                if tick % ORPHAN_SWEEP_EVERY == ORPHAN_SWEEP_EVERY - 1:
                    self.sweep_orphans()
            except Exception:
                log.exception("recovery sweep failed")
            if stopped.wait(self.settings.stale_job_seconds / 4):
                break
            tick += 1
        try:
            with transaction(self.database) as session:
                health.forget_worker(session, worker)
        except Exception:
            log.exception("could not remove this worker's heartbeat")
