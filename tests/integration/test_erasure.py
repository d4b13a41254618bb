"""Erasure on both stores (RELIABILITY-TESTS P5, P6): a person seeded across the event log,
an imported file, a merge, a segment, a journey and its queued message, feedback, the change
feed, sync and quarantine is erased through the API; then every table and column is searched
for them in every form (raw, normalised, folded, SHA-256): nothing but the keyed-hash
tombstone is left, ``c360 rebuild`` and a re-sent identify and a re-imported file do not bring
them back (the arrivals are counted), and another person is untouched throughout."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, insert, inspect, literal_column, select, table, text
from tests.conftest import make_keys
from tests.customer360 import mapping_for, process

from c360.api.app import build_app
from c360.feedback.model import FeedbackConfig
from c360.ingest.mapping import parse_mapping
from c360.kernel.clock import system_clock
from c360.profiles.service import find_by_identifier
from c360.segments.language import parse
from c360.segments.service import create_segment
from c360.settings import Settings
from c360.storage.sealing import keyring, sealed_columns
from c360.storage.tables import (
    event_log,
    feedback_items,
    journey_entries,
    journey_steps,
    messages,
    metadata,
    privacy_suppressed_arrivals,
    privacy_suppressions,
    profile_merges,
    profiles,
    recommend_purchases,
    rejects,
    segment_members,
    source_records,
    sources,
    subscription_dead_letters,
    suppressions,
    sync_conflicts,
    sync_dead_letters,
    sync_destinations,
    sync_queue,
    sync_state,
)
from c360.workers.feedback import feedback_cycle
from c360.workers.imports import import_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

# the person to erase: a Vietnamese name (folded for search), a VN phone in local format
NAME = "Trần Thị Bích"
EMAIL_AS_TYPED = "Bich.Tran@Example.vn"
EMAIL = "bich.tran@example.vn"
PHONE_LOCAL = "0912 345 678"
PHONE = "+84912345678"
USER = "u-erase-7301"
ANON = "anon-erase-7301"
# the person who stays
OTHER_NAME = "สมชาย ใจดี"
OTHER_EMAIL = "somchai@example.co.th"
OTHER_USER = "u-stay-4402"

FORMS = {
    "email as typed": EMAIL_AS_TYPED,
    "email": EMAIL,
    "phone as written": PHONE_LOCAL,
    "phone digits": "0912345678",
    "phone E.164": PHONE,
    "phone without +": PHONE.lstrip("+"),
    "name NFC": NAME,
    "name folded": "tran thi bich",
    "user id": USER,
    "anonymous id": ANON,
    "sha256(email)": hashlib.sha256(EMAIL.encode()).hexdigest(),
    "sha256(phone)": hashlib.sha256(PHONE.encode()).hexdigest(),
}
"""What must not be found anywhere after erasure, with the JSON-escaped form of each."""


def leftovers(engine: Engine, *, opened: bool = True) -> dict[str, int]:
    """Every (table.column, form) holding the person, counted by reading every row of every
    table of the database (independently of the erasure's own search). Values encrypted at
    rest are opened with the process's keys (``opened``), or searched as stored."""
    needles = {k: v.lower() for k, v in FORMS.items()}
    needles |= {
        f"{k} (escaped)": json.dumps(v)[1:-1].lower()
        for k, v in FORMS.items()
        if json.dumps(v)[1:-1] != v
    }
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            every: Any = select(literal_column("*")).select_from(table(name))
            for row in conn.execute(every).mappings():
                for column, value in row.items():
                    if value is None or isinstance(value, int | float):
                        continue
                    if opened:
                        value = _opened(name, column, value)
                    if isinstance(value, bytes | memoryview):
                        shown = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        shown = json.dumps(value, ensure_ascii=False)
                    else:
                        shown = str(value)
                    shown = shown.lower()
                    for kind, needle in needles.items():
                        if needle in shown:
                            key = f"{name}.{column}: {kind}"
                            found[key] = found.get(key, 0) + 1
    return found


def _opened(table_name: str, column: str, value: Any) -> Any:
    """A value as stored, with a token of encryption at rest opened by the process's keys."""
    ring = keyring()
    if isinstance(value, bytes | memoryview):
        value = bytes(value)
        if value.startswith(b"c360:1:"):
            assert ring is not None, f"{table_name}.{column} is sealed"
            return ring.open(value.decode(), f"{table_name}.{column}")
        return value
    if isinstance(value, str):
        token = value[1:-1] if value.startswith('"c360:1:') else value
        if token.startswith("c360:1:"):
            assert ring is not None, f"{table_name}.{column} is sealed"
            return ring.open(token, f"{table_name}.{column}").decode()
    return value


def send(client: TestClient, write_key: str, *messages_: dict[str, Any]) -> None:
    response = client.post(
        "/v1/batch",
        content=orjson.dumps({"batch": list(messages_)}),
        headers={"Content-Type": "application/json", "X-Write-Key": write_key},
    )
    assert response.status_code == 200, response.text


def message(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": str(uuid.uuid4()),
        "timestamp": "2026-11-23T10:00:00.000+07:00",
        **fields,
    }


def person_messages() -> list[dict[str, Any]]:
    return [
        message("page", anonymousId=ANON, name="Home", properties={"url": "https://shop.vn/"}),
        message(
            "identify",
            userId=USER,
            anonymousId=ANON,  # joins the anonymous visitor's profile: a merge
            traits={"name": NAME, "email": EMAIL_AS_TYPED, "phone": "+84 91 234 5678"},
        ),
        message(
            "track",
            userId=USER,
            event="Feedback Submitted",
            properties={"text": "Giao hàng quá chậm, tôi muốn hoàn tiền!"},
            timestamp=None,
        ),
    ]


def other_messages() -> list[dict[str, Any]]:
    return [
        message(
            "identify",
            userId=OTHER_USER,
            traits={"name": OTHER_NAME, "email": OTHER_EMAIL, "phone": "+66812345678"},
        ),
        message("track", userId=OTHER_USER, event="Product Viewed", properties={"sku": "SH-01"}),
    ]


CRM_ROWS = [
    {
        "id": "c-7301",
        "first_name": "Bích",
        "last_name": "Trần Thị",
        "full_name": NAME,
        "email": EMAIL_AS_TYPED,
        "phone": PHONE_LOCAL,
    },
    {
        "id": "c-4402",
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "email": OTHER_EMAIL,
        "phone": "081-234-5678",
    },
]


def import_crm(engine: Engine, path: Path) -> int:
    """Import (or re-import) the CRM file; returns how many rows were accepted as changes."""
    mapping = mapping_for("crm", "contact", CRM_ROWS[0], region="VN")
    summary = import_file(
        engine, path, source="crm", mapping=parse_mapping(mapping), mapping_text=mapping
    )
    process(engine)
    return summary.new + summary.updated


def seed_operations(engine: Engine, pid: str) -> None:
    """Rows of the person in tables a short test cannot reach through the front door: a
    journey entry with its step and queued message, sync state with a dead letter and a
    conflict, a purchase, a quarantined row, a channel suppression and a failed webhook."""
    now = system_clock()
    with engine.begin() as conn:
        crm = conn.execute(select(sources.c.id).where(sources.c.name == "crm")).scalar_one()
        entry = conn.execute(
            insert(journey_entries)
            .values(
                journey_id=1,
                profile_id=pid,
                entry_no=1,
                arm="treatment",
                status="active",
                step="welcome",
                trigger={"email": EMAIL},
                entered_at_us=now,
            )
            .returning(journey_entries.c.id)
        ).scalar_one()
        conn.execute(
            insert(journey_steps).values(
                entry_id=entry, step="welcome", at_us=now, outcome={"to": EMAIL}
            )
        )
        conn.execute(
            insert(messages).values(
                key=str(uuid.uuid4()),
                journey_id=1,
                entry_id=entry,
                step="welcome",
                profile_id=pid,
                channel="email",
                address=EMAIL,
                purpose="marketing",
                subject=f"Xin chào {NAME}",
                body=f"Xin chào {NAME}, cảm ơn bạn!",
                status="queued",
                attempts=0,
                created_at_us=now,
                updated_at_us=now,
            )
        )
        destination = conn.execute(
            insert(sync_destinations)
            .values(
                name="crm-app",
                kind="table",
                source_id=crm,
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
            insert(sync_state).values(
                destination_id=destination,
                app_key="APP-7301",
                profile_id=pid,
                app_values={"email": EMAIL, "name": NAME},
                pushed={"email": EMAIL},
                app_changed_at={},
                version=1,
                updated_at_us=now,
            )
        )
        conn.execute(
            insert(sync_queue).values(
                destination_id=destination, profile_id=pid, enqueued_at_us=now, attempts=0
            )
        )
        conn.execute(
            insert(sync_dead_letters).values(
                destination_id=destination,
                profile_id=pid,
                app_key="APP-7301",
                attempts=3,
                error=f"refused {EMAIL}",
                at_us=now,
            )
        )
        conn.execute(
            insert(sync_conflicts).values(
                destination_id=destination,
                app_key="APP-7301",
                profile_id=pid,
                column_name="phone",
                field="phone",
                app_value=PHONE_LOCAL,
                c360_value=PHONE,
                outcome="kept_app_newer",
                at_us=now,
            )
        )
        conn.execute(
            insert(recommend_purchases).values(
                profile_id=pid, product_key="SH-01", first_at_us=now, last_at_us=now, quantity=1
            )
        )
        conn.execute(
            insert(rejects).values(
                source_id=crm,
                received_at_us=now,
                reason="missing_record_id",
                detail="crm.csv:9: no record id",
                payload=orjson.dumps({"email": EMAIL_AS_TYPED, "full_name": NAME}),
                stage="import",
                origin="crm.csv:9",
            )
        )
        conn.execute(
            insert(suppressions).values(
                channel="email", address=EMAIL, reason="unsubscribed", created_at_us=now
            )
        )
        change = conn.execute(
            text("SELECT min(id) FROM profile_changes WHERE profile_id = :p"), {"p": pid}
        ).scalar_one()
        conn.execute(
            insert(subscription_dead_letters).values(
                subscription_id=1, change_id=change, attempts=5, last_error="HTTP 500", at_us=now
            )
        )


def other_state(engine: Engine) -> dict[str, Any]:
    """What the other person has, to compare before and after."""
    with engine.connect() as conn:
        profile = find_by_identifier(conn, "email", OTHER_EMAIL)
        return {
            "profile": profile.id,
            "identifiers": sorted((i.type, i.value) for i in profile.identifiers),
            "log": conn.execute(
                select(func.count())
                .select_from(event_log)
                .where(event_log.c.payload.contains(OTHER_USER))
            ).scalar_one(),
            "record": conn.execute(
                select(func.count())
                .select_from(source_records)
                .where(source_records.c.record_id == "c-4402")
            ).scalar_one(),
            "events": profile.event_count,
        }


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_erasure_leaves_only_the_tombstone_and_nothing_brings_the_person_back(
    database_url: str, engine: Engine, tmp_path: Path, encryption_keys: str | None
) -> None:
    write_key, admin_key = make_keys(database_url)
    auth = {"Authorization": f"Bearer {admin_key}"}
    crm_file = tmp_path / "crm.jsonl"
    crm_file.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in CRM_ROWS) + "\n", "utf-8"
    )
    settings = Settings(database_url=database_url, encryption_keys=encryption_keys)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        # --- seed: tracked events (through the real tracking app), a file, the rest ---
        visit, identified, feedback = person_messages()
        send(client, write_key, visit, feedback)
        process(engine)  # the visitor and the user: two profiles, until the identify joins them
        send(client, write_key, identified, *other_messages())
        process(engine)
        assert import_crm(engine, crm_file) == 2
        assert feedback_cycle(engine, FeedbackConfig()) >= 1
        with engine.begin() as conn:
            create_segment(conn, "reachable", parse("email exists"))
            pid = find_by_identifier(conn, "email", EMAIL).id
        seed_operations(engine, pid)
        with engine.connect() as conn:
            merged = conn.execute(
                select(func.count()).select_from(profiles).where(profiles.c.merged_into == pid)
            ).scalar_one()
        assert merged >= 1, "the anonymous visitor's profile was merged into the person's"
        assert count(engine, profile_merges, profile_merges.c.survivor_id == pid) >= 1
        assert count(engine, segment_members, segment_members.c.profile_id == pid) == 1
        seeded = leftovers(engine)
        for table in ("event_log", "source_records", "profiles", "identity_nodes", "messages"):
            assert any(k.startswith(f"{table}.") for k in seeded), (table, seeded)
        if encryption_keys:
            # the sealed columns held the person, and as stored none of them shows it. All
            # but these, which the seed does not fill with the person's identifiers: the CRM
            # rows have no unmapped columns, the message is a LINE one (no HTML), the feedback
            # is a complaint in their words, no consent was given and no decision was taken
            sealed = {f"{t.name}.{c.name}" for t, c in sealed_columns(metadata)}
            in_sealed = {k.split(":")[0] for k in seeded} & sealed
            unused = {
                "source_records.extra",
                "messages.html",
                "feedback_items.subject",
                "feedback_items.text",
                "consent_ledger.evidence",
                "identity_decisions.detail",
            }
            assert in_sealed == sealed - unused, sorted(sealed - in_sealed)
            as_stored = leftovers(engine, opened=False)
            assert not {k for k in as_stored if k.split(":")[0] in sealed}, as_stored
        assert count(engine, feedback_items, feedback_items.c.profile_id == pid) == 1
        other_before = other_state(engine)

        # --- P5: erase through the API ---
        started = time.monotonic()
        filed = client.post(
            "/api/privacy/requests",
            json={"kind": "erase", "subject": f"email:{EMAIL_AS_TYPED}", "law": "vn"},
            headers=auth,
        )
        assert filed.status_code == 201, filed.text
        request_id = filed.json()["id"]
        done = client.post(f"/api/privacy/requests/{request_id}/run", headers=auth)
        elapsed_s = time.monotonic() - started
        assert done.status_code == 200, done.text
        answer = done.json()
        report = answer["report"]
        assert answer["status"] == "completed", (answer["error"], report["verification"])
        assert report["verification"] == {
            "verified": True,
            "searched": report["verification"]["searched"],
            "hits": [],
        }
        assert report["verification"]["searched"]["tables"] >= 40
        assert elapsed_s <= 60
        assert answer["subject"] is None  # the request keeps no personal data
        assert report["cancelled_messages"] == 1
        assert report["destinations"] == [
            {
                "destination": "crm-app",
                "rows": 2,  # its sync_state row and the person's record of its source
                "status": "failed",  # the seeded row's configuration is not one
                "detail": "its configuration cannot be read: check it with c360 sync show "
                "crm-app, and delete the person's rows in the app",
            }
        ]
        for table in (
            "event_log",
            "source_records",
            "identity_nodes",
            "profiles",
            "profile_merges",
            "segment_members",
            "journey_entries",
            "journey_steps",
            "messages",
            "feedback_items",
            "profile_changes",
            "sync_state",
            "rejects",
            "suppressions",
            "subscription_dead_letters",
        ):
            assert report["removed"].get(table, 0) >= 1, (table, report["removed"])
        assert leftovers(engine) == {}
        assert count(engine, privacy_suppressions, privacy_suppressions.c.request_id == request_id)
        assert other_state(engine) == other_before

        # --- P6: rebuild, then the same identify and the original file again ---
        rebuilt = subprocess.run(
            [sys.executable, "-m", "c360", "rebuild"],
            env={
                **os.environ,
                "C360_DATABASE_URL": database_url,
                "C360_ENCRYPTION_KEYS": encryption_keys or "",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert leftovers(engine) == {}
        send(
            client,
            write_key,
            message("identify", userId=USER, traits={"email": EMAIL, "phone": PHONE}),
            message("identify", userId="u-new-9", traits={"phone": PHONE_LOCAL}),
            message("track", anonymousId=ANON, event="Product Viewed"),
        )
        assert import_crm(engine, crm_file) == 0
        process(engine)
        assert leftovers(engine) == {}
        with engine.connect() as conn:
            arrivals: dict[str, int] = dict(
                conn.execute(
                    select(privacy_suppressed_arrivals.c.kind, func.count()).group_by(
                        privacy_suppressed_arrivals.c.kind
                    )
                ).all()
            )
        assert arrivals == {"event": 3, "record": 1}
        assert other_state(engine) == other_before
        # the other person's messages still come in
        send(client, write_key, message("track", userId=OTHER_USER, event="Order Completed"))
        process(engine)
        assert other_state(engine)["events"] == other_before["events"] + 1


def test_the_tombstone_screens_ingest_only_once_someone_is_erased_and_needs_its_key(
    engine: Engine,
) -> None:
    from c360.compliance.erasure import erase
    from c360.errors import Conflict
    from c360.eventlog.model import LogRow
    from c360.privacy import suppression

    def row(payload: dict[str, Any]) -> LogRow:
        now = system_clock()
        return LogRow(
            source_id=1,
            message_id=str(uuid.uuid4()),
            type="track",
            received_at_us=now,
            sent_at_us=None,
            original_timestamp_us=None,
            timestamp_us=now,
            payload=orjson.dumps(payload).decode(),
        )

    rows = [row({"userId": USER, "event": "Viewed"}), row({"userId": "u-1", "event": "Viewed"})]
    with engine.begin() as conn:
        # nobody erased: the rows pass untouched, not even read
        kept, quarantined = suppression.screen_events(conn, rows, [])
        assert kept is rows and quarantined == []
        # erasing someone nobody holds a profile of still suppresses the identifiers asked for
        report = erase(conn, [], request_id=None, also=[("email", EMAIL_AS_TYPED)])
        assert report.verified and report.suppressed == {"email": 1}
    suppression.changed()
    with engine.begin() as conn:
        rows.append(row({"userId": "u-2", "properties": {"contact": f"<{EMAIL.upper()}>"}}))
        kept, _ = suppression.screen_events(conn, rows, [])
        assert [orjson.loads(r["payload"])["userId"] for r in kept] == [USER, "u-1"]
        assert suppression.find(conn, "email", f" {EMAIL_AS_TYPED} ") is not None
        assert suppression.find(conn, "email", "someone.else@example.vn") is None
    try:
        # another key, or none where one was used, is refused rather than letting people back
        suppression.configure_key("a-configured-key")
        with engine.begin() as conn, pytest.raises(Conflict, match="C360_PRIVACY_KEY"):
            suppression.screen_events(conn, rows, [])
    finally:
        suppression.configure_key(None)
    with engine.connect() as conn:
        assert count(engine, privacy_suppressed_arrivals) == 1
        digests = conn.execute(select(privacy_suppressions.c.value_hash)).scalars().all()
    assert EMAIL not in digests and hashlib.sha256(EMAIL.encode()).hexdigest() not in digests
