"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 19:53:37.499118
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_username"), ["username"], unique=True)

    op.create_table(
        "credittransaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("generation_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("credittransaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credittransaction_generation_id"), ["generation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credittransaction_user_id"), ["user_id"], unique=False)

    op.create_table(
        "custompose",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("view", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("framing", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("keypoints", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("custompose", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custompose_user_id"), ["user_id"], unique=False)

    op.create_table(
        "generation",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pose_template_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("input_image_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("output_image_path", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("quality", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("style", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error_message", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("credit_used", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generation_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_status"), ["status"], unique=False)
        batch_op.create_index("ix_generation_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_user_id"))
        batch_op.drop_index("ix_generation_user_created")
        batch_op.drop_index(batch_op.f("ix_generation_status"))
        batch_op.drop_index(batch_op.f("ix_generation_created_at"))

    op.drop_table("generation")
    with op.batch_alter_table("custompose", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custompose_user_id"))

    op.drop_table("custompose")
    with op.batch_alter_table("credittransaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credittransaction_user_id"))
        batch_op.drop_index(batch_op.f("ix_credittransaction_generation_id"))

    op.drop_table("credittransaction")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_username"))

    op.drop_table("user")
