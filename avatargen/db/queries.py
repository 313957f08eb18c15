"""Database engine and the queries the service composes. Functions take the session explicitly."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, or_, update
from sqlmodel import Session, select

from avatargen.db.tables import CreditTransaction, CustomPose, Generation, User, WebhookTarget, WorkerBeat, utcnow

# Users and credits


def get_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def add_user(
    session: Session, *, username: str, starting_credits: int, role: str = "user", password_hash: str | None = None
) -> User:
    """Insert a user with their one starting grant (caller commits)."""
    user = User(username=username, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    if starting_credits:
        session.add(CreditTransaction(user_id=user.id, delta=starting_credits, reason="grant"))
    return user


def lock_user(session: Session, user_id: int) -> None:
    """Take the write lock on a user's row first, so concurrent debits of one balance run one at a time.

    PostgreSQL locks the row (`SELECT … FOR UPDATE`); SQLite has no row locks, so a no-op UPDATE takes its write lock.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.exec(update(User).where(User.id == user_id).values(id=User.id))
    else:
        session.exec(select(User.id).where(User.id == user_id).with_for_update())


def balance(session: Session, user_id: int) -> int:
    total = session.exec(select(func.sum(CreditTransaction.delta)).where(CreditTransaction.user_id == user_id))
    return int(total.one() or 0)


def topped_up_since(session: Session, user_id: int, moment: datetime) -> bool:
    query = select(CreditTransaction.id).where(
        CreditTransaction.user_id == user_id,
        CreditTransaction.reason == "daily",
        CreditTransaction.created_at >= moment,
    )
    return session.exec(query.limit(1)).first() is not None


def ledger(session: Session, user_id: int, *, limit: int) -> Sequence[CreditTransaction]:
    query = (
        select(CreditTransaction)
        .where(CreditTransaction.user_id == user_id)
        .order_by(CreditTransaction.id.desc())
        .limit(limit)
    )
    return session.exec(query).all()


def in_flight(session: Session, user_id: int) -> int:
    """This person's jobs waiting or running."""
    query = select(func.count()).where(Generation.user_id == user_id, Generation.status.in_(("pending", "processing")))
    return session.exec(query).one()


def set_person_webhook(session: Session, *, user_id: int, url: str | None) -> None:
    """Set (or with None remove) the URL a person's finished generations are posted to (caller commits)."""
    current = session.exec(
        select(WebhookTarget).where(WebhookTarget.user_id == user_id, WebhookTarget.generation_id.is_(None))
    ).first()
    if current is not None:
        session.delete(current)
        session.flush()
    if url:
        session.add(WebhookTarget(user_id=user_id, url=url))


# Custom poses


def custom_poses(session: Session, *, user_id: int) -> Sequence[CustomPose]:
    query = select(CustomPose).where(CustomPose.user_id == user_id).order_by(CustomPose.created_at.desc())
    return session.exec(query).all()


def count_custom_poses(session: Session, *, user_id: int) -> int:
    return session.exec(select(func.count()).select_from(CustomPose).where(CustomPose.user_id == user_id)).one()


def get_custom_pose(session: Session, *, user_id: int, pose_id: str) -> CustomPose | None:
    row = session.get(CustomPose, pose_id)
    return row if row is not None and row.user_id == user_id else None


def unfinished_with_pose(session: Session, *, user_id: int, pose_id: str) -> bool:
    query = select(Generation.id).where(
        Generation.user_id == user_id,
        Generation.pose_template_id == pose_id,
        Generation.status.in_(("pending", "processing")),
    )
    return session.exec(query.limit(1)).first() is not None


# Generations


def get_generation(session: Session, *, user_id: int, generation_id: str) -> Generation | None:
    row = session.get(Generation, generation_id)
    return row if row is not None and row.user_id == user_id else None


def list_generations(
    session: Session, *, user_id: int, limit: int, offset: int, statuses: Sequence[str] | None = None
) -> tuple[Sequence[Generation], int]:
    mine = select(Generation).where(Generation.user_id == user_id)
    if statuses:
        mine = mine.where(Generation.status.in_(statuses))
    total = session.exec(select(func.count()).select_from(mine.subquery())).one()
    rows = session.exec(mine.order_by(Generation.created_at.desc(), Generation.id).offset(offset).limit(limit)).all()
    return rows, total


