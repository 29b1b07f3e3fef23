"""received events as a durable queue: the message itself and a lease while a server handles it

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("received_events") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch.create_index("ix_received_events_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("received_events") as batch:
        batch.drop_index("ix_received_events_status")
        batch.drop_column("lease_until")
        batch.drop_column("payload")
