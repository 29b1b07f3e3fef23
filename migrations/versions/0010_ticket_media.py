"""media residents send (随手拍): photos and voice attached to tickets

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(300), nullable=False, index=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(100)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref", sa.JSON()),
        sa.Column("addressed", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL"), index=True),
        sa.Column("attached_at", sa.DateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), index=True),
        sa.Column("last_error", sa.Text()),
        sa.Column("file_name", sa.String(100)),
        sa.Column("thumb_name", sa.String(100)),
        sa.Column("content_type", sa.String(50)),
        sa.Column("size", sa.Integer()),
        sa.Column("note", sa.String(200)),
        sa.Column("deleted_at", sa.DateTime()),
        sa.UniqueConstraint("platform", "event_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("ticket_media")
