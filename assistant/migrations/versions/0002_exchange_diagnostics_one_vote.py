"""exchange diagnostics (scope, retrieved, writer, total_ms); one feedback vote per answer

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("exchanges") as batch:
        batch.add_column(sa.Column("scope", sa.String(32), nullable=True))
        batch.add_column(sa.Column("retrieved", sa.JSON, nullable=True))
        batch.add_column(sa.Column("writer", sa.String(16), nullable=True))
        batch.add_column(sa.Column("total_ms", sa.Float, nullable=True))
        batch.create_index("ix_exchanges_created_at", ["created_at"])
    # Earlier versions accepted any number of votes per answer: keep the latest of each.
    op.execute("DELETE FROM feedback WHERE id NOT IN (SELECT MAX(id) FROM feedback GROUP BY exchange_id)")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_exchange_id")
        batch.create_index("ix_feedback_exchange_id", ["exchange_id"], unique=True)


def downgrade():
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_exchange_id")
        batch.create_index("ix_feedback_exchange_id", ["exchange_id"])
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_index("ix_exchanges_created_at")
        batch.drop_column("total_ms")
        batch.drop_column("writer")
        batch.drop_column("retrieved")
        batch.drop_column("scope")
