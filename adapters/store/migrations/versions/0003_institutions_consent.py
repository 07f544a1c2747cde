"""institution ownership, patient compartment and sensitivity per resource; consent sharing rules

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("institution", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("patient", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sensitivity", sa.String(length=32), nullable=True))
        batch.create_index("ix_resources_patient", ["patient"])
    op.create_table(
        "consent_rules",
        sa.Column("patient", sa.String(length=64), nullable=False),
        sa.Column("grantee", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
    )
    op.create_index("ix_consent_rules_patient", "consent_rules", ["patient", "grantee"])


def downgrade() -> None:
    op.drop_index("ix_consent_rules_patient", table_name="consent_rules")
    op.drop_table("consent_rules")
    with op.batch_alter_table("resources") as batch:
        batch.drop_index("ix_resources_patient")
        batch.drop_column("sensitivity")
        batch.drop_column("patient")
        batch.drop_column("institution")
