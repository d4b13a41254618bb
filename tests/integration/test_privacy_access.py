"""Access requests: the export of everything held about a person is complete (P4, cross-checked
against every table of the schema), readable as HTML, and keeps Thai and Vietnamese text."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine, insert, select
from tests.customer360 import load, process, track
from tests.factories import identify
from tests.factories import track as tracked

from c360.activation.outbox import QueuedMessage, queue
from c360.compliance.access import export_person, render_html, write_export
from c360.eventlog.model import LogRow
from c360.eventlog.service import append, ensure_source
from c360.feedback import service as feedback
from c360.feedback.model import FeedbackConfig
from c360.kernel.clock import system_clock
from c360.privacy import audit
from c360.profiles.service import find_by_identifier
from c360.segments.language import parse
from c360.segments.service import create_segment
from c360.storage.tables import (
    journey_entries,
    journey_steps,
    journeys,
    metadata,
    privacy_requests,
    privacy_restrictions,
    suppressions,
    sync_destinations,
    sync_queue,
    sync_state,
)
from c360.workers.feedback import feedback_cycle

EMAIL = "p4.person@example.co.th"
PHONE_RAW = "081-555-0144"
PHONE = "+66815550144"
USER = "u-p4-person"
DEVICE = "anon-p4-device"
OTHER_EMAIL = "someone.else@example.vn"


def _log(engine: Engine, messages: list[dict[str, Any]], source: str = "web") -> None:
    """Append tracked messages in one statement and apply them in large batches (a bulk
    seed: the log processor's own path, without a round trip per message)."""
    start = system_clock() - 10_000_000_000
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
        rows: list[LogRow] = [
            {
                "source_id": source_id,
                "message_id": m["messageId"],
                "type": m["type"],
                "received_at_us": start + i,
                "sent_at_us": None,
                "original_timestamp_us": None,
                "timestamp_us": start + i,
                "payload": orjson.dumps(m).decode(),
            }
            for i, m in enumerate(messages)
        ]
        append(conn, rows, [])
    from c360.workers.processor import process_available

    while process_available(engine, 5_000):
        pass


def seed_person(engine: Engine, tmp_path: Path, events: int) -> str:
    """A person known through three identities that merge (a shop order by phone, a device,
    a CRM contact by email and phone, then a login), with ``events`` tracked events, a
    segment, messages, feedback, a journey, a sync destination, a privacy request, a
    restriction, a channel suppression and an audit entry; and someone else beside them."""
    load(engine, tmp_path, "shop", "order", [{"id": "o-9", "order_id": "o-9", "phone": PHONE_RAW}])
    track(engine, tracked(None, "Product Viewed", userId=None, anonymousId=DEVICE))
    load(
        engine,
        tmp_path,
        "newsletter",
        "subscription",
        [{"id": "sub-9", "email": EMAIL, "list_name": "ข่าวสาร", "status": "subscribed"}],
    )
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [
            {
                "id": "c-9",
                "first_name": "สมหญิง",
                "last_name": "รักไทย",
                "email": EMAIL,
                "phone": PHONE_RAW,
                "country": "TH",
                "company": "<script>alert('x')</script>",
            }
        ],
    )
    track(
        engine,
        identify(USER, anonymousId=DEVICE, traits={"email": EMAIL, "nickname": "Nguyễn Thị Hoa"}),
    )
    track(engine, identify("u-other", traits={"email": OTHER_EMAIL, "name": "Trần Văn Bình"}))
    _log(
        engine,
        [
            tracked(USER, "Product Viewed", properties={"sku": f"SKU-{i}", "note": "ดูสินค้า"})
            for i in range(events)
        ],
    )
    message = feedback_message()
    track(engine, message)
    live = find_by_identifier_id(engine)
    now = system_clock()
    with engine.begin() as conn:
        create_segment(conn, "thai customers", parse("email exists"))
        for n in range(2):
            queue(
                conn,
                QueuedMessage(
                    f"p4-{n}",
                    None,
                    None,
                    None,
                    live,
                    "email",
                    EMAIL,
                    "marketing",
                    None,
                    "ข่าวสาร",
                    "สวัสดีค่ะ",
                    None,
                ),
                now,
            )
        _journey(conn, live, now)
        _sync(conn, live, now)
        request_id = conn.execute(
            insert(privacy_requests)
            .values(
                kind="access",
                status="running",
                law="pdpa",
                profile_id=live,
                subject=EMAIL,
                requested_by="cli:test",
                received_at_us=now,
                deadline_us=now + 1,
                detail={},
            )
            .returning(privacy_requests.c.id)
        ).scalar_one()
        conn.execute(
            insert(privacy_restrictions).values(
                profile_id=live, request_id=request_id, reason="accuracy contested", since_us=now
            )
        )
        conn.execute(
            insert(suppressions).values(
                channel="email", address=EMAIL, reason="complained", created_at_us=now
            )
        )
        audit.record(
            conn,
            audit.Actor("user:alice", "admin"),
            "profile.read",
            object_type="profile",
            object_id=live,
        )
    feedback_cycle(engine, FeedbackConfig())
    with engine.begin() as conn:
        [item_id] = conn.execute(
            select(feedback.feedback_items.c.id).where(feedback.feedback_items.c.profile_id == live)
        ).scalars()
        feedback.assign(conn, item_id, assignee="nok", team=None, actor="user:nok")
    process(engine)
    return live


