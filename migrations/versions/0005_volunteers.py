"""party-member volunteers (党员志愿者): registrations, tasks offered and claimed, points ledger

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("sender_id", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("work_unit", sa.String(length=100), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["compounds.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "user_id"),
    )
    op.create_index("ix_volunteers_compound_id", "volunteers", ["compound_id"])
    op.create_index("ix_volunteers_status", "volunteers", ["status"])
    op.create_table(
        "volunteer_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("offered_at", sa.DateTime(), nullable=False),
        sa.Column("offered_by", sa.String(length=100), nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("claim_due_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("rating", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["compound_id"], ["compounds.id"]),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_volunteer_tasks_compound_id", "volunteer_tasks", ["compound_id"])
    op.create_index("ix_volunteer_tasks_status", "volunteer_tasks", ["status"])
    op.create_index("ix_volunteer_tasks_volunteer_id", "volunteer_tasks", ["volunteer_id"])
    op.create_index("ix_volunteer_tasks_claim_due_at", "volunteer_tasks", ["claim_due_at"])
    op.create_table(
        "volunteer_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["volunteer_tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_volunteer_points_volunteer_id", "volunteer_points", ["volunteer_id"])
    op.create_index("ix_volunteer_points_at", "volunteer_points", ["at"])


def downgrade() -> None:
    op.drop_table("volunteer_points")
    op.drop_table("volunteer_tasks")
    op.drop_table("volunteers")
