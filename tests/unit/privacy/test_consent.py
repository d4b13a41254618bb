"""The consent rules without a store: statements from events and records, the current state,
expiry, subscriptions apart from purposes, and checks of changes as given."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from c360.errors import InvalidInput
from c360.privacy.consent import (
    Statement,
    consented,
    extract,
    fold,
    notice_hash,
    parse_proof,
    proof_entry,
    statement_from,
    zone_of,
)

DAY = 86_400_000_000
NOW = 1_800_000_000_000_000


@dataclass
class Ev:
    name: str | None
    at_us: int
    seq: int
    type: str = "track"
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    source: str = "web"


@dataclass
class Rec:
    fields: dict[str, Any]
    updated_at_us: int
    kind: str = "subscription"
    source: str = "crm"
    record_id: str = "r-1"


def prefs(at_us: int, seq: int, **given: bool) -> Ev:
    return Ev("Page", at_us, seq, "page", context={"consent": {"categoryPreferences": given}})


def test_a_preference_repeated_on_every_message_is_one_entry_until_it_changes() -> None:
    events = [prefs(NOW + i, i, marketing=True) for i in range(5)]
    events.append(prefs(NOW + 10, 10, marketing=False))
    found = extract(events, [])
    assert [(s.state, s.seq, s.method) for s in found] == [
        ("granted", 0, "tracking"),
        ("withdrawn", 10, "tracking"),
    ]


def test_an_unsubscribed_channel_blocks_marketing_there_whatever_the_purpose_says() -> None:
    events = [
        Ev(
            "Email Unsubscribed",
            NOW,
            1,
            properties={
                "consent_purpose": "marketing",
                "consent_channel": "email",
                "message_id": 9,
            },
        ),
        prefs(NOW + DAY, 2, marketing=True),  # a later cookie banner grants marketing
    ]
    found = extract(events, [])
    assert (found[0].kind, found[0].state, found[0].evidence) == (
        "subscription",
        "unsubscribed",
        "message 9",
    )
    current = fold(found, NOW + 2 * DAY)
    assert current.subscriptions == {"email": "unsubscribed"}
    assert consented(current.consent, "marketing", None)
    assert not consented(current.consent, "marketing", "email")
    assert consented(current.consent, "marketing", "sms")
    resubscribed = Rec({"channel": "email", "status": "subscribed"}, NOW + 3 * DAY)
    again = fold(extract(events, [resubscribed]), NOW + 4 * DAY)
    assert again.subscriptions == {"email": "subscribed"}
    assert consented(again.consent, "marketing", "email")


def test_an_expired_grant_counts_as_not_given_and_names_its_expiry() -> None:
    grant = statement_from(
        {"purpose": "profiling", "state": "granted", "expires_at": "2027-01-15T00:00:00Z"},
        default_source="api",
        default_at_us=NOW - DAY,
    )
    before = fold([grant], grant.expires_at_us - 1)  # type: ignore[operator]
    assert consented(before.consent, "profiling", None)
    assert before.next_expiry_us == grant.expires_at_us
    after = fold([grant], grant.expires_at_us or 0)
    assert not consented(after.consent, "profiling", None)
    assert after.next_expiry_us is None


def test_a_form_record_with_a_purpose_is_consent_to_it_with_its_proof() -> None:
    record = Rec(
        {
            "purpose": "Analytics",
            "status": "granted",
            "subscribed_at": "2026-11-01T03:00:00Z",
            "method": "checkbox",
            "notice_text": "ข้อความยินยอม",
            "notice_version": "v2",
        },
        NOW,
    )
    [found] = extract([], [record])
    assert (found.kind, found.purpose, found.channel, found.state) == (
        "purpose",
        "analytics",
        "*",
        "granted",
    )
    assert found.notice_sha256 == notice_hash("ข้อความยินยอม")
    assert (found.source, found.record_id, found.method) == ("crm", "r-1", "checkbox")


def test_changes_as_given_are_checked_field_by_field() -> None:
    for data, word in (
        ({"kind": "subscription", "channel": "*", "state": "subscribed"}, "names its channel"),
        ({"purpose": "marketing", "state": "subscribed"}, "granted or withdrawn"),
        ({"purpose": "marketing", "state": "granted", "method": "telepathy"}, "method"),
        ({"purpose": "marketing", "state": "granted", "at": "yesterday"}, "ISO 8601"),
        ({"purpose": "marketing", "state": "granted", "time_zone": "Mars/Base"}, "time zone"),
        (
            {"purpose": "marketing", "state": "granted", "notice_text": "a", "notice_sha256": "0"},
            "notice_sha256",
        ),
    ):
        with pytest.raises(InvalidInput, match=word):
            statement_from(data, default_source="api", default_at_us=NOW)


def test_a_proof_entry_reads_back_as_the_same_statement() -> None:
    original = Statement(
        "purpose",
        "marketing",
        "line",
        "granted",
        NOW,
        "shop",
        "call_recording",
        notice_version="v1",
        notice_text="ok",
        notice_sha256=notice_hash("ok"),
        evidence="rec-1",
        expires_at_us=NOW + DAY,
        time_zone="Asia/Ho_Chi_Minh",
        seq=42,
    )
    zone = zone_of("Asia/Bangkok")
    assert zone is not None
    entry = proof_entry(original, zone)
    assert entry["at_local"].endswith("+07:00") and entry["origin"] == {"seq": 42}
    _pid, [back] = parse_proof({"profile_id": "p", "entries": [entry]})
    assert back.proof() == original.proof()
