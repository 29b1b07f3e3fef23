"""the worker's heartbeat: when the escalation clock last beat, per host

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("host", sa.String(200), primary_key=True),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.Column("every_seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
