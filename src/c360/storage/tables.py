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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from c360.storage.sealing import Sealed

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
    Column("expires_at_us", BigInteger, nullable=True),  # a rotated key's grace period
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
    Column("payload", Sealed("text", "event_log.payload"), nullable=False),
    # the event's name and properties in clear beside a sealed payload (segments read them)
    Column("facts", Text, nullable=True),
    UniqueConstraint("source_id", "message_id", name="uq_event_log_source_message"),
    # a position is never given twice, even after erasure removed the newest rows (0014)
    sqlite_autoincrement=True,
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
    Column("payload", Sealed("bytes", "rejects.payload"), nullable=False),
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
    Column("traits", Sealed("json", "profiles.traits"), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Column("merged_into", String(36), nullable=True, index=True),
    # The golden record (survivorship over the profile's records, with provenance).
    Column("golden", Sealed("json", "profiles.golden"), nullable=True),
    Column("household_id", String(36), nullable=True, index=True),
    # Computed traits (``c360.profiles.traits``) and when the first of them changes with time
    # alone (an event leaving a window): the worker recomputes profiles that fall due.
    Column("computed", Json, nullable=True),
    Column("computed_due_us", BigInteger, nullable=True, index=True),
    # Every identifier of the profile as "type:value", sorted: what the change feed compares.
    Column("identifier_set", Sealed("json", "profiles.identifier_set"), nullable=True),
    # What segment conditions read (``c360.segments.view``), and when the first segment
    # answer may change with time alone (an event leaving a window): the worker re-evaluates.
    Column("attributes", Json, nullable=True),
    Column("segments_due_us", BigInteger, nullable=True, index=True),
)

profile_events = Table(
    "profile_events",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    # The identity the event came in under (its userId, else its anonymousId): when identity
    # resolution moves that node to another profile, its events move with it.
    Column("node_id", BigInteger, nullable=True, index=True),
    # The event's (corrected) timestamp: the timeline pages by it.
    Column("at_us", BigInteger, nullable=True),
    Index("ix_profile_events_timeline", "profile_id", "at_us", "seq"),
    Index("ix_profile_events_seq", "seq"),
)

