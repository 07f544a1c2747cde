"""raw inbound messages (message store and error queue)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=True),
        sa.Column("sender", sa.String(length=400), nullable=True),
        sa.Column("control_id", sa.String(length=200), nullable=True),
        sa.Column("message_type", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_raw_messages_sender_control", "raw_messages", ["sender", "control_id"])
    op.create_index("ix_raw_messages_status", "raw_messages", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_raw_messages_status", table_name="raw_messages")
    op.drop_index("ix_raw_messages_sender_control", table_name="raw_messages")
    op.drop_table("raw_messages")
