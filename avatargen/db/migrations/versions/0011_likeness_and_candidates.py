"""generations remember their likeness score, how many candidates were made, and the alternatives kept for a day

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("likeness", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("candidates", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("alternatives", sa.JSON(), nullable=False, server_default="[]"))
        expire_at: sa.Column = sa.Column("alternatives_expire_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        batch_op.add_column(expire_at)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_column("alternatives_expire_at")
        batch_op.drop_column("alternatives")
        batch_op.drop_column("candidates")
        batch_op.drop_column("likeness")
