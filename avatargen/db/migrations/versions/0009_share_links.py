"""generations can be shared at a public link: its secret token and when it ends

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_token", AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("share_expires_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_generation_share_token"), ["share_token"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_share_token"))
        batch_op.drop_column("share_expires_at")
        batch_op.drop_column("share_token")
