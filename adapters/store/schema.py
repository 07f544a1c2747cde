"""SQLAlchemy Core tables of the normalized store. Alembic migrations create and evolve them."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

resources = sa.Table(
    "resources", metadata,
    sa.Column("pid", BigId, primary_key=True, autoincrement=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("res_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("institution", sa.String(200)),
    sa.Column("patient", sa.String(64)),
    sa.Column("sensitivity", sa.String(32)),
    sa.UniqueConstraint("res_type", "res_id", name="uq_resources_type_id"),
    sa.Index("ix_resources_type_updated", "res_type", "last_updated"),
    sa.Index("ix_resources_patient", "patient"),
)

resource_versions = sa.Table(
    "resource_versions", metadata,
    sa.Column("pid", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("res_id", sa.String(64), nullable=False),
    sa.Column("last_updated", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("source", sa.String(500)),
    sa.Column("body", Json),
    sa.PrimaryKeyConstraint("pid", "version", name="pk_resource_versions"),
    sa.Index("ix_versions_updated", "last_updated"),
    sa.Index("ix_versions_type_updated", "res_type", "last_updated"),
)


def _index_table(name: str, *columns: sa.Column, indexes: tuple[tuple[str, ...], ...]) -> sa.Table:
    table = sa.Table(
        name, metadata,
        sa.Column("pid", sa.BigInteger, nullable=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        *columns,
        sa.Index(f"ix_{name}_pid", "pid"),
    )
    for cols in indexes:
        sa.Index(f"ix_{name}_{'_'.join(cols)}", *[table.c[c] for c in cols])
    return table


idx_token = _index_table(
    "idx_token",
    sa.Column("system", sa.String(200)), sa.Column("code", sa.String(200)), sa.Column("display", sa.String(200)),
    indexes=(("res_type", "param", "code"),),
)
idx_string = _index_table(
    "idx_string",
    sa.Column("norm", sa.String(200), nullable=False), sa.Column("exact", sa.String(200), nullable=False),
    indexes=(("res_type", "param", "norm"),),
)
idx_date = _index_table(
    "idx_date",
    sa.Column("low", sa.BigInteger, nullable=False), sa.Column("high", sa.BigInteger, nullable=False),
    indexes=(("res_type", "param", "low"), ("res_type", "param", "high")),
)
idx_reference = _index_table(
    "idx_reference",
    sa.Column("target_type", sa.String(64)), sa.Column("target_id", sa.String(64)), sa.Column("url", sa.String(500)),
    indexes=(("target_type", "target_id"), ("res_type", "param", "target_id")),
)
idx_quantity = _index_table(
    "idx_quantity",
    sa.Column("value", sa.Float, nullable=False), sa.Column("system", sa.String(200)),
    sa.Column("code", sa.String(200)), sa.Column("unit", sa.String(200)),
    indexes=(("res_type", "param", "value"),),
)
idx_uri = _index_table(
    "idx_uri",
    sa.Column("uri", sa.String(500), nullable=False),
    indexes=(("res_type", "param", "uri"),),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("res_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(8), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("indexed", sa.BigInteger),  # when the search index took the event in; NULL while pending
    sa.Index("ix_outbox_pending", "seq", postgresql_where=sa.text("indexed IS NULL"),
             sqlite_where=sa.text("indexed IS NULL")),
)

index_dead_letters = sa.Table(
    "index_dead_letters", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("res_key", sa.String(130), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

INDEX_TABLES = {
    "tokens": (idx_token, ("param", "system", "code", "display")),
    "strings": (idx_string, ("param", "norm", "exact")),
    "dates": (idx_date, ("param", "low", "high")),
    "references": (idx_reference, ("param", "target_type", "target_id", "url")),
    "quantities": (idx_quantity, ("param", "value", "system", "code", "unit")),
    "uris": (idx_uri, ("param", "uri")),
}

raw_messages = sa.Table(
    "raw_messages", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("peer", sa.String(200)),
    sa.Column("sender", sa.String(400)),
    sa.Column("control_id", sa.String(200)),
    sa.Column("message_type", sa.String(40)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Index("ix_raw_messages_sender_control", "sender", "control_id"),
    sa.Index("ix_raw_messages_status", "status", "id"),
)

consent_rules = sa.Table(
    "consent_rules", metadata,
    sa.Column("patient", sa.String(64), nullable=False),
    sa.Column("grantee", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Index("ix_consent_rules_patient", "patient", "grantee"),
)

allocation_jobs = sa.Table(
    "allocation_jobs", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("institution", sa.String(200)),
    sa.Column("client_id", sa.String(200)),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("problem", Json, nullable=False),
    sa.Column("options", Json, nullable=False),
    sa.Column("result", Json),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_allocation_jobs_institution", "institution", "created"),
)

# Identity matching (engine.identity): scored pairs with manual decisions, links to golden records, golden
# records, the decision log and the trained model.
identity_pairs = sa.Table(
    "identity_pairs", metadata,
    sa.Column("pair_id", sa.String(40), primary_key=True),
    sa.Column("left_id", sa.String(64), nullable=False),
    sa.Column("right_id", sa.String(64), nullable=False),
    sa.Column("probability", sa.Float),
    sa.Column("decision", sa.String(16)),
    sa.Column("explanation", Json),
    sa.Column("manual", sa.String(16)),
    sa.Column("actor", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Index("ix_identity_pairs_left", "left_id"),
    sa.Index("ix_identity_pairs_right", "right_id"),
    sa.Index("ix_identity_pairs_decision", "decision", "manual"),
)

identity_links = sa.Table(
    "identity_links", metadata,
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("golden_id", sa.String(64), nullable=False),
    sa.Column("institution", sa.String(200)),
    sa.Column("probability", sa.Float),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("explanation", Json),
    sa.Column("manual", sa.Boolean, nullable=False),
    sa.Column("actor", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Index("ix_identity_links_golden", "golden_id"),
)

identity_golden = sa.Table(
    "identity_golden", metadata,
    sa.Column("golden_id", sa.String(64), primary_key=True),
    sa.Column("body", Json, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
)

identity_events = sa.Table(
    "identity_events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("detail", Json, nullable=False),
    sa.Column("actor", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.BigInteger, nullable=False),
)

identity_models = sa.Table(
    "identity_models", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("model", Json, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
)
