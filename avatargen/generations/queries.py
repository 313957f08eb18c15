"""Queries over generations. They take the session and never commit: the services own the transactions."""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy
from sqlalchemy import and_, case, func, or_, update
from sqlmodel import Session, col, select

from avatargen.db.tables import UNFINISHED, Generation, Status


def in_flight(session: Session, user_id: int) -> int:
    """This person's jobs waiting or running."""
    query = select(func.count()).where(Generation.user_id == user_id, col(Generation.status).in_(UNFINISHED))
    return session.exec(query).one()


def get_generation(session: Session, *, user_id: int, generation_id: str) -> Generation | None:
    row = session.get(Generation, generation_id)
    return row if row is not None and row.user_id == user_id else None


def list_generations(
    session: Session, *, user_id: int, limit: int, offset: int, statuses: Sequence[str] | None = None
) -> tuple[Sequence[Generation], int]:
    mine = select(Generation).where(Generation.user_id == user_id)
    if statuses:
        mine = mine.where(col(Generation.status).in_(statuses))
    total = session.exec(select(func.count()).select_from(mine.subquery())).one()
    newest_first = mine.order_by(col(Generation.created_at).desc(), col(Generation.id))
    rows = session.exec(newest_first.offset(offset).limit(limit)).all()
    return rows, total


def unfinished_generations(session: Session, *, user_id: int) -> Sequence[Generation]:
    query = (
        select(Generation)
        .where(Generation.user_id == user_id, col(Generation.status).in_(UNFINISHED))
        .order_by(col(Generation.created_at), col(Generation.id))
    )
    return session.exec(query).all()


def queue_ahead(session: Session, generation: Generation) -> int:
    """Pending rows of anyone that a worker takes before this pending one (priority first, then oldest)."""
    older = or_(
        col(Generation.created_at) < generation.created_at,
        and_(col(Generation.created_at) == generation.created_at, col(Generation.id) < generation.id),
    )
    priority = col(Generation.priority)
    ahead = and_(priority, older) if generation.priority else or_(priority, older)
    query = select(func.count(col(Generation.id))).where(Generation.status == Status.pending, ahead)
    return session.exec(query).one()


def recent_run_seconds(session: Session, *, quality: str, limit: int = 20) -> float | None:
    """The average run time of the last `limit` completed generations of a quality (anyone's), or None."""
    seconds = _seconds_between(session, Generation.started_at, Generation.completed_at).label("seconds")
    recent = (
        select(seconds)
        .where(
            Generation.status == Status.completed,
            Generation.quality == quality,
            col(Generation.started_at).is_not(None),
        )
        .order_by(col(Generation.completed_at).desc())
        .limit(limit)
        .subquery()
    )
    average = session.exec(select(func.avg(recent.c.seconds))).one()
    return None if average is None else float(average)


def generation_breakdown(session: Session, *, user_id: int) -> list[tuple[str, str, str, int, int]]:
    """(UTC day, style, quality, generations, credits kept) for a person; failed ones were refunded."""
    day = func.date(Generation.created_at)
    kept = func.sum(case((col(Generation.status) == Status.failed, 0), else_=Generation.credit_used))
    # SQLAlchemy's select: SQLModel's is typed for at most four columns.
    query = (
        sqlalchemy.select(day, col(Generation.style), col(Generation.quality), func.count(col(Generation.id)), kept)
        .where(col(Generation.user_id) == user_id)
        .group_by(day, Generation.style, Generation.quality)
        .order_by(day)
    )
    return [(str(d), style, quality, int(n), int(c or 0)) for d, style, quality, n, c in session.execute(query).all()]


def by_request(session: Session, *, user_id: int, request_id: str) -> Sequence[Generation]:
    """The generations one request of this person created, in the order it listed its poses."""
    return session.exec(
        select(Generation)
        .where(Generation.user_id == user_id, Generation.request_id == request_id)
        .order_by(col(Generation.created_at), col(Generation.id))
    ).all()


def stored_keys(session: Session, *, user_ids: set[int]) -> set[str]:
    """Every storage key the generations of these people name (`Generation.stored_keys`)."""
    if not user_ids:
        return set()
    rows = session.exec(select(Generation).where(col(Generation.user_id).in_(user_ids))).all()
    return {key for row in rows for key in row.stored_keys}


def input_in_use(session: Session, key: str) -> bool:
    """Whether some generation still uses this stored photo (the generations of one batch share it)."""
    return session.exec(select(Generation.id).where(Generation.input_image_path == key).limit(1)).first() is not None


def generation_counts(session: Session, *, user_id: int) -> dict:
    mine = Generation.user_id == user_id
    seconds = _seconds_between(session, Generation.started_at, Generation.completed_at)
    row = session.exec(
        select(
            func.count(col(Generation.id)),
            func.count(col(Generation.id)).filter(col(Generation.status) == Status.completed),
            func.count(col(Generation.id)).filter(col(Generation.status) == Status.failed),
            func.avg(seconds).filter(col(Generation.status) == Status.completed),
        ).where(mine)
    ).one()
    likeness = session.exec(
        select(func.avg(col(Generation.likeness))).where(mine, col(Generation.status) == Status.completed)
    ).one()
    return {
        "totalGenerations": row[0],
        "completedGenerations": row[1],
        "failedGenerations": row[2],
        "averageProcessingTime": round(float(row[3]), 3) if row[3] is not None else None,  # PostgreSQL: Decimal
        # over the completed outputs that show a face
        "averageLikeness": round(float(likeness), 1) if likeness is not None else None,
    }


