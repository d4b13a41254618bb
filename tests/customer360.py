"""Test data for the Customer 360: one customer's records of every kind, loaded through the
real import path (mapping, standardization, identity resolution)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from c360.eventlog.model import LogRow
from c360.eventlog.service import append, ensure_source
from c360.ingest.mapping import parse_mapping
from c360.ingest.schema import IDENTIFIER_TYPES, RecordKind, fields_of
from c360.workers.imports import import_file
from c360.workers.processor import process_available

ID_COLUMNS = {"order": "order_id", "order_item": "line_id", "invoice": "invoice_id"}


def mapping_for(source: str, kind: str, row: dict[str, Any], region: str = "TH") -> str:
    """A mapping naming each column as the canonical field of the same name."""
    known = fields_of(RecordKind(kind))
    fields = [c for c in row if c in known and c not in IDENTIFIER_TYPES]
    identifiers = [c for c in row if c in IDENTIFIER_TYPES]
    lines = [
        f"source: {source}",
        f"kind: {kind}",
        "record_id: id",
        f"defaults: {{default_region: {region}, timezone: Asia/Bangkok}}",
        "read: {format: jsonl}",
        "fields:",
        *(f"  {c}: {c}" for c in fields),
    ]
    if identifiers:
        lines += ["identifiers:", *(f"  {c}: {c}" for c in identifiers)]
    return "\n".join(lines) + "\n"


def load(
    engine: Engine, tmp_path: Path, source: str, kind: str, rows: list[dict[str, Any]]
) -> None:
    """Import ``rows`` as records of ``kind`` from ``source`` and apply them to profiles."""
    path = tmp_path / f"{source}-{kind}-{random.random():.9f}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    text = mapping_for(source, kind, rows[0])
    summary = import_file(
        engine, path, source=source, mapping=parse_mapping(text), mapping_text=text
    )
    assert summary.quarantined == 0, summary
    process(engine)


_clock = iter(range(1_700_000_000_000_000, 1_800_000_000_000_000, 1000))


def track(engine: Engine, *messages: dict[str, Any], source: str = "web") -> None:
    """Log tracked messages as the tracking API would, and apply them."""
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
        rows = []
        for m in messages:
            received = next(_clock)
            rows.append(
                LogRow(
                    source_id=source_id,
                    message_id=m["messageId"],
                    type=m["type"],
                    received_at_us=received,
                    sent_at_us=None,
                    original_timestamp_us=None,
                    timestamp_us=m.pop("_at_us", received),
                    payload=orjson.dumps(m).decode(),
                )
            )
        append(conn, rows, [])
    process(engine)


def process(engine: Engine) -> None:
    while process_available(engine, 200):
        pass


SOMCHAI = {
    "first_name": "สมชาย",
    "last_name": "ใจดี",
    "email": "somchai@example.co.th",
    "phone": "081-234-5678",
}


def somchai_everywhere(engine: Engine, tmp_path: Path) -> None:
    """Somchai in the CRM, two shop orders with lines, an invoice and its payment, a delivery,
    a ticket, an NPS answer, an event registration and a newsletter subscription: every
    record kind a person has."""
    load(
        engine,
        tmp_path,
        "crm",
        "contact",
        [
            {
                "id": "c-1",
                **SOMCHAI,
                "address": "99/1 ถนนสุขุมวิท แขวงคลองเตย เขตคลองเตย",
                "province": "กรุงเทพมหานคร",
                "postal_code": "10110",
                "country": "TH",
                "source_created_at": "2024-01-05T09:00:00+07:00",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "shop",
        "order",
        [
            {
                "id": "o-1",
                "order_id": "o-1",
                **SOMCHAI,
                "ordered_at": "2026-10-01T10:00:00+07:00",
                "status": "delivered",
                "channel": "web",
                "store": "Online",
                "total": "1,500.00 THB",
                "currency": "THB",
            },
            {
                "id": "o-2",
                "order_id": "o-2",
                **SOMCHAI,
                "ordered_at": "2026-11-01T10:00:00+07:00",
                "status": "delivered",
                "channel": "web",
                "store": "Online",
                "total": "500.00 THB",
                "currency": "THB",
            },
        ],
    )
    load(
        engine,
        tmp_path,
        "shop_items",
        "order_item",
        [
            {
                "id": "o-1:1",
                "order_id": "o-1",
                "line_no": 1,
                "sku": "SH-01",
                "product_name": "Running shoes",
                "category": "shoes",
                "quantity": 1,
                "amount": "1,500.00 THB",
            },
            {
                "id": "o-2:1",
                "order_id": "o-2",
                "line_no": 1,
                "sku": "SO-01",
                "product_name": "Socks",
                "category": "apparel",
                "quantity": 2,
                "amount": "500.00 THB",
            },
        ],
    )
    load(
        engine,
        tmp_path,
        "shipping",
        "shipment",
        [
            {
                "id": "s-1",
                "shipment_id": "s-1",
                "order_id": "o-2",
                "carrier": "Kerry",
                "status": "Delivered",
                "scheduled_at": "2026-11-03T09:00:00+07:00",
                "delivered_at": "2026-11-03T18:30:00+07:00",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "support",
        "ticket",
        [
            {
                "id": "t-1",
                "ticket_id": "t-1",
                **SOMCHAI,
                "channel": "phone",
                "topic": "Late delivery",
                "status": "Open",
                "priority": "High",
                "opened_at": "2026-11-02T14:00:00+07:00",
                "notes": "ลูกค้าไม่พอใจ พัสดุล่าช้า",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "survey",
        "survey_response",
        [
            {
                "id": "r-1",
                "email": SOMCHAI["email"],
                "first_name": SOMCHAI["first_name"],
                "survey": "NPS",
                "score": 3,
                "comment": "ส่งช้ามาก แย่",
                "responded_at": "2026-11-04T08:00:00+07:00",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "billing",
        "invoice",
        [
            {
                "id": "inv-1",
                "invoice_id": "inv-1",
                "order_id": "o-1",
                "issued_at": "2026-10-02T09:00:00+07:00",
                "amount": "1,500.00 THB",
                "outstanding": "0 THB",
                "status": "Paid",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "payments",
        "payment",
        [
            {
                "id": "pay-1",
                "payment_id": "pay-1",
                "invoice_id": "inv-1",
                "paid_at": "2026-10-03T11:00:00+07:00",
                "amount": "1,500.00 THB",
                "method": "PromptPay",
                "status": "Completed",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "events",
        "registration",
        [
            {
                "id": "reg-1",
                **SOMCHAI,
                "event_name": "Bangkok Run Club",
                "registered_at": "2026-09-15T20:00:00+07:00",
                "attended": "yes",
                "channel": "line",
            }
        ],
    )
    load(
        engine,
        tmp_path,
        "newsletter",
        "subscription",
        [
            {
                "id": "sub-1",
                "email": SOMCHAI["email"],
                "first_name": SOMCHAI["first_name"],
                "list_name": "Running deals",
                "channel": "email",
                "status": "subscribed",
                "subscribed_at": "2024-02-01T08:00:00+07:00",
            }
        ],
    )
