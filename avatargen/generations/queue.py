"""The job queue (huey): messages carry only a generation id; priority jobs first, then oldest first."""

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.storage import SqliteStorage

log = logging.getLogger(__name__)

PRIORITY = 10  # huey runs higher numbers first and, within one number, in enqueue order


def make_huey(url: str, *, name: str = "avatargen") -> Huey:
    """A huey instance for `sqlite:///path` or `redis://…`; results are not stored (the DB row is the truth)."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(path), results=False, timeout=30)
    if scheme in ("redis", "rediss"):
        return PriorityRedisHuey(name, url=url, results=False)
    raise ValueError(f"AVATARGEN_QUEUE_URL must be sqlite:///… or redis://…, not {url!r}")


class JobQueue:
    """Enqueues generation ids and runs them through `handler` in consumer loops.

    A process that only enqueues (a front end with remote workers) leaves `handler` unset.
    """

    def __init__(self, url: str, handler: Callable[[str], None] | None = None):
        self.huey = make_huey(url)
        self.handler = handler
        self._task = self.huey.task(name="generate")(self._run)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, generation_id: str) -> None:
        if self.handler is None:
            raise RuntimeError("This queue only enqueues: it was made without a handler to run generations.")
        self.handler(generation_id)

    def enqueue(self, generation_id: str, priority: bool = False) -> None:
        self._task(generation_id, priority=PRIORITY if priority else 0)
        self._wake.set()

    def __len__(self) -> int:
        return self.huey.pending_count()

    def depth(self) -> dict[str, int]:
        """Messages waiting, per priority."""
        storage = self.huey.storage
        if isinstance(storage, SqliteStorage):
            counts = dict(
                storage.sql(
                    "select priority, count(*) from task where queue = ? group by priority",
                    (storage.name,),
                    results=True,
                )
            )
        else:  # PriorityRedisStorage scores a message with minus its priority
            counts = {level: storage.conn.zcount(storage.queue_key, -level, -level) for level in (PRIORITY, 0)}
        return {"priority": counts.get(PRIORITY, 0), "normal": counts.get(0, 0)}

    def run_next(self) -> bool:
        """Run the next queued job, if any; False when the queue was empty."""
        task = self.huey.dequeue()
        if task is None:
            return False
        try:
            self.huey.execute(task)
        except Exception:  # the handler records its own failures; keep the loop alive whatever happens
            log.exception("job %s raised", task.id)
        return True

    def serve(self, *, idle_wait: float = 0.5, max_backoff: float = 30.0) -> None:
        """Consume until stop(); wakes at once for jobs enqueued in this process, polls for the others.

        A queue that cannot be read (Redis down, SQLite locked) is retried with a growing pause, never fatal.
        """
        backoff = idle_wait
        while not self._stop.is_set():
            try:
                ran = self.run_next()
                backoff = idle_wait
            except Exception:
                log.exception("the job queue could not be read; retrying in %.1f s", backoff)
                self._stop.wait(backoff)
                backoff = min(2 * backoff, max_backoff)
                continue
            if not ran:
                self._wake.wait(idle_wait)
                self._wake.clear()

    def start(self, threads: int) -> None:
        for index in range(threads):
            thread = threading.Thread(target=self.serve, name=f"avatargen-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