def _seconds_between(session: Session, start, end):
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def claim_generation(session: Session, generation_id: str, *, now: datetime) -> bool:
    """Atomically move a row pending → processing; False when someone else has it (or it is gone)."""
    result = session.exec(
        update(Generation)
        .where(col(Generation.id) == generation_id, col(Generation.status) == Status.pending)
        .values(
            status=Status.processing, started_at=now, heartbeat_at=now, progress=0.0, attempts=Generation.attempts + 1
        )
    )
    return result.rowcount == 1


def next_pending_like(session: Session, generation: Generation, *, limit: int) -> list[str]:
    """Ids of pending rows of the same kind and size as `generation`: priority first, then oldest first."""
    query = (
        select(Generation.id)
        .where(
            Generation.status == Status.pending,
            Generation.kind == generation.kind,
            Generation.width == generation.width,
            Generation.height == generation.height,
            Generation.id != generation.id,
        )
        .order_by(col(Generation.priority).desc(), col(Generation.created_at), col(Generation.id))
        .limit(limit)
    )
    return list(session.exec(query).all())


def _held(generation_id: str, attempt: int | None):
    """Rows still `processing` under this claim (a claim is identified by its attempt number)."""
    held = [col(Generation.id) == generation_id, col(Generation.status) == Status.processing]
    return held if attempt is None else [*held, col(Generation.attempts) == attempt]


def set_progress(session: Session, generation_id: str, attempt: int, progress: float, *, now: datetime) -> None:
    session.exec(update(Generation).where(*_held(generation_id, attempt)).values(progress=progress, heartbeat_at=now))


def set_preview(session: Session, generation_id: str, attempt: int, key: str | None) -> bool:
    """Point a held row at its latest live preview (None: none); False when the claim no longer holds it."""
    return session.exec(update(Generation).where(*_held(generation_id, attempt)).values(preview_path=key)).rowcount == 1


def touch(session: Session, generation_id: str, attempt: int, *, now: datetime) -> None:
    session.exec(update(Generation).where(*_held(generation_id, attempt)).values(heartbeat_at=now))


def complete_generation(
    session: Session,
    generation_id: str,
    attempt: int,
    output_path: str,
    *,
    free: bool,
    now: datetime,
    details: dict | None = None,
) -> bool:
    """Mark a held row completed (`free`: its charge is dropped; `details`: more columns to set, such as the
    likeness); False when the claim no longer holds it."""
    values = {"status": Status.completed, "output_image_path": output_path, "progress": 1.0, "completed_at": now}
    values |= details or {}
    if free:
        values |= {"placeholder": True, "credit_used": 0}
    return session.exec(update(Generation).where(*_held(generation_id, attempt)).values(**values)).rowcount == 1


def expired_alternatives(session: Session, *, now: datetime) -> Sequence[Generation]:
    """Completed rows whose alternatives are due for deletion."""
    return session.exec(
        select(Generation).where(
            col(Generation.alternatives_expire_at).is_not(None), col(Generation.alternatives_expire_at) <= now
        )
    ).all()


def drop_alternatives(session: Session, generation_id: str) -> None:
    session.exec(
        update(Generation)
        .where(col(Generation.id) == generation_id)
        .values(alternatives=[], alternatives_expire_at=None)
    )


def fail_generation(
    session: Session, generation_id: str, message: str, *, attempt: int | None = None, now: datetime
) -> bool:
    """Mark a processing row failed; False when it is not (or, with `attempt`, no longer under that claim)."""
    result = session.exec(
        update(Generation)
        .where(*_held(generation_id, attempt))
        .values(status=Status.failed, error_message=message, completed_at=now)
    )
    return result.rowcount == 1


def hand_back(session: Session, generation_id: str, attempt: int) -> bool:
    """A held row back to pending, its interrupted run not counted (a clean stop, not a crash); False when the
    claim no longer holds it."""
    result = session.exec(
        update(Generation)
        .where(*_held(generation_id, attempt))
        .values(
            status=Status.pending, progress=0.0, started_at=None, heartbeat_at=None, attempts=Generation.attempts - 1
        )
    )
    return result.rowcount == 1


def requeue_stale(
    session: Session, *, stale_before: datetime, max_attempts: int
) -> tuple[list[tuple[str, bool]], list[str]]:
    """Rows left `processing` by a dead worker: back to pending, or failed when out of attempts.

    Returns ((id, priority) of the rows put back, ids of the rows to fail); the caller enqueues and refunds.
    """
    stale = session.exec(
        select(Generation.id, Generation.priority, Generation.attempts).where(
            Generation.status == Status.processing, col(Generation.heartbeat_at) < stale_before
        )
    ).all()
    retry = [(gid, priority) for gid, priority, attempts in stale if attempts < max_attempts]
    give_up = [gid for gid, _, attempts in stale if attempts >= max_attempts]
    if retry:
        session.exec(
            update(Generation)
            .where(col(Generation.id).in_([gid for gid, _ in retry]), col(Generation.status) == Status.processing)
            .values(status=Status.pending, progress=0.0, started_at=None, heartbeat_at=None)
        )
    return retry, give_up


def pending_ids(session: Session, *, created_before: datetime | None = None) -> list[tuple[str, bool]]:
    query = select(Generation.id, Generation.priority).where(Generation.status == Status.pending)
    if created_before is not None:
        query = query.where(Generation.created_at < created_before)
    return list(session.exec(query.order_by(col(Generation.created_at))).all())