def feedback_message() -> dict[str, Any]:
    message = tracked(USER, "Feedback Submitted", properties={"text": "ส่งของช้ามาก ไม่พอใจ"})
    message["_at_us"] = system_clock()
    return message


def find_by_identifier_id(engine: Engine) -> str:
    with engine.connect() as conn:
        return find_by_identifier(conn, "email", EMAIL).id


def _journey(conn: Connection, live: str, now: int) -> None:
    journey_id = conn.execute(
        insert(journeys)
        .values(
            name="welcome",
            definition={},
            text="",
            status="active",
            version=1,
            start_seq=0,
            start_change_id=0,
            created_at_us=now,
            updated_at_us=now,
        )
        .returning(journeys.c.id)
    ).scalar_one()
    entry_id = conn.execute(
        insert(journey_entries)
        .values(
            journey_id=journey_id,
            profile_id=live,
            entry_no=1,
            arm="treatment",
            status="active",
            step="hello",
            trigger={"event": "Signed Up"},
            entered_at_us=now,
        )
        .returning(journey_entries.c.id)
    ).scalar_one()
    conn.execute(
        insert(journey_steps).values(entry_id=entry_id, step="hello", at_us=now, outcome={})
    )


def _sync(conn: Connection, live: str, now: int) -> None:
    destination = conn.execute(
        insert(sync_destinations)
        .values(
            name="crm-app",
            kind="rest",
            source_id=1,
            config={},
            created_at_us=now,
            updated_at_us=now,
            cursor=0,
            attempts=0,
            pull_attempts=0,
        )
        .returning(sync_destinations.c.id)
    ).scalar_one()
    conn.execute(
        insert(sync_queue).values(
            destination_id=destination, profile_id=live, enqueued_at_us=now, attempts=0
        )
    )
    conn.execute(
        insert(sync_state).values(
            destination_id=destination,
            app_key="crm-77",
            profile_id=live,
            app_values={"email": EMAIL},
            pushed={"email": EMAIL},
            app_changed_at={},
            version=1,
            updated_at_us=now,
        )
    )


# --- the cross-check ------------------------------------------------------------------------


PROFILE_COLUMNS = ("profile_id", "survivor_id", "merged_id", "merged_into")


def _key(table: Any, row: Any) -> tuple[Any, ...]:
    columns = list(table.primary_key.columns) or list(table.c)
    return tuple(row._mapping[c.name] for c in columns)


