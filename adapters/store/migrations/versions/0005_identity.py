"""identity matching: pairs, links, golden records, decision log, trained model

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "identity_pairs",
        sa.Column("pair_id", sa.String(length=40), nullable=False),
        sa.Column("left_id", sa.String(length=64), nullable=False),
        sa.Column("right_id", sa.String(length=64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("explanation", _json, nullable=True),
        sa.Column("manual", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pair_id"),
    )
    op.create_index("ix_identity_pairs_left", "identity_pairs", ["left_id"])
    op.create_index("ix_identity_pairs_right", "identity_pairs", ["right_id"])
    op.create_index("ix_identity_pairs_decision", "identity_pairs", ["decision", "manual"])
    op.create_table(
        "identity_links",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("golden_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=200), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("explanation", _json, nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id"),
    )
    op.create_index("ix_identity_links_golden", "identity_links", ["golden_id"])
    op.create_table(
        "identity_golden",
        sa.Column("golden_id", sa.String(length=64), nullable=False),
        sa.Column("body", _json, nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("golden_id"),
    )
    op.create_table(
        "identity_events",
        sa.Column("id", _big_id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", _json, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_models",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("model", _json, nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("identity_models")
    op.drop_table("identity_events")
    op.drop_table("identity_golden")
    op.drop_index("ix_identity_links_golden", table_name="identity_links")
    op.drop_table("identity_links")
    op.drop_index("ix_identity_pairs_decision", table_name="identity_pairs")
    op.drop_index("ix_identity_pairs_right", table_name="identity_pairs")
    op.drop_index("ix_identity_pairs_left", table_name="identity_pairs")
    op.drop_table("identity_pairs")
