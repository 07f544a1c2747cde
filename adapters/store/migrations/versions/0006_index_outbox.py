"""search indexing: pending marker on outbox events, dead-letter records

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("indexed", sa.BigInteger(), nullable=True))
    op.create_index("ix_outbox_pending", "outbox", ["seq"], postgresql_where=sa.text("indexed IS NULL"),
                    sqlite_where=sa.text("indexed IS NULL"))
    op.create_table(
        "index_dead_letters",
        sa.Column("id", _big_id, autoincrement=True, nullable=False),
        sa.Column("res_key", sa.String(length=130), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("index_dead_letters")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("indexed")