def _text(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


def person_rows(conn: Connection, ids: list[str], needles: list[str]) -> dict[str, set[Any]]:
    """Every row of every table that references the person, found by reading the schema:
    a profile column naming one of their ids, or any text or JSON in the row holding one of
    their identifiers. Child rows (a journey's steps, a feedback item's history, a node's
    keys and pairs) reference them through their parent's key."""
    found: dict[str, set[Any]] = {}
    wanted = set(ids)
    rows_of: dict[str, list[Any]] = {
        t.name: conn.execute(select(t)).all() for t in metadata.sorted_tables
    }
    for table in metadata.sorted_tables:
        keys: set[Any] = set()
        for row in rows_of[table.name]:
            values = row._mapping
            by_column = any(values.get(c) in wanted for c in PROFILE_COLUMNS if c in table.c)
            if table.name == "profiles" and values["id"] in wanted:
                by_column = True
            plain = {str(k): _text(v) for k, v in values.items()}
            text = orjson.dumps(plain, default=str).decode()
            if by_column or any(n in text for n in needles):
                keys.add(_key(table, row))
        found[table.name] = keys
    nodes = {k[0] for k in found["identity_nodes"]}
    seqs = {k[1] for k in found["profile_events"]}
    entries = {k[0] for k in found["journey_entries"]}
    items = {k[0] for k in found["feedback_items"]}
    changes = {k[0] for k in found["profile_changes"]}
    records = {
        (r.source_id, r.node_key)
        for r in rows_of["identity_nodes"]
        if r.id in nodes and r.node_type == "record"
    }
    children = {
        "journey_steps": lambda r: r.entry_id in entries,
        "feedback_history": lambda r: r.feedback_id in items,
        "identity_keys": lambda r: r.node_id in nodes,
        "identity_pairs": lambda r: r.a in nodes or r.b in nodes,
        "identity_reviews": lambda r: r.a in nodes or r.b in nodes,
        "event_log": lambda r: r.seq in seqs,
        "source_records": lambda r: (r.source_id, r.record_id) in records,
        "record_identifiers": lambda r: (r.source_id, r.record_id) in records,
        "subscription_dead_letters": lambda r: r.change_id in changes,
        "audit_log": lambda r: r.object_id in wanted,
    }
    for name, belongs in children.items():
        table = metadata.tables[name]
        found[name] |= {_key(table, r) for r in rows_of[name] if belongs(r)}
    return {name: keys for name, keys in found.items() if keys}


def exported_rows(export: dict[str, Any]) -> dict[str, set[Any]]:
    """The same rows as the export shows them, by table and primary key."""
    ids = [export["about"]["profile_id"], *export["about"]["merged_profile_ids"]]
    identity = export["identity"]
    out: dict[str, set[Any]] = {
        "profiles": {(i,) for i in ids},
        "event_log": {(e["seq"],) for e in export["events"]}
        | {(v["seq"],) for r in export["source_records"] for v in r["log_entries"]},
        "profile_events": {(e["filed_under"], e["seq"]) for e in export["events"]},
        "source_records": {(r["source_id"], r["record_id"]) for r in export["source_records"]},
        "record_identifiers": {
            (i["type"], i["value"], r["source_id"], r["record_id"])
            for r in export["source_records"]
            for i in r["identifiers"]
        },
        "identity_nodes": {(n["id"],) for n in identity["nodes"]},
        "identity_keys": {(k, n["id"]) for n in identity["nodes"] for k in n["keys"]},
        "identity_pairs": {(p["a"], p["b"]) for p in identity["scored_pairs"]},
        "identity_reviews": {(p["a"], p["b"]) for p in identity["reviews"]},
        "profile_merges": {(m["id"],) for m in identity["merges"]},
        "profile_terms": {(t["term"], t["profile_id"]) for t in export["search_terms"]},
        "profile_changes": {(c["id"],) for c in export["destinations"]["change_feed"]},
        "segment_members": {(s["segment_id"], s["profile_id"]) for s in export["segments"]},
        "messages": {(m["id"],) for m in export["messages"]},
        "journey_entries": {(j["id"],) for j in export["journeys"]},
        "journey_steps": {
            (s["entry_id"], s["step"]) for j in export["journeys"] for s in j["steps"]
        },
        "feedback_items": {(f["id"],) for f in export["feedback"]},
        "feedback_history": {(h["id"],) for f in export["feedback"] for h in f["history"]},
        "sync_queue": {
            (q["destination_id"], q["profile_id"]) for q in export["destinations"]["sync"]["queued"]
        },
        "sync_state": {
            (s["destination_id"], s["app_key"]) for s in export["destinations"]["sync"]["state"]
        },
        "privacy_requests": {(r["id"],) for r in export["privacy"]["requests"]},
        "privacy_restrictions": {(r["id"],) for r in export["privacy"]["restrictions"]},
        "suppressions": {
            (s["channel"], s["address"]) for s in export["privacy"]["channel_suppressions"]
        },
        "audit_log": {(a["id"],) for a in export["audit"]},
        "recommend_purchases": {
            (p["profile_id"], p["product_key"]) for p in export["recommendations"]["purchases"]
        },
        "recommend_counted": {
            (p["profile_id"],) for p in export["recommendations"]["counted_in_segments"]
        },
        "rejects": {(r["id"],) for r in export["quarantine"]},
    }
    for name, rows in export["other_tables"].items():
        table = metadata.tables[name]
        out[name] = {tuple(r[c.name] for c in table.primary_key.columns) for r in rows}
    if export["consent"]["ledger"]:
        table = metadata.tables["consent_ledger"]
        out["consent_ledger"] = {
            tuple(r[c.name] for c in table.primary_key.columns) for r in export["consent"]["ledger"]
        }
    return {name: keys for name, keys in out.items() if keys}


def assert_complete(engine: Engine, export: dict[str, Any], events: int, seconds: float) -> None:
    ids = [export["about"]["profile_id"], *export["about"]["merged_profile_ids"]]
    with engine.connect() as conn:
        expected = person_rows(conn, ids, [EMAIL, PHONE, PHONE_RAW, USER, DEVICE, *ids])
    exported = exported_rows(export)
    missing = {
        name: sorted(map(str, keys - exported.get(name, set())))[:5]
        for name, keys in expected.items()
        if keys - exported.get(name, set())
    }
    counts = {name: f"{len(exported.get(name, ()))}/{len(keys)}" for name, keys in expected.items()}
    took = f"export of {events} events took {seconds:.2f} s"
    assert not missing, f"rows about the person missing from the export: {missing}; {took}"
    assert seconds <= 60, took
    # and the export holds nothing of someone else
    assert OTHER_EMAIL not in orjson.dumps(export).decode(), took
    print(f"P4: {took}; rows per table (exported/referencing): {counts}")


@pytest.fixture
def person(engine: Engine, tmp_path: Path) -> Iterator[str]:
    yield seed_person(engine, tmp_path, 3_000)


def test_export_holds_every_row_about_the_person(engine: Engine, person: str) -> None:
    started = time.perf_counter()
    with engine.connect() as conn:
        export = export_person(conn, person)
    took = time.perf_counter() - started
    assert len(export["about"]["merged_profile_ids"]) >= 2, export["identity"]["merges"]
    assert len([e for e in export["events"] if e["type"] == "track"]) >= 3_000
    assert {s["name"] for s in export["segments"]} == {"thai customers"}
    assert [m["status"] for m in export["messages"]] == ["queued", "queued"]
    assert export["feedback"][0]["history"][-1]["action"] == "assigned"
    assert export["journeys"][0]["steps"][0]["step"] == "hello"
    assert export["destinations"]["sync"]["state"][0]["destination"] == "crm-app"
    crm = next(r for r in export["source_records"] if r["source"] == "crm")
    assert crm["kind"] == "contact" and crm["log_entries"][0]["payload"]["row"]["email"] == EMAIL
    golden = {v["field"]: v for v in export["golden_record"]["values"]}
    assert golden["email"]["value"] == EMAIL and golden["email"]["source"] in ("crm", "web")
    assert golden["first_name"]["at"].endswith("Z")
    merged_away = export["about"]["merged_profile_ids"][0]
    with engine.connect() as conn:
        # asked by an id merged away, the export is the same person's
        assert export_person(conn, merged_away)["about"]["profile_id"] == person
    assert_complete(engine, export, 3_000, took)


@pytest.mark.heavy
def test_export_of_100k_events_is_complete_within_a_minute(engine: Engine, tmp_path: Path) -> None:
    live = seed_person(engine, tmp_path, 100_000)
    started = time.perf_counter()
    with engine.connect() as conn:
        export = export_person(conn, live)
    paths = write_export(export, tmp_path / "export")
    took = time.perf_counter() - started
    assert len([e for e in export["events"] if e["type"] == "track"]) >= 100_000
    assert json.loads(paths[0].read_text("utf-8"))["about"]["profile_id"] == live
    assert_complete(engine, export, 100_000, took)


def test_html_escapes_values_and_keeps_thai_and_vietnamese(engine: Engine, tmp_path: Path) -> None:
    track(
        engine,
        identify(
            "u-html",
            traits={
                "email": "hoa@example.vn",
                "name": "Nguyễn Thị Hoa",
                "favourite": "<script>alert('x')</script>",
                "note": "ขอบคุณครับ",
            },
        ),
    )
    with engine.connect() as conn:
        pid = find_by_identifier(conn, "email", "hoa@example.vn").id
        export = export_person(conn, pid)
    page = render_html(export)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Nguyễn Thị Hoa" in page and "ขอบคุณครับ" in page
    assert "http://" not in page and "https://" not in page  # no external assets
    assert '<section id="events"><h2>Event log</h2>' in page
    json_path, html_path = write_export(export, tmp_path / "out")
    assert html_path.read_text("utf-8") == page
    again = json.loads(json_path.read_text("utf-8"))
    assert again["profile"]["traits"]["name"] == "Nguyễn Thị Hoa"
    assert again["profile"]["traits"]["note"] == "ขอบคุณครับ"
    assert again == json.loads(orjson.dumps(export))
    assert again["consent"]["ledger"] == [] or "consent_ledger" in metadata.tables


def test_unknown_profile_is_not_found(engine: Engine) -> None:
    from c360.errors import NotFound

    with engine.connect() as conn, pytest.raises(NotFound, match="no profile"):
        export_person(conn, "00000000-0000-0000-0000-000000000000")