profile_merges = Table(
    "profile_merges",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("survivor_id", String(36), nullable=False, index=True),
    Column("merged_id", String(36), nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    # "merge" or "split"; the evidence: the edges that joined (or the decision that parted) them.
    Column("action", String(10), nullable=False, server_default="merge"),
    Column("evidence", Sealed("json", "profile_merges.evidence"), nullable=True),
    Column("at_us", BigInteger, nullable=True),
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

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("source_id", Integer, nullable=False),
    Column("kind", String(10), nullable=False),  # file, table, retry
    Column("location", Text, nullable=False),  # the file's path, the table, "quarantine"
    Column("mapping_version", Integer, nullable=True),
    Column("status", String(10), nullable=False),  # running, done, failed
    Column("started_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    # counts of the batches committed so far: a run cut short shows what it logged
    Column("read", BigInteger, nullable=False),
    Column("new", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("unchanged", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("error", Text, nullable=True),
    Column("details", Json, nullable=False),
    Index("ix_import_runs_source", "source_id", "started_at_us"),
)
"""Each import and quarantine retry with its counts. Not derived: ``c360 rebuild`` keeps it."""

source_records = Table(
    "source_records",
    metadata,
    Column("source_id", Integer, primary_key=True),
    Column("record_id", Text, primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("fields", Sealed("json", "source_records.fields"), nullable=False),
    Column("raw", Sealed("json", "source_records.raw"), nullable=False),
    Column("flags", Json, nullable=False),
    Column("extra", Sealed("json", "source_records.extra"), nullable=False),
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

identity_nodes = Table(
    "identity_nodes",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("source_id", Integer, nullable=False),
    Column("node_type", String(20), nullable=False),
    Column("node_key", Text, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("features", Sealed("json", "identity_nodes.features"), nullable=False),
    Column("identifiers", Sealed("json", "identity_nodes.identifiers"), nullable=False),
    Column("limited", Json, nullable=False),
    Column("traits", Sealed("json", "identity_nodes.traits"), nullable=True),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("profile_id", String(36), nullable=True, index=True),
    UniqueConstraint("source_id", "node_type", "node_key", name="uq_identity_nodes_key"),
)
"""What identity resolution links into profiles: source records (``record``) and identities
the tracking API saw (``user_id``, ``anonymous_id``), with their comparison features."""

identity_keys = Table(
    "identity_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("node_id", BigInteger, primary_key=True),
    Column("role", Integer, nullable=False),
    Index("ix_identity_keys_node", "node_id"),
)
"""The index nodes meet through: identifiers, rule and blocking keys, links."""

identity_pairs = Table(
    "identity_pairs",
    metadata,
    Column("a", BigInteger, primary_key=True),
    Column("b", BigInteger, primary_key=True),
    Column("weight", Float, nullable=False),
    Column("levels", String(16), nullable=False),
    Index("ix_identity_pairs_b", "b"),
)
"""Every scored candidate pair (a < b) with its match weight and comparison levels."""

identity_models = Table(
    "identity_models",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("params", Json, nullable=False),
    Column("config", Json, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
"""Trained match models and the configuration they were trained with (the newest is used)."""

identity_decisions = Table(
    "identity_decisions",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("detail", Sealed("json", "identity_decisions.detail"), nullable=False),
)
"""A person's decisions: ``split`` (these records apart from those), ``apart`` and ``same``
(a review item). They are not derived from the log: ``c360 rebuild`` keeps them."""

identity_decision_nodes = Table(
    "identity_decision_nodes",
    metadata,
    Column("decision_id", BigInteger, primary_key=True),
    Column("source_id", Integer, primary_key=True),
    Column("node_type", String(20), primary_key=True),
    Column("node_key", Text, primary_key=True),
    Column("side", Integer, nullable=False),
    Index("ix_identity_decision_nodes_node", "source_id", "node_type", "node_key"),
)

identity_reviews = Table(
    "identity_reviews",
    metadata,
    Column("a", BigInteger, primary_key=True),
    Column("b", BigInteger, primary_key=True),
    Column("weight", Float, nullable=False),
    Column("reason", Text, nullable=False),
)
"""Node pairs in the review band (or refused as ambiguous) that are in different profiles:
open questions for a person. A decision (``identity_decisions``) answers one for good."""

profile_terms = Table(
    "profile_terms",
    metadata,
    # code-point order on PostgreSQL whatever the database's locale: prefix ranges use the index
    Column(
        "term", String(200).with_variant(String(200, collation="C"), "postgresql"), primary_key=True
    ),
    Column("profile_id", String(36), primary_key=True),
    Index("ix_profile_terms_profile", "profile_id"),
)
"""The search index: normalised name tokens (native script, romanized, without diacritics),
emails, phones and identifiers of each live profile (``c360.profiles.search``)."""

profile_changes = Table(
    "profile_changes",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("profile_id", String(36), nullable=False, index=True),
    # profile_created, trait_changed, identifier_added, identifier_removed, merged, split,
    # segment_entered, segment_exited
    Column("kind", String(30), nullable=False),
    Column("detail", Sealed("json", "profile_changes.detail"), nullable=False),
    # The last log entry applied when the change was made.
    Column("seq", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    sqlite_autoincrement=True,  # cursors never see an id twice (0014)
)
"""The change feed: every change to a profile, in order. Not derived: ``c360 rebuild`` keeps
it and adds nothing for what it replays (consumers keep their cursors)."""

trait_configs = Table(
    "trait_configs",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("body", Json, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
"""Computed-trait settings (currency rates, RFM, user-defined traits); the newest is used."""

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False),
    # change kinds delivered (an empty list: every kind)
    Column("kinds", Json, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("disabled_at_us", BigInteger, nullable=True),
    # the last change id delivered (or dead-lettered)
    Column("cursor", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failing_since_us", BigInteger, nullable=True),  # first failure of the batch in flight
    Column("consent_purpose", String(50), nullable=True),  # people without it are left out
    Column("country", String(2), nullable=True),  # ISO 3166 alpha-2 it is hosted in
    # the profile fields its changes may carry (None: every field; docs/privacy.md)
    Column("fields", Json, nullable=True),
)
"""Webhook subscriptions to the change feed: each delivers changes in order from its cursor."""

subscription_dead_letters = Table(
    "subscription_dead_letters",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, nullable=False, index=True),
    Column("change_id", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("redelivered_at_us", BigInteger, nullable=True),
)
"""Changes a subscription gave up on after its retries, kept to inspect and send again."""

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("condition", Json, nullable=False),  # the JSON form (c360.segments.language)
    Column("text", Text, nullable=False),  # the canonical text form
    Column("timezone", String(64), nullable=False),
    Column("description", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
"""Saved segments. Not derived from the log: ``c360 rebuild`` keeps them."""

segment_members = Table(
    "segment_members",
    metadata,
    Column("segment_id", Integer, primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("entered_at_us", BigInteger, nullable=False),
    Index("ix_segment_members_profile", "profile_id"),
)
"""Who is in each segment now (entries and exits are in the change feed)."""

# --- activation (journeys, messages) ---

journeys = Table(
    "journeys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("definition", Json, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("start_seq", BigInteger, nullable=False),
    Column("start_change_id", BigInteger, nullable=False),
    Column("next_run_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
"""Journeys as saved (``status`` active or paused). Events after ``start_seq`` and changes after
``start_change_id`` can enter people; earlier ones never do."""

journey_entries = Table(
    "journey_entries",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("journey_id", Integer, nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("entry_no", Integer, nullable=False),
    Column("arm", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("step", String(60), nullable=True),
    Column("wake_at_us", BigInteger, nullable=True, index=True),
    Column("waiting_for", String(200), nullable=True),
    Column("trigger", Sealed("json", "journey_entries.trigger"), nullable=False),
    Column("entered_at_us", BigInteger, nullable=False),
    Column("ended_at_us", BigInteger, nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("goal_until_us", BigInteger, nullable=True),
    Column("converted_at_us", BigInteger, nullable=True),
    Column("revenue", Float, nullable=True),
    UniqueConstraint("journey_id", "profile_id", "entry_no"),
    Index("ix_journey_entries_profile", "profile_id", "status"),
)
"""Each person's pass through a journey: ``arm`` treatment or control, ``status`` active or
ended, ``step`` where they are, ``wake_at_us`` when a wait ends."""

journey_steps = Table(
    "journey_steps",
    metadata,
    Column("entry_id", BigInteger, primary_key=True),
    Column("step", String(60), primary_key=True),
    Column("at_us", BigInteger, nullable=False),
    Column("outcome", Json, nullable=False),
)
"""Steps done, once per entry (the primary key is the at-most-once guarantee)."""

messages = Table(
    "messages",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False, unique=True),
    Column("journey_id", Integer, nullable=True),
    Column("entry_id", BigInteger, nullable=True, index=True),
    Column("step", String(60), nullable=True),
    Column("profile_id", String(36), nullable=False, index=True),
    Column("channel", String(10), nullable=False),
    Column("address", Text, nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("consent", String(50), nullable=True),
    Column("subject", Sealed("text", "messages.subject"), nullable=True),
    Column("body", Sealed("text", "messages.body"), nullable=False),
    Column("html", Sealed("text", "messages.html"), nullable=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=True),
    Column("provider_id", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("sent_at_us", BigInteger, nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("opened_at_us", BigInteger, nullable=True),
    Column("clicked_at_us", BigInteger, nullable=True),
    Index("ix_messages_due", "status", "next_attempt_us"),
    Index("ix_messages_provider", "channel", "provider_id"),
)
"""The outbox: every message a journey sent or decided not to send (``status`` queued, sending,
sent, delivered, bounced, failed, skipped, cancelled; ``reason`` says why)."""

suppressions = Table(
    "suppressions",
    metadata,
    Column("channel", String(10), primary_key=True),
    Column("address", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
"""Addresses never to send to (bounced, complained, asked), by channel; ``*`` for all."""

link_secrets = Table(
    "link_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
"""Secrets the store makes for itself (the key that signs tracking links)."""

DERIVED_TABLES: tuple[Table, ...] = (
    profile_terms,
    profile_merges,
    profile_events,
    identity_reviews,
    identity_pairs,
    identity_keys,
    identity_nodes,
    profiles,
    record_identifiers,
    source_records,
)
"""Views recomputed from the log by ``c360 rebuild`` (children first)."""

# --- sync (two-way sync with business apps) ---

sync_destinations = Table(
    "sync_destinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # table, rest
    # the app's source in c360: its record ids are the app's keys (the crosswalk)
    Column("source_id", Integer, nullable=False),
    # the validated configuration (c360.activation.sync.config); never a secret, only its name
    Column("config", Json, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("disabled_at_us", BigInteger, nullable=True),
    # the last change id taken from the feed into the queue
    Column("cursor", BigInteger, nullable=False),
    # pushing: failures in a row, when to try again, since when, why (the app is down)
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=True),
    Column("failing_since_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    # pulling the app's changes back in
    Column("pulled_at_us", BigInteger, nullable=True),
    Column("pull_attempts", Integer, nullable=False),
    Column("next_pull_us", BigInteger, nullable=True),
    Column("pull_error", Text, nullable=True),
    # a worker holds the destination until then (one worker per destination at a time)
    Column("lease_until_us", BigInteger, nullable=True),
    Column("country", String(2), nullable=True),  # ISO 3166 alpha-2 the app is hosted in
)
"""Business apps c360 keeps in step with the golden record, and how far each has got."""

sync_queue = Table(
    "sync_queue",
    metadata,
    Column("destination_id", Integer, primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("enqueued_at_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=True),
    Column("failing_since_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_sync_queue_due", "destination_id", "next_attempt_us"),
)
"""Profiles whose current golden record is still to be pushed to a destination."""

sync_state = Table(
    "sync_state",
    metadata,
    Column("destination_id", Integer, primary_key=True),
    Column("app_key", Text, primary_key=True),
    Column("profile_id", String(36), nullable=True),
    # hash of the app's whole row as c360 last saw it (read back, or re-read after a write)
    Column("seen_hash", String(32), nullable=True),
    # the synced columns as the app last had them; what c360 last wrote; when the app last
    # changed each one (for ``newest`` ownership)
    Column("app_values", Sealed("json", "sync_state.app_values"), nullable=False),
    Column("pushed", Sealed("json", "sync_state.pushed"), nullable=False),
    Column("app_changed_at", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("pushed_at_us", BigInteger, nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
    Index("ix_sync_state_profile", "destination_id", "profile_id"),
)
"""Per destination and app key, what c360 wrote and last saw: how echoes are recognised.
Not derived from the log: ``c360 rebuild`` keeps it."""

sync_dead_letters = Table(
    "sync_dead_letters",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("destination_id", Integer, nullable=False, index=True),
    Column("profile_id", String(36), nullable=False),
    Column("app_key", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
)
"""Pushes given up on (refused by the app, or failing past the retry window), to redrive."""

sync_conflicts = Table(
    "sync_conflicts",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("destination_id", Integer, nullable=False),
    Column("app_key", Text, nullable=False),
    Column("profile_id", String(36), nullable=True),
    Column("column_name", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("app_value", Sealed("json", "sync_conflicts.app_value"), nullable=True),
    Column("c360_value", Sealed("json", "sync_conflicts.c360_value"), nullable=True),
    # ignored_c360_owns: the app changed a field c360 owns (c360's value is written back);
    # kept_app_newer: a ``newest`` field the app changed after c360's value
    Column("outcome", String(30), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Index("ix_sync_conflicts_destination", "destination_id", "id"),
)
"""Where the app and c360 disagreed on a field, and which side the ownership rules kept."""

# --- personalisation ---

recommend_catalog = Table(
    "recommend_catalog",
    metadata,
    Column("source_id", Integer, primary_key=True),
    Column("record_id", Text, primary_key=True),
    Column("product_id", Text, nullable=True, index=True),
    Column("sku", Text, nullable=True, index=True),
    Column("name", Text, nullable=True),
    Column("category", Text, nullable=True),
    Column("brand", Text, nullable=True),
    Column("price", Float, nullable=True),
    Column("currency", String(10), nullable=True),
    Column("stock", Float, nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
)
"""Every ``product`` record, found by product id or SKU: what recommendations show and whether
a product is in stock (the latest record naming it decides)."""

recommend_products = Table(
    "recommend_products",
    metadata,
    Column("product_key", Text, primary_key=True),
    Column("product_id", Text, nullable=True),
    Column("sku", Text, nullable=True),
    Column("name", Text, nullable=True),
    Column("category", Text, nullable=True),
    Column("price", Float, nullable=True),
    Column("currency", String(10), nullable=True),
    Column("at_us", BigInteger, nullable=False),
)
"""Products as the latest purchase line described them (``product_key``: the product id, else
the SKU), for products the catalog does not hold."""

recommend_purchases = Table(
    "recommend_purchases",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("product_key", Text, primary_key=True),
    Column("first_at_us", BigInteger, nullable=False),
    Column("last_at_us", BigInteger, nullable=False),
    Column("quantity", Float, nullable=False),
)
"""What each live profile has bought, as counted in the co-purchase and popularity tables."""

recommend_counted = Table(
    "recommend_counted",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("segments", Json, nullable=False),
)
"""The segment ids each profile's purchases are counted under in ``recommend_popularity``."""

recommend_pairs = Table(
    "recommend_pairs",
    metadata,
    Column("product_key", Text, primary_key=True),
    Column("other_key", Text, primary_key=True),
    Column("together", Integer, nullable=False),
)
# a product's most frequent companions first: a top-N read stops after N index entries
Index(
    "ix_recommend_pairs_top",
    recommend_pairs.c.product_key,
    recommend_pairs.c.together.desc(),
    recommend_pairs.c.other_key,
)
"""Co-purchase: how many people bought both products (each pair in both directions)."""

recommend_popularity = Table(
    "recommend_popularity",
    metadata,
    # 0: everyone; the row with product_key '' counts the segment's buyers
    Column("segment_id", Integer, primary_key=True),
    Column("product_key", Text, primary_key=True),
    Column("buyers", Integer, nullable=False),
)
Index(
    "ix_recommend_popularity_top",
    recommend_popularity.c.segment_id,
    recommend_popularity.c.buyers.desc(),
    recommend_popularity.c.product_key,
)
"""How many members of each segment bought each product."""

personalization_rules = Table(
    "personalization_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("placement", String(60), nullable=False, index=True),
    Column("condition", Json, nullable=False),  # the JSON form (c360.segments.language)
    Column("text", Text, nullable=False),  # the canonical text form
    Column("timezone", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("content", Json, nullable=False),
    Column("description", Text, nullable=True),
    Column("active_from_us", BigInteger, nullable=True),
    Column("active_until_us", BigInteger, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
"""What to show whom: per placement, content for the people a condition holds for, while
active. Not derived from the log: ``c360 rebuild`` keeps them."""


# --- feedback (the voice of the customer) ---

feedback_items = Table(
    "feedback_items",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    # where it came from: a tracked message ("e:<message id>") or a record ("r:<record id>")
    Column("source_id", Integer, nullable=False),
    Column("origin_key", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(10), nullable=False),  # direct, indirect, inferred
    Column("channel", String(40), nullable=False),
    Column("profile_id", String(36), nullable=True, index=True),
    Column("received_at_us", BigInteger, nullable=False, index=True),
    Column("subject", Sealed("text", "feedback_items.subject"), nullable=True),
    Column("text", Sealed("text", "feedback_items.text"), nullable=True),
    Column("rating", Float, nullable=True),
    Column("rating_scale", Integer, nullable=True),
    Column("language", String(5), nullable=False),
    Column("sentiment", String(10), nullable=False),
    Column("sentiment_score", Float, nullable=False),
    Column("topic", String(40), nullable=False),
    Column("analysis", Json, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("level", String(2), nullable=False),
    Column("factors", Json, nullable=False),
    Column("team", String(40), nullable=False),
    Column("assignee", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("respond_by_us", BigInteger, nullable=True),
    Column("resolve_by_us", BigInteger, nullable=True),
    Column("responded_at_us", BigInteger, nullable=True),
    Column("resolved_at_us", BigInteger, nullable=True),
    Column("notified_at_us", BigInteger, nullable=True),
    Column("breached", Json, nullable=False),
    Column("resolution", Text, nullable=True),
    Column("message_key", String(100), nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
    UniqueConstraint("source_id", "origin_key", name="uq_feedback_items_origin"),
    Index("ix_feedback_items_open", "status", "resolve_by_us"),
    Index("ix_feedback_items_topic", "topic", "received_at_us"),
)
"""Every piece of feedback, analysed, prioritised and routed, with where its workflow stands.
Collected from the log by the feedback loop; its workflow is people's work, so ``c360
rebuild`` keeps the table (collecting again only refreshes the analysis of changed items)."""

feedback_history = Table(
    "feedback_history",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("feedback_id", BigInteger, nullable=False, index=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    # received, assigned, started, resolved, notified, reopened, noted, breached, updated
    Column("action", String(20), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=True),
    Column("detail", Json, nullable=False),
)
"""What happened to each feedback item, in order: the agent's notes are here too."""

# --- privacy: users, audit, data subject requests, erasure suppression, restriction ---

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", Text, nullable=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("password_changed_at_us", BigInteger, nullable=False),
    Column("last_login_at_us", BigInteger, nullable=True),
    Column("disabled_at_us", BigInteger, nullable=True),
)
"""People who sign in to the web app (passwords stored only as argon2 hashes)."""

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_hash", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("last_seen_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("client", Text, nullable=True),
)
"""Signed-in sessions; the cookie holds the token, the table only its hash."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False, index=True),
    Column("actor", Text, nullable=False),  # "key:12 ops", "user:alice", "cli:root", "system"
    Column("role", String(20), nullable=True),
    Column("action", String(60), nullable=False),  # e.g. profile.read, segment.export
    Column("object_type", String(40), nullable=True),
    Column("object_id", Text, nullable=True),
    Column("detail", Json, nullable=False),
    Column("client", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_actor", "actor", "at_us"),
    Index("ix_audit_log_object", "object_type", "object_id"),
)
"""Who did what, when: append-only (the database refuses updates and deletes) and chained,
each row's ``hash`` covering its content and the previous row's hash."""

privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # access, erase, rectify, restrict, unrestrict
    Column("status", String(20), nullable=False),  # received, running, completed, failed, rejected
    Column("law", String(10), nullable=False),  # pdpa, vn, gdpr
    Column("profile_id", String(36), nullable=True, index=True),
    Column("subject", Text, nullable=True),  # as asked (cleared once the person is erased)
    Column("requested_by", Text, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("deadline_us", BigInteger, nullable=False),
    Column("completed_at_us", BigInteger, nullable=True),
    Column("detail", Json, nullable=False),
    Column("report", Json, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_privacy_requests_open", "status", "deadline_us"),
)
"""Data subject requests, with their status, legal deadline and report."""

privacy_suppressions = Table(
    "privacy_suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_type", String(50), nullable=False),
    Column("value_hash", String(64), nullable=False),
    Column("request_id", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("lifted_at_us", BigInteger, nullable=True),
    UniqueConstraint("id_type", "value_hash", name="uq_privacy_suppressions_value"),
)
"""What is left of an erased person: keyed hashes of their identifiers, so that a later event
or import does not create them again."""

privacy_suppressed_arrivals = Table(
    "privacy_suppressed_arrivals",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("suppression_id", Integer, nullable=False, index=True),
    Column("source_id", Integer, nullable=False),
    Column("kind", String(10), nullable=False),  # event, record
    Column("at_us", BigInteger, nullable=False),
)
"""Messages and rows accepted and then not stored because they named an erased person: counted
here, without their content, so every accepted item stays accounted for."""

privacy_restrictions = Table(
    "privacy_restrictions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("profile_id", String(36), nullable=False, index=True),
    Column("request_id", BigInteger, nullable=True),
    Column("reason", Text, nullable=True),
    Column("since_us", BigInteger, nullable=False),
    Column("lifted_at_us", BigInteger, nullable=True),
)
"""People whose data is kept but not used (restriction of processing), while it lasts."""

retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("started_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    Column("dry_run", Integer, nullable=False),
    Column("report", Json, nullable=False),
)
"""Each run of the retention job, with what it removed per policy and source."""

# --- consent ledger ---

consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("profile_id", String(36), nullable=False),
    # what the row says, hashed with where it came from: refreshing a profile rewrites only
    # the rows that changed
    Column("entry_key", String(64), nullable=False),
    # where the statement came from: a log entry (an event), or a source's current record
    Column("seq", BigInteger, nullable=True, index=True),
    Column("source", Text, nullable=False),
    Column("record_id", Text, nullable=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(12), nullable=False),  # purpose, subscription
    Column("purpose", String(50), nullable=False),
    Column("channel", String(10), nullable=False),  # email, sms, line, zalo, push, phone, *
    Column("state", String(12), nullable=False),  # granted, withdrawn, subscribed, unsubscribed
    Column("at_us", BigInteger, nullable=False),
    Column("method", String(20), nullable=False),
    Column("notice_version", String(100), nullable=True),
    Column("notice_text", Text, nullable=True),
    Column("notice_sha256", String(64), nullable=True),
    Column("evidence", Sealed("text", "consent_ledger.evidence"), nullable=True),
    Column("expires_at_us", BigInteger, nullable=True),
    Column("time_zone", String(50), nullable=True),
    UniqueConstraint("profile_id", "entry_key", name="uq_consent_ledger_entry"),
    Index("ix_consent_ledger_profile", "profile_id", "at_us"),
)
"""Every consent statement of every person with its proof (``c360.privacy.consent``). Derived
from the log when a profile is refreshed (the log keeps the statements themselves), so ``c360
rebuild`` recomputes it and merges and splits carry it."""

DERIVED_TABLES = (consent_ledger, *DERIVED_TABLES)
