"""The credit ledger: a balance is the sum of a person's entries; every change is one signed entry.

Query functions take the session and never commit: the caller's transaction decides, so a debit and the record it
pays for (or a refund and the status change that causes it) are written together or not at all. May import `db`.
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from avatargen.db.connect import transaction
from avatargen.db.paging import page_bounds
from avatargen.db.tables import CreditTransaction, Reason, User, iso, utcnow
from avatargen.errors import UserError


def lock_user(session: Session, user_id: int) -> None:
    """Take the write lock on a user's row first, so concurrent debits of one balance run one at a time.

    PostgreSQL locks the row (`SELECT … FOR UPDATE`); SQLite has no row locks, so a no-op UPDATE takes its write lock.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.exec(update(User).where(col(User.id) == user_id).values(id=User.id))
    else:
        session.exec(select(User.id).where(User.id == user_id).with_for_update())


def balance(session: Session, user_id: int) -> int:
    total = session.exec(select(func.sum(CreditTransaction.delta)).where(CreditTransaction.user_id == user_id))
    return int(total.one() or 0)


def record(
    session: Session, *, user_id: int, delta: int, reason: Reason, generation_id: str | None = None
) -> CreditTransaction:
    """Add one signed entry to a person's ledger."""
    entry = CreditTransaction(user_id=user_id, delta=delta, reason=reason, generation_id=generation_id)
    session.add(entry)
    return entry


def entries(session: Session, user_id: int, *, limit: int) -> Sequence[CreditTransaction]:
    query = (
        select(CreditTransaction)
        .where(CreditTransaction.user_id == user_id)
        .order_by(col(CreditTransaction.id).desc())
        .limit(limit)
    )
    return session.exec(query).all()


def spent(session: Session, user_id: int) -> int:
    """Credits a person's generations kept: charges less refunds."""
    total = session.exec(
        select(func.sum(CreditTransaction.delta)).where(
            CreditTransaction.user_id == user_id,
            col(CreditTransaction.reason).in_((Reason.generation, Reason.refund)),
        )
    ).one()
    return -int(total or 0)


def _topped_up_since(session: Session, user_id: int, moment: datetime) -> bool:
    query = select(CreditTransaction.id).where(
        CreditTransaction.user_id == user_id,
        CreditTransaction.reason == Reason.daily,
        CreditTransaction.created_at >= moment,
    )
    return session.exec(query.limit(1)).first() is not None


class Ledger:
    """Reads and grants that stand alone; charges and refunds are recorded by the generations service."""

    def __init__(self, database: Engine, *, daily_credits: int = 0, clock: Callable[[], datetime] = utcnow):
        self.database = database
        self.daily_credits = daily_credits  # a balance below this is topped up to it once per UTC day; 0: off
        self.clock = clock  # what "today" is

    def statement(self, user: User, *, limit: int = 50) -> dict:
        """The balance and the newest entries."""
        with transaction(self.database) as session:
            return {
                "balance": balance(session, user.stored_id),
                "transactions": [
                    {
                        "delta": entry.delta,
                        "reason": str(entry.reason),
                        "generationId": entry.generation_id,
                        "createdAt": iso(entry.created_at),
                    }
                    for entry in entries(session, user.stored_id, limit=page_bounds(limit, 0)[0])
                ],
            }

    def grant(self, user: User, amount: int) -> int:
        """An administrator's change (negative to take credits back); returns the new balance."""
        with transaction(self.database) as session:
            lock_user(session, user.stored_id)
            if balance(session, user.stored_id) + amount < 0:
                raise UserError("A balance cannot go below zero.")
            record(session, user_id=user.stored_id, delta=amount, reason=Reason.admin)
            return balance(session, user.stored_id)

    def top_up_daily(self, user: User) -> int:
        """Once per UTC day, bring a balance below `daily_credits` up to it (a "daily" ledger entry).

        Concurrent first requests of the day take the person's row lock in turn, so one of them tops up and the
        others see its entry. Returns the credits added (0 when none were due).
        """
        floor = self.daily_credits
        today = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        with transaction(self.database) as session:
            if _topped_up_since(session, user.stored_id, today) or balance(session, user.stored_id) >= floor:
                return 0
            lock_user(session, user.stored_id)
            if _topped_up_since(session, user.stored_id, today):
                return 0
            missing = floor - balance(session, user.stored_id)
            if missing <= 0:
                return 0
            record(session, user_id=user.stored_id, delta=missing, reason=Reason.daily)
            return missing
