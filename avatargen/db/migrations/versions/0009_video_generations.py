"""video generations: the clip's MP4 and WebP preview keys, its frame count and frame rate

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 23:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_path", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("preview_path", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("frames", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fps", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_column("fps")
        batch_op.drop_column("frames")
        batch_op.drop_column("preview_path")
        batch_op.drop_column("video_path")
