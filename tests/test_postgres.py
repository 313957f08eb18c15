"""What SQLite never complained about (PostgreSQL's types, migrations racing at start, row locks), on both backends."""

import subprocess
import sys
import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, inspect, text
from sqlmodel import Session, SQLModel

from avatargen.credits.ledger import lock_user
from avatargen.db import connect
from avatargen.db.tables import Generation
from tests.conftest import generate_one

ROOT = Path(__file__).parents[1]
MIGRATE = (
    "import sys; from avatargen.db.connect import create_db_engine, init_db; init_db(create_db_engine(sys.argv[1]))"
)


def test_migrations_build_exactly_the_models_schema_on_postgres(postgres):
    url = postgres.create_database()
    starts = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # three processes start on an empty database at once: the advisory lock lets one migrate, then the others
    for process in starts:
        assert process.wait(120) == 0, process.stderr.read()
    engine = connect.create_db_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
        head = ScriptDirectory.from_config(connect.alembic_config(connection)).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    columns = {column["name"]: column["type"] for column in inspect(engine).get_columns("generation")}
    assert isinstance(columns["seed"], BigInteger)
    engine.dispose()


def test_the_largest_seed_and_stats_round_trip_as_plain_numbers(settings, services, runtime, photo, pose_id):
    user = services.users.add("numbers", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id, seed=2**32 - 1)
    assert runtime.queue.run_next()
    with Session(services.database, expire_on_commit=False) as session:
        assert session.get(Generation, generation.id).seed == 2**32 - 1
    stats = services.generations.stats(user)
    assert type(stats["averageProcessingTime"]) is float and stats["completedGenerations"] == 1


def test_a_debit_waits_for_the_row_lock_held_by_another(settings, services):
    """A second locker blocks until the first commits (PostgreSQL: `SELECT … FOR UPDATE`; SQLite: its write lock)."""
    user = services.users.add("locked", password="password")
    order: list[str] = []
    first = Session(services.database, expire_on_commit=False)
    lock_user(first, user.id)

    def second() -> None:
        with Session(services.database, expire_on_commit=False) as session:
            lock_user(session, user.id)
            order.append("second")
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    order.append("first")
    first.commit()
    first.close()
    thread.join(30)
    assert order == ["first", "second"]