def unfinished_generations(session: Session, *, user_id: int) -> Sequence[Generation]:
    query = (
        select(Generation)
        .where(Generation.user_id == user_id, Generation.status.in_(("pending", "processing")))
        .order_by(Generation.created_at, Generation.id)
    )
    return session.exec(query).all()


def queue_ahead(session: Session, generation: Generation) -> int:
    """Pending rows of anyone that a worker takes before this pending one (priority first, then oldest)."""
    older = or_(
        Generation.created_at < generation.created_at,
        and_(Generation.created_at == generation.created_at, Generation.id < generation.id),
    )
    ahead = and_(Generation.priority, older) if generation.priority else or_(Generation.priority, older)
    query = select(func.count(Generation.id)).where(Generation.status == "pending", ahead)
    return session.exec(query).one()


def recent_run_seconds(session: Session, *, quality: str, limit: int = 20) -> float | None:
    """The average run time of the last `limit` completed generations of a quality (anyone's), or None."""
    seconds = _seconds_between(session, Generation.started_at, Generation.completed_at).label("seconds")
    recent = (
        select(seconds)
        .where(Generation.status == "completed", Generation.quality == quality, Generation.started_at.is_not(None))
        .order_by(Generation.completed_at.desc())
        .limit(limit)
        .subquery()
    )
    average = session.exec(select(func.avg(recent.c.seconds))).one()
    return None if average is None else float(average)


def generation_breakdown(session: Session, *, user_id: int) -> list[tuple[str, str, str, int, int]]:
    """(UTC day, style, quality, generations, credits kept) for a person; failed ones were refunded."""
    day = func.date(Generation.created_at)
    kept = func.sum(case((Generation.status == "failed", 0), else_=Generation.credit_used))
    query = (
        select(day, Generation.style, Generation.quality, func.count(Generation.id), kept)
        .where(Generation.user_id == user_id)
        .group_by(day, Generation.style, Generation.quality)
        .order_by(day)
    )
    return [(str(d), style, quality, int(n), int(c or 0)) for d, style, quality, n, c in session.exec(query).all()]


def input_in_use(session: Session, key: str) -> bool:
    """Whether some generation still uses this stored photo (the generations of one batch share it)."""
    return session.exec(select(Generation.id).where(Generation.input_image_path == key).limit(1)).first() is not None


def generation_stats(session: Session, *, user_id: int) -> dict:
    mine = Generation.user_id == user_id
    seconds = _seconds_between(session, Generation.started_at, Generation.completed_at)
    row = session.exec(
        select(
            func.count(Generation.id),
            func.count(Generation.id).filter(Generation.status == "completed"),
            func.count(Generation.id).filter(Generation.status == "failed"),
            func.avg(seconds).filter(Generation.status == "completed"),
        ).where(mine)
    ).one()
    spent = session.exec(
        select(func.sum(CreditTransaction.delta)).where(
            CreditTransaction.user_id == user_id, CreditTransaction.reason.in_(("generation", "refund"))
        )
    ).one()
    return {
        "totalGenerations": row[0],
        "completedGenerations": row[1],
        "failedGenerations": row[2],
        "averageProcessingTime": round(float(row[3]), 3) if row[3] is not None else None,  # PostgreSQL: Decimal
        "totalCreditsUsed": -int(spent or 0),
    }


def _seconds_between(session: Session, start, end):
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def claim_generation(session: Session, generation_id: str) -> bool:
    """Atomically move a row pending → processing; False when someone else has it (or it is gone)."""
    now = utcnow()
    result = session.exec(
        update(Generation)
        .where(Generation.id == generation_id, Generation.status == "pending")
        .values(status="processing", started_at=now, heartbeat_at=now, progress=0.0, attempts=Generation.attempts + 1)
    )
    session.commit()
    return result.rowcount == 1


def next_pending_like(session: Session, generation: Generation, *, limit: int) -> list[str]:
    """Ids of pending rows of the same size as `generation`: priority first, then oldest first."""
    query = (
        select(Generation.id)
        .where(
            Generation.status == "pending",
            Generation.width == generation.width,
            Generation.height == generation.height,
            Generation.id != generation.id,
        )
        .order_by(Generation.priority.desc(), Generation.created_at, Generation.id)
        .limit(limit)
    )
    return list(session.exec(query).all())


