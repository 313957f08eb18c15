"""generations say what they make (image today; video and face swap to come)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        kind = sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="image")
        batch_op.add_column(kind)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_column("kind")
