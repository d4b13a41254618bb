"""Every table, once. Times in the event log are epoch microseconds (``*_us``): compact,
exactly ordered and free of per-row conversion on the ingest hot path."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (append-only, no extra index).
Seq = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("rate_limit_per_s", Float, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)

event_log = Table(
    "event_log",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("source_id", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("type", String(20), nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("sent_at_us", BigInteger, nullable=True),
    Column("original_timestamp_us", BigInteger, nullable=True),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("source_id", "message_id", name="uq_event_log_source_message"),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("source_id", Integer, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("reason", String(50), nullable=False),
    Column("detail", Text, nullable=False),
    Column("message_id", Text, nullable=True),
    Column("payload", LargeBinary, nullable=False),
    # Where the item came from: "tracking", "import", "webhook" or "processing" (NULL: tracking).
    Column("stage", String(20), nullable=True),
    # A readable place: "crm.csv:17", "table customers", so a user can find the row.
    Column("origin", Text, nullable=True),
    # Set when a retry brought the item in (it stays listed as history).
    Column("resolved_at_us", BigInteger, nullable=True),
    Index("ix_rejects_source_received", "source_id", "received_at_us"),
    Index("ix_rejects_message_id", "message_id"),
)

worker_checkpoints = Table(
    "worker_checkpoints",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("traits", Json, nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Column("merged_into", String(36), nullable=True),
)

profile_identifiers = Table(
    "profile_identifiers",
    metadata,
    Column("type", String(50), primary_key=True),
    Column("value", Text, primary_key=True),
    Column("profile_id", String(36), nullable=False, index=True),
    Column("source_id", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
)

profile_events = Table(
    "profile_events",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
)

profile_merges = Table(
    "profile_merges",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("survivor_id", String(36), nullable=False, index=True),
    Column("merged_id", String(36), nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
)

source_mappings = Table(
    "source_mappings",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("source_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("fingerprint", String(16), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    # Set again each time the mapping is given (an import, set-mapping): the newest one is the
    # one webhooks and quarantine retries use.
    Column("registered_at_us", BigInteger, nullable=False),
    UniqueConstraint("source_id", "version", name="uq_source_mappings_source_version"),
)
"""Every distinct mapping a source has used; log entries name the version they were read with."""

import_cursors = Table(
    "import_cursors",
    metadata,
    Column("source_id", Integer, primary_key=True),
    Column("location", Text, primary_key=True),
    Column("column_name", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
"""How far an incremental database import has read a table (JSON-encoded cursor value)."""

source_records = Table(
    "source_records",
    metadata,
    Column("source_id", Integer, primary_key=True),
    Column("record_id", Text, primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("fields", Json, nullable=False),
    Column("raw", Json, nullable=False),
    Column("flags", Json, nullable=False),
    Column("extra", Json, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("mapping_version", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("origin", Text, nullable=True),
)
"""The current, standardized version of every record a source has sent (derived from the log)."""

record_identifiers = Table(
    "record_identifiers",
    metadata,
    Column("type", String(50), primary_key=True),
    Column("value", Text, primary_key=True),
    Column("source_id", Integer, primary_key=True),
    Column("record_id", Text, primary_key=True),
    Index("ix_record_identifiers_record", "source_id", "record_id"),
)
"""Standardized identifiers of the current records (only values that standardized cleanly)."""

DERIVED_TABLES = (
    profile_merges,
    profile_events,
    profile_identifiers,
    profiles,
    record_identifiers,
    source_records,
)
"""Views recomputed from the log by ``c360 rebuild`` (children first)."""
