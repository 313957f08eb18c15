"""Health for `python -m avatargen status`: queue depth per priority, workers alive, jobs per state, oldest pending."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from avatargen.db import connect
from avatargen.db.tables import Generation, Status, WorkerBeat, utcnow
from avatargen.generations.queue import JobQueue
from avatargen.settings import Settings


def beat(session: Session, *, name: str, threads: int, started_at: datetime, now: datetime) -> None:
    """Record that worker process `name` is alive now."""
    session.merge(WorkerBeat(name=name, threads=threads, started_at=started_at, seen_at=now))


def forget_worker(session: Session, name: str) -> None:
    row = session.get(WorkerBeat, name)
    if row is not None:
        session.delete(row)


def _worker_beats(session: Session, *, seen_after: datetime) -> Sequence[WorkerBeat]:
    query = select(WorkerBeat).where(WorkerBeat.seen_at >= seen_after).order_by(col(WorkerBeat.started_at))
    return session.exec(query).all()


def _jobs_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Generation.status, func.count()).group_by(Generation.status)).all()
    return {str(status): count for status, count in rows}


def _oldest_pending(session: Session) -> datetime | None:
    return session.exec(select(func.min(Generation.created_at)).where(Generation.status == Status.pending)).one()


def status(settings: Settings) -> dict:
    """A snapshot: workers count as alive when their heartbeat is younger than `stale_job_seconds`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = connect.create_db_engine(settings.db_url, pool_size=1, max_overflow=0)
    try:
        connect.init_db(database)
        now = utcnow()
        with connect.transaction(database) as session:
            beats = _worker_beats(session, seen_after=now - timedelta(seconds=settings.stale_job_seconds))
            states = _jobs_by_state(session)
            oldest = _oldest_pending(session)
    finally:
        database.dispose()
    return {
        "queue": JobQueue(settings.queue_location).depth(),
        "workers": [
            {
                "name": worker.name,
                "threads": worker.threads,
                "seenSecondsAgo": round((now - worker.seen_at).total_seconds(), 1),
                "upSeconds": round((now - worker.started_at).total_seconds()),
            }
            for worker in beats
        ],
        "jobs": {str(state): states.get(state, 0) for state in Status},
        "oldestPendingSeconds": None if oldest is None else round((now - oldest).total_seconds(), 1),
    }


def _queue_line(queue: dict[str, int], *, pending: int) -> str:
    """The queue's messages beside the database's pending jobs: the rows are the truth, messages only carry ids."""
    messages = queue["priority"] + queue["normal"]
    line = f"{messages} messages ({queue['priority']} priority, {queue['normal']} normal) for {pending} pending jobs"
    if messages > pending:
        return f"{line}; {messages - pending} are for jobs deleted, finished or queued twice, which workers skip"
    if messages < pending:
        return f"{line}; {pending - messages} pending jobs have no message yet: the recovery sweep queues them again"
    return line


def render(report: dict) -> str:
    queue, workers, oldest = report["queue"], report["workers"], report["oldestPendingSeconds"]
    alive = ", ".join(f"{w['name']} ({w['threads']} thread(s), seen {w['seenSecondsAgo']:.0f} s ago)" for w in workers)
    return "\n".join(
        [
            "queue          " + _queue_line(queue, pending=report["jobs"][Status.pending]),
            f"workers alive  {len(workers)}" + (f": {alive}" if alive else ""),
            "jobs           " + ", ".join(f"{state} {count}" for state, count in report["jobs"].items()),
            "oldest pending " + ("none" if oldest is None else f"{oldest:.0f} s"),
        ]
    )
