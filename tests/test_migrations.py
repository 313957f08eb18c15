"""The schema comes from numbered Alembic migrations; they must match the models exactly."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from avatargen.db.connect import alembic_config, create_db_engine, init_db


def test_migrations_build_exactly_the_models_schema(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    init_db(engine)
    init_db(engine)  # a second start changes nothing
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    tables = set(inspect(engine).get_table_names())
    assert {"user", "credittransaction", "generation", "custompose", "alembic_version"} <= tables


def test_migrations_go_down_and_up_again(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    init_db(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    init_db(engine)
    assert "generation" in inspect(engine).get_table_names()
