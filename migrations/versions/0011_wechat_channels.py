"""personal WeChat: the 微信客服 sync cursor and each resident's remembered compound

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resident_compounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("compound_id", sa.Integer(), sa.ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "user_id"),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("cursor", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "account"),
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_table("resident_compounds")