def _held(generation_id: str, attempt: int | None):
    """Rows still `processing` under this claim (a claim is identified by its attempt number)."""
    held = [Generation.id == generation_id, Generation.status == "processing"]
    return held if attempt is None else [*held, Generation.attempts == attempt]


def set_progress(session: Session, generation_id: str, attempt: int, progress: float) -> None:
    session.exec(
        update(Generation).where(*_held(generation_id, attempt)).values(progress=progress, heartbeat_at=utcnow())
    )
    session.commit()


def touch(session: Session, generation_id: str, attempt: int) -> None:
    session.exec(update(Generation).where(*_held(generation_id, attempt)).values(heartbeat_at=utcnow()))
    session.commit()


def complete_generation(
    session: Session, generation_id: str, attempt: int, output_path: str, *, placeholder: bool = False
) -> bool:
    """Mark a held row completed; a `placeholder` output is free: its charge is refunded in the same transaction."""
    values = {"status": "completed", "output_image_path": output_path, "progress": 1.0, "completed_at": utcnow()}
    charged = session.get(Generation, generation_id).credit_used if placeholder else 0
    if placeholder:
        values |= {"placeholder": True, "credit_used": 0}
    result = session.exec(update(Generation).where(*_held(generation_id, attempt)).values(**values))
    if result.rowcount != 1:
        session.rollback()
        return False
    if charged:
        user_id = session.get(Generation, generation_id).user_id
        session.add(CreditTransaction(user_id=user_id, delta=charged, reason="refund", generation_id=generation_id))
    session.commit()
    return True


def fail_and_refund(session: Session, generation_id: str, message: str, *, attempt: int | None = None) -> bool:
    """Mark a processing row failed and refund its credits in one transaction; True only the first time.

    With `attempt`, only while that claim still holds the row.
    """
    row = session.get(Generation, generation_id)
    if row is None:
        return False
    result = session.exec(
        update(Generation)
        .where(*_held(generation_id, attempt))
        .values(status="failed", error_message=message, completed_at=utcnow())
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    session.add(
        CreditTransaction(user_id=row.user_id, delta=row.credit_used, reason="refund", generation_id=generation_id)
    )
    session.commit()
    return True


def requeue_stale(
    session: Session, *, stale_before: datetime, max_attempts: int
) -> tuple[list[tuple[str, bool]], list[str]]:
    """Rows left `processing` by a dead worker: back to pending, or failed when out of attempts.

    Returns ((id, priority) of the rows put back, ids of the rows to fail); the caller enqueues and refunds.
    """
    stale = session.exec(
        select(Generation.id, Generation.priority, Generation.attempts).where(
            Generation.status == "processing", Generation.heartbeat_at < stale_before
        )
    ).all()
    retry = [(gid, priority) for gid, priority, attempts in stale if attempts < max_attempts]
    give_up = [gid for gid, _, attempts in stale if attempts >= max_attempts]
    if retry:
        session.exec(
            update(Generation)
            .where(Generation.id.in_([gid for gid, _ in retry]), Generation.status == "processing")
            .values(status="pending", progress=0.0, started_at=None, heartbeat_at=None)
        )
        session.commit()
    return retry, give_up


def pending_ids(session: Session, *, created_before: datetime | None = None) -> list[tuple[str, bool]]:
    query = select(Generation.id, Generation.priority).where(Generation.status == "pending")
    if created_before is not None:
        query = query.where(Generation.created_at < created_before)
    return list(session.exec(query.order_by(Generation.created_at)).all())


# Health


def beat(session: Session, *, name: str, threads: int, started_at: datetime) -> None:
    """Record that worker process `name` is alive now."""
    session.merge(WorkerBeat(name=name, threads=threads, started_at=started_at, seen_at=utcnow()))
    session.commit()


def forget_worker(session: Session, name: str) -> None:
    row = session.get(WorkerBeat, name)
    if row is not None:
        session.delete(row)
        session.commit()


def worker_beats(session: Session, *, seen_after: datetime) -> Sequence[WorkerBeat]:
    query = select(WorkerBeat).where(WorkerBeat.seen_at >= seen_after).order_by(WorkerBeat.started_at)
    return session.exec(query).all()


def jobs_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Generation.status, func.count()).group_by(Generation.status)).all()
    return dict(rows)


def oldest_pending(session: Session) -> datetime | None:
    return session.exec(select(func.min(Generation.created_at)).where(Generation.status == "pending")).one()
