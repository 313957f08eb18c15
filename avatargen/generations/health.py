"""Health for `python -m avatargen status`: queue depth per priority, workers alive, jobs per state, oldest pending."""

from datetime import timedelta

from sqlmodel import Session

from avatargen.db import connect
from avatargen.db import queries as db
from avatargen.db.tables import utcnow
from avatargen.generations.queue import JobQueue
from avatargen.settings import Settings

STATES = ("pending", "processing", "completed", "failed")


def status(settings: Settings) -> dict:
    """A snapshot: workers count as alive when their heartbeat is younger than `stale_job_seconds`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = connect.create_db_engine(settings.db_url, pool_size=1, max_overflow=0)
    try:
        connect.init_db(database)
        now = utcnow()
        with Session(database) as session:
            beats = db.worker_beats(session, seen_after=now - timedelta(seconds=settings.stale_job_seconds))
            states = db.jobs_by_state(session)
            oldest = db.oldest_pending(session)
    finally:
        database.dispose()
    return {
        "queue": JobQueue(settings.queue_location).depth(),
        "workers": [
            {
                "name": beat.name,
                "threads": beat.threads,
                "seenSecondsAgo": round((now - beat.seen_at).total_seconds(), 1),
                "upSeconds": round((now - beat.started_at).total_seconds()),
            }
            for beat in beats
        ],
        "jobs": {state: states.get(state, 0) for state in STATES},
        "oldestPendingSeconds": None if oldest is None else round((now - oldest).total_seconds(), 1),
    }


def render(report: dict) -> str:
    queue, workers, oldest = report["queue"], report["workers"], report["oldestPendingSeconds"]
    alive = ", ".join(f"{w['name']} ({w['threads']} thread(s), seen {w['seenSecondsAgo']:.0f} s ago)" for w in workers)
    return "\n".join(
        [
            f"queue          {queue['priority']} priority, {queue['normal']} normal",
            f"workers alive  {len(workers)}" + (f": {alive}" if alive else ""),
            "jobs           " + ", ".join(f"{state} {count}" for state, count in report["jobs"].items()),
            "oldest pending " + ("none" if oldest is None else f"{oldest:.0f} s"),
        ]
    )
