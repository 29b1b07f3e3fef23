"""the FAQ suggestion a resident chose for a question the FAQ did not answer directly

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite adds a foreign key only by rebuilding the table
    with op.batch_alter_table("faq_asked") as batch:
        batch.add_column(sa.Column("picked_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("faq_asked_picked_id_fkey", "faq_entries", ["picked_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("faq_asked") as batch:
        batch.drop_constraint("faq_asked_picked_id_fkey", type_="foreignkey")
        batch.drop_column("picked_id")
