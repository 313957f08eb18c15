"""video generations: the clip's MP4 and WebP preview keys, its frame count and frame rate

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_path", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("animation_path", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("frames", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fps", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_column("fps")
        batch_op.drop_column("frames")
        batch_op.drop_column("animation_path")
        batch_op.drop_column("video_path")
