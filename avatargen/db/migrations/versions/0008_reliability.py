"""reliability: a webhook outbox (deliveries survive restarts), request ids (a retried request is charged once)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhookoutbox",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("generation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhookoutbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhookoutbox_due_at"), ["due_at"], unique=False)

    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index("ix_generation_user_request", ["user_id", "request_id", "pose_template_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_index("ix_generation_user_request")
        batch_op.drop_column("request_id")

    with op.batch_alter_table("webhookoutbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhookoutbox_due_at"))

    op.drop_table("webhookoutbox")
