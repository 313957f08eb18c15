"""Scale out: BIGINT seed, worker heartbeats, webhook targets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:09:26.613633
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workerbeat",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "webhooktarget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("generation_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["generation_id"], ["generation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhooktarget", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhooktarget_generation_id"), ["generation_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_webhooktarget_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.alter_column("seed", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.alter_column("seed", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False)

    with op.batch_alter_table("webhooktarget", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooktarget_user_id"))
        batch_op.drop_index(batch_op.f("ix_webhooktarget_generation_id"))

    op.drop_table("webhooktarget")
    op.drop_table("workerbeat")
