"""Cancelling a waiting generation: refunded once, in the same transaction; only its owner; refused once it runs.

On SQLite and PostgreSQL (the `services` fixture runs on both)."""

import pytest
from sqlmodel import Session, select

from avatargen.db.tables import CreditTransaction
from avatargen.errors import NotFound, UserError
from tests.conftest import generate_batch


def ledger_sum(services, user) -> int:
    with Session(services.database) as session:
        return sum(t.delta for t in session.exec(select(CreditTransaction).where(CreditTransaction.user_id == user.id)))


def test_a_waiting_generation_is_cancelled_and_refunded_once(services, photo, pose_id):
    alice = services.users.add("alice", password="wonderland")
    first, second = generate_batch(services, alice, photo=photo, pose_ids=[pose_id, pose_id])
    assert services.ledger.statement(alice)["balance"] == 90
    assert services.generations.cancel(alice, second.id) == 5
    assert services.ledger.statement(alice)["balance"] == 95 == ledger_sum(services, alice)
    with pytest.raises(NotFound):
        services.generations.get(alice, second.id)
    with pytest.raises(NotFound):  # a second cancel finds nothing: no second refund
        services.generations.cancel(alice, second.id)
    assert ledger_sum(services, alice) == 95
    assert services.generations.input_paths(alice, first.id)[0].exists()  # the batch's shared photo stays


def test_only_the_owner_cancels_and_never_once_it_runs(services, photo, pose_id):
    alice = services.users.add("alice", password="wonderland")
    bob = services.users.add("bob", password="the-builder")
    [mine] = generate_batch(services, alice, photo=photo, pose_ids=[pose_id])
    with pytest.raises(NotFound):  # another person's id answers like a missing one
        services.generations.cancel(bob, mine.id)
    assert services.jobs.claim(mine.id) is not None  # a worker has it now
    with pytest.raises(UserError, match="already started"):
        services.generations.cancel(alice, mine.id)
    assert services.ledger.statement(alice)["balance"] == 95
