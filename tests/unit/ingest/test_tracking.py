"""The tracking API's message rules: decoding a body and splitting it into log rows and rejects."""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Any

import orjson
import pytest
from tests import factories

from c360.eventlog.model import LogRow, RejectRow
from c360.ingest import InvalidBody, Limits, accept_items, decode_envelope
from c360.kernel.clock import parse_timestamp

RECEIVED_US = parse_timestamp("2026-11-23T12:00:00Z")
SOURCE_ID = 7


def encode(value: Any) -> bytes:
    """Compact JSON as an SDK would send it (UTF-8, no ASCII escaping)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def batch_body(*items: Any, **envelope: Any) -> bytes:
    return encode({"batch": list(items), **envelope})


def accept(
    body: bytes, endpoint_type: str | None = None, limits: Limits | None = None
) -> tuple[list[LogRow], list[RejectRow]]:
    envelope = decode_envelope(body, endpoint_type)
    return accept_items(
        envelope,
        endpoint_type,
        source_id=SOURCE_ID,
        received_at_us=RECEIVED_US,
        limits=limits or Limits(),
    )


def only_reject(body: bytes, endpoint_type: str | None = None) -> RejectRow:
    rows, rejects = accept(body, endpoint_type)
    assert rows == []
    assert len(rejects) == 1, rejects
    return rejects[0]


def payload(row: LogRow) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(row["payload"])
    return value


def track(**overrides: Any) -> dict[str, Any]:
    return factories.track(**overrides)


def valid_message(kind: str) -> dict[str, Any]:
    base: dict[str, Any] = {"type": kind, "messageId": factories.message_id(), "userId": "u-1"}
    extra: dict[str, dict[str, Any]] = {
        "identify": {"traits": {"name": "Nguyễn Văn An"}},
        "track": {"event": "Order Completed", "properties": {"total": 1290}},
        "page": {"name": "หน้าแรก"},
        "screen": {"name": "Home"},
        "group": {"groupId": "g-1"},
        "alias": {"previousId": "anon-1"},
    }
    return {**base, **extra[kind]}


# --- accepted messages ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["identify", "track", "page", "screen", "group", "alias"])
def test_valid_message_of_each_type_is_stored_with_its_type_and_message_id(kind: str) -> None:
    message = valid_message(kind)
    rows, rejects = accept(batch_body(message))
    assert rejects == []
    assert [(r["type"], r["message_id"], r["source_id"]) for r in rows] == [
        (kind, message["messageId"], SOURCE_ID)
    ]


@pytest.mark.parametrize("kind", ["identify", "track", "page", "screen", "group", "alias"])
def test_single_endpoint_takes_its_type_from_the_path(kind: str) -> None:
    message = valid_message(kind)
    del message["type"]
    rows, rejects = accept(encode(message), kind)
    assert rejects == []
    assert [r["type"] for r in rows] == [kind]


def test_anonymous_id_alone_identifies_a_message() -> None:
    rows, rejects = accept(batch_body(track(userId=None, anonymousId="anon-42")))
    assert rejects == []
    assert len(rows) == 1


def test_numeric_user_id_is_accepted() -> None:
    rows, rejects = accept(batch_body(track(userId=12345)))
    assert rejects == []
    assert len(rows) == 1


def test_null_optional_fields_are_accepted() -> None:
    message = {
        "type": "track",
        "event": "Signed Up",
        "userId": "u-1",
        "anonymousId": None,
        "messageId": None,
        "traits": None,
        "properties": None,
        "context": None,
        "integrations": None,
        "timestamp": None,
        "originalTimestamp": None,
        "sentAt": None,
    }
    rows, rejects = accept(batch_body(message, context=None, integrations=None, sentAt=None))
    assert rejects == []
    assert len(rows) == 1
    assert rows[0]["timestamp_us"] == RECEIVED_US
    assert rows[0]["message_id"].startswith("c360-")


def test_message_id_of_exactly_100_characters_is_accepted() -> None:
    rows, rejects = accept(batch_body(track(messageId="m" * 100)))
    assert rejects == []
    assert rows[0]["message_id"] == "m" * 100


def test_properties_with_exactly_300_keys_are_accepted() -> None:
    properties = {f"p{i}": i for i in range(300)}
    rows, rejects = accept(batch_body(track(properties=properties)))
    assert rejects == []
    assert len(rows) == 1


# --- reason codes -----------------------------------------------------------------------------

_TOO_MANY = {f"k{i}": i for i in range(301)}

REJECTED = [
    pytest.param({"type": "identify", "traits": {"name": "x"}}, "no_user_anon_id", id="no-ids"),
    pytest.param(
        {"type": "track", "userId": "", "anonymousId": "", "event": "e"},
        "no_user_anon_id",
        id="empty-ids",
    ),
    pytest.param(
        {"type": "track", "userId": {"id": 1}, "event": "e"}, "invalid_user_id", id="user-id-object"
    ),
    pytest.param(
        {"type": "track", "userId": True, "event": "e"}, "invalid_user_id", id="user-id-bool"
    ),
    pytest.param(
        {"type": "track", "anonymousId": ["a"], "event": "e"},
        "invalid_anonymous_id",
        id="anonymous-id-array",
    ),
    pytest.param({"type": "track", "userId": "u"}, "event_not_defined", id="no-event"),
    pytest.param(
        {"type": "track", "userId": "u", "event": ""}, "event_not_defined", id="empty-event"
    ),
    pytest.param({"type": "track", "userId": "u", "event": 42}, "invalid_event", id="event-number"),
    pytest.param(
        {"type": "track", "userId": "u", "event": ["a"]}, "invalid_event", id="event-list"
    ),
    pytest.param({"type": "alias", "userId": "u"}, "no_previous_id", id="alias-no-previous"),
    pytest.param({"type": "alias", "previousId": "anon"}, "no_user_id", id="alias-no-user"),
    pytest.param({"type": "group", "userId": "u"}, "no_group_id", id="group-no-group"),
    pytest.param({"type": "purchase", "userId": "u"}, "invalid_type", id="unknown-type"),
    pytest.param({"userId": "u", "event": "e"}, "invalid_type", id="no-type"),
    pytest.param({"type": 3, "userId": "u"}, "invalid_type", id="type-number"),
    pytest.param("just a string", "invalid_message", id="string-item"),
    pytest.param([1, 2], "invalid_message", id="array-item"),
    pytest.param(42, "invalid_message", id="number-item"),
    pytest.param(None, "invalid_message", id="null-item"),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "messageId": 42},
        "invalid_message_id",
        id="message-id-number",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "messageId": "m" * 101},
        "invalid_message_id",
        id="message-id-101-chars",
    ),
    pytest.param(
        {"type": "identify", "userId": "u", "traits": ["a"]}, "invalid_traits", id="traits-array"
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "properties": "x"},
        "invalid_properties",
        id="properties-string",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "context": 5},
        "invalid_context",
        id="context-number",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "integrations": [True]},
        "invalid_integrations",
        id="integrations-array",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "properties": _TOO_MANY},
        "too_many_properties",
        id="301-properties",
    ),
    pytest.param(
        {"type": "identify", "userId": "u", "traits": _TOO_MANY},
        "too_many_properties",
        id="301-traits",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "context": _TOO_MANY},
        "too_many_properties",
        id="301-context",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "timestamp": "yesterday"},
        "invalid_timestamp",
        id="timestamp-text",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "timestamp": 1795402800},
        "invalid_timestamp",
        id="timestamp-number",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "originalTimestamp": "2026-13-01T00:00:00Z"},
        "invalid_timestamp",
        id="original-timestamp-month-13",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "sentAt": "soon"},
        "invalid_timestamp",
        id="sent-at-text",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "e", "properties": {"blob": "x" * 40_000}},
        "message_too_large",
        id="40kb-message",
    ),
]


@pytest.mark.parametrize(("item", "reason"), REJECTED)
def test_bad_item_is_quarantined_with_its_reason_and_the_rest_of_the_batch_is_stored(
    item: Any, reason: str
) -> None:
    good = track()
    rows, rejects = accept(batch_body(good, item))
    assert [r["message_id"] for r in rows] == [good["messageId"]]
    assert [r["reason"] for r in rejects] == [reason], rejects
    assert rejects[0]["source_id"] == SOURCE_ID
    assert rejects[0]["received_at_us"] == RECEIVED_US
    assert rejects[0]["detail"]


def test_message_too_large_follows_the_configured_limit() -> None:
    message = track(properties={"note": "ก" * 400})
    rows, rejects = accept(batch_body(message), limits=Limits(max_message_bytes=1024))
    assert rows == []
    assert [r["reason"] for r in rejects] == ["message_too_large"]


def test_rejected_item_keeps_its_message_id_and_exact_bytes() -> None:
    item = '{ "type" : "track", "userId":"u", "messageId" : "m-ไทย-1", "properties":{"ชื่อ":"ต้น"} }'
    body = b'{"batch":[' + item.encode("utf-8") + b"]}"
    reject = only_reject(body)
    assert reject["reason"] == "event_not_defined"
    assert reject["message_id"] == "m-ไทย-1"
    assert reject["payload"] == item.encode("utf-8")


def test_single_endpoint_rejects_a_message_breaking_its_type_rule() -> None:
    reject = only_reject(encode({"userId": "u", "properties": {}}), "track")
    assert reject["reason"] == "event_not_defined"


# --- whole-body problems ----------------------------------------------------------------------

INVALID_BODIES = [
    pytest.param(b"", None, id="empty"),
    pytest.param(b"not json", None, id="not-json"),
    pytest.param(b'{"batch": [', None, id="truncated"),
    pytest.param(b"[]", None, id="array"),
    pytest.param(b'"batch"', None, id="string"),
    pytest.param(b"null", None, id="null"),
    pytest.param(b"{}", None, id="no-batch"),
    pytest.param(b'{"batch": {"type": "track"}}', None, id="batch-object"),
    pytest.param(b'{"batch": [], "context": [1]}', None, id="batch-context-array"),
    pytest.param(b'{"batch": [], "integrations": "all"}', None, id="batch-integrations-string"),
    pytest.param(b"[]", "track", id="single-array"),
    pytest.param(b"42", "identify", id="single-number"),
    pytest.param(b"{", "track", id="single-truncated"),
]


@pytest.mark.parametrize(("body", "endpoint_type"), INVALID_BODIES)
def test_unusable_body_raises_invalid_body_with_a_code_and_message(
    body: bytes, endpoint_type: str | None
) -> None:
    with pytest.raises(InvalidBody) as caught:
        decode_envelope(body, endpoint_type)
    assert caught.value.code in {"invalid_body", "invalid_batch", "invalid_json"}
    assert caught.value.message


@pytest.mark.parametrize(
    ("body", "endpoint_type"),
    [
        pytest.param(
            b'{"batch":[' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"]}", None, id="batch-item"
        ),
        pytest.param(b'{"batch":' + b"[" * 10_000 + b"]" * 10_000 + b"}", None, id="batch-array"),
        pytest.param(
            b'{"type":"track","userId":"u","event":"e","properties":{"a":'
            + b"[" * 10_000
            + b"]" * 10_000
            + b"}}",
            "track",
            id="single",
        ),
    ],
)
def test_ten_thousand_levels_of_nesting_is_an_invalid_body_found_quickly(
    body: bytes, endpoint_type: str | None
) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidBody) as caught:
        decode_envelope(body, endpoint_type)
    elapsed_s = time.perf_counter() - started
    assert caught.value.code == "invalid_json"
    assert elapsed_s < 0.1, f"decoding took {elapsed_s * 1000:.0f} ms"


def test_unterminated_string_full_of_escaped_quotes_is_refused_within_100_ms() -> None:
    # 12 kB: each escaped quote could start a string running to the end of the body.
    body = b'{"batch":["' + b'\\"' * 6_000
    started = time.perf_counter()
    with pytest.raises(InvalidBody):
        decode_envelope(body, None)
    elapsed_s = time.perf_counter() - started
    assert elapsed_s < 0.1, f"decoding took {elapsed_s * 1000:.0f} ms"


@pytest.mark.parametrize(
    "context",
    [b'{"score":NaN}', b'{"score":Infinity}', b'{"name":"\\ud800x"}'],
    ids=["nan", "infinity", "lone-surrogate"],
)
def test_unrepresentable_batch_context_is_never_stored_as_a_value_the_client_did_not_send(
    context: bytes,
) -> None:
    good = encode(track())
    body = b'{"context":' + context + b',"batch":[' + good + b"]}"
    try:
        rows, _ = accept(body)
    except InvalidBody:
        return  # refusing the whole body is a correct answer
    assert rows == [], f"stored with a changed context: {[payload(r)['context'] for r in rows]}"


# --- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2026-11-23T03:00:00Z", "2026-11-23T03:00:00+00:00"),
        ("2026-11-23T10:00:00+07:00", "2026-11-23T03:00:00+00:00"),
        ("2026-11-22T22:00:00-05:00", "2026-11-23T03:00:00+00:00"),
        ("2026-11-23T03:00:00.123Z", "2026-11-23T03:00:00.123000+00:00"),
        ("2026-11-23T03:00:00.123456Z", "2026-11-23T03:00:00.123456+00:00"),
        ("2026-11-23T03:00:00.123456789Z", "2026-11-23T03:00:00.123456+00:00"),
        ("2026-11-23T10:00:00.123456789+07:00", "2026-11-23T03:00:00.123456+00:00"),
    ],
)
def test_timestamp_is_read_with_z_offsets_and_milli_micro_or_nanoseconds(
    text: str, expected_utc: str
) -> None:
    rows, rejects = accept(batch_body(track(timestamp=text)))
    assert rejects == []
    expected_us = parse_timestamp(expected_utc)
    assert rows[0]["original_timestamp_us"] == expected_us
    assert rows[0]["timestamp_us"] == expected_us  # no sentAt: nothing to correct


def test_timestamp_is_corrected_for_the_device_clock_skew() -> None:
    # The device clock runs 1 h 0.5 s ahead: it stamped the event at 13:00:00 and sent it at
    # 13:00:10.5 by its own clock; the server received it at 12:00:00.
    message = track(originalTimestamp="2026-11-23T13:00:00.000Z", sentAt="2026-11-23T13:00:10.500Z")
    del message["timestamp"]
    rows, _ = accept(batch_body(message))
    row = rows[0]
    assert row["received_at_us"] == RECEIVED_US
    assert row["sent_at_us"] == parse_timestamp("2026-11-23T13:00:10.500Z")
    assert row["original_timestamp_us"] == parse_timestamp("2026-11-23T13:00:00Z")
    assert row["timestamp_us"] == RECEIVED_US - 10_500_000


def test_batch_sent_at_applies_to_items_without_their_own() -> None:
    inherits = track(originalTimestamp="2026-11-23T11:59:00Z")
    own = track(originalTimestamp="2026-11-23T11:59:00Z", sentAt="2026-11-23T11:59:30Z")
    for message in (inherits, own):
        del message["timestamp"]
    rows, rejects = accept(batch_body(inherits, own, sentAt="2026-11-23T11:59:50Z"))
    assert rejects == []
    by_id = {r["message_id"]: r for r in rows}
    assert by_id[inherits["messageId"]]["timestamp_us"] == RECEIVED_US - 50_000_000
    assert by_id[own["messageId"]]["timestamp_us"] == RECEIVED_US - 30_000_000
    assert by_id[inherits["messageId"]]["sent_at_us"] == parse_timestamp("2026-11-23T11:59:50Z")


def test_message_without_any_time_is_timed_when_received() -> None:
    message = track()
    del message["timestamp"]
    rows, _ = accept(batch_body(message))
    assert rows[0]["timestamp_us"] == RECEIVED_US
    assert rows[0]["original_timestamp_us"] is None
    assert rows[0]["sent_at_us"] is None


def test_bad_batch_sent_at_quarantines_the_items_that_use_it() -> None:
    inherits = track()
    own = track(sentAt="2026-11-23T11:59:30Z")
    rows, rejects = accept(batch_body(inherits, own, sentAt="not a time"))
    assert [r["message_id"] for r in rows] == [own["messageId"]]
    assert [(r["reason"], r["message_id"]) for r in rejects] == [
        ("invalid_timestamp", inherits["messageId"])
    ]


# --- batch-level fields and the write key -----------------------------------------------------


def test_batch_context_and_integrations_are_merged_into_items_and_item_keys_win() -> None:
    plain = track()
    own = track(context={"locale": "vi-VN", "ip": "10.0.0.1"}, integrations={"All": True})
    rows, rejects = accept(
        batch_body(
            plain,
            own,
            context={"library": {"name": "analytics-python"}, "locale": "th-TH"},
            integrations={"All": False, "Mixpanel": True},
        )
    )
    assert rejects == []
    by_id = {r["message_id"]: payload(r) for r in rows}
    assert by_id[plain["messageId"]]["context"] == {
        "library": {"name": "analytics-python"},
        "locale": "th-TH",
    }
    assert by_id[plain["messageId"]]["integrations"] == {"All": False, "Mixpanel": True}
    assert by_id[own["messageId"]]["context"] == {
        "library": {"name": "analytics-python"},
        "locale": "vi-VN",
        "ip": "10.0.0.1",
    }
    assert by_id[own["messageId"]]["integrations"] == {"All": True, "Mixpanel": True}
    assert by_id[own["messageId"]]["properties"] == own["properties"]


def test_write_key_is_read_from_the_batch_body() -> None:
    envelope = decode_envelope(batch_body(track(), writeKey="wk_secret"), None)
    assert envelope.write_key == "wk_secret"


def test_write_key_is_read_from_a_single_message_body() -> None:
    envelope = decode_envelope(encode({**track(), "writeKey": "wk_secret"}), "track")
    assert envelope.write_key == "wk_secret"


@pytest.mark.parametrize(
    ("body", "endpoint_type"),
    [
        pytest.param(batch_body(track(), writeKey="wk_SECRET_1"), None, id="batch-envelope"),
        pytest.param(batch_body({**track(), "writeKey": "wk_SECRET_1"}), None, id="batch-item"),
        pytest.param(
            batch_body({**track(), "writeKey": "wk_SECRET_1"}, context={"app": "pos"}),
            None,
            id="batch-item-merged",
        ),
        pytest.param(encode({**track(), "writeKey": "wk_SECRET_1"}), "track", id="single"),
        pytest.param(
            b'{"type":"track","userId":"u","event":"e","write\\u004bey":"wk_SECRET_1"}',
            "track",
            id="single-escaped-name",
        ),
    ],
)
def test_write_key_is_never_stored_in_an_accepted_payload(
    body: bytes, endpoint_type: str | None
) -> None:
    rows, rejects = accept(body, endpoint_type)
    assert rejects == []
    assert len(rows) == 1
    assert "wk_SECRET_1" not in rows[0]["payload"]


@pytest.mark.parametrize(
    ("body", "endpoint_type"),
    [
        pytest.param(
            batch_body({"type": "track", "userId": "u", "writeKey": "wk_SECRET_2"}),
            None,
            id="batch-item",
        ),
        pytest.param(
            encode({"userId": "u", "writeKey": "wk_SECRET_2"}), "track", id="single-no-event"
        ),
        pytest.param(
            b'{"type":"track","userId":"u","event":"e","writeKey":"wk_SECRET_2","v":NaN}',
            "track",
            id="single-nan",
        ),
    ],
)
def test_write_key_is_never_stored_in_a_quarantined_payload(
    body: bytes, endpoint_type: str | None
) -> None:
    rows, rejects = accept(body, endpoint_type)
    assert rows == []
    assert len(rejects) == 1
    assert b"wk_SECRET_2" not in rejects[0]["payload"]


# --- byte-exact storage -----------------------------------------------------------------------

_VIETNAMESE = "Nguyễn Thị Bích Hường"
_THAI = "สมศักดิ์ ศรีสุข น้ำ"

TEXTS = [
    pytest.param(unicodedata.normalize("NFC", _VIETNAMESE), id="vietnamese-nfc"),
    pytest.param(unicodedata.normalize("NFD", _VIETNAMESE), id="vietnamese-nfd"),
    pytest.param(unicodedata.normalize("NFC", _THAI), id="thai-nfc"),
    pytest.param(unicodedata.normalize("NFD", _THAI), id="thai-nfd"),
    pytest.param("\u0e19\u0e49\u0e33\u0e4d", id="thai-stacked-marks"),
    pytest.param("a\u200bb\u200cc\u200dd\ufeffe", id="zero-width"),
    pytest.param("user\u202egnp.exe\u202c", id="rtl-override"),
    pytest.param("nul\u0000inside", id="nul"),
    pytest.param("emoji 👩🏽‍💻 🇹🇭🇻🇳", id="emoji"),
]


def test_vietnamese_nfc_and_nfd_really_differ() -> None:
    assert unicodedata.normalize("NFC", _VIETNAMESE) != unicodedata.normalize("NFD", _VIETNAMESE)


@pytest.mark.parametrize("text", TEXTS)
def test_accepted_item_is_stored_byte_for_byte(text: str) -> None:
    item = encode(track(traits={"name": text}, properties={text: text}))
    body = b'{"batch":[' + item + b"]}"
    rows, rejects = accept(body)
    assert rejects == []
    assert rows[0]["payload"].encode("utf-8") == item


@pytest.mark.parametrize("text", TEXTS)
def test_single_message_is_stored_byte_for_byte(text: str) -> None:
    item = encode(track(properties={"name": text}))
    rows, rejects = accept(item, "track")
    assert rejects == []
    assert rows[0]["payload"].encode("utf-8") == item


def test_whitespace_key_order_and_escapes_are_kept_as_sent() -> None:
    item = (
        b'{ "properties" : {"z":1,"a":2, "name":"\\u0e2a\\u0e21\\u0e0a\\u0e32\\u0e22"},\n'
        b'  "event":"Viewed", "type":"track", "userId":"u-1", "messageId":"m-1",'
        b' "weird":"\\u0000\\u202e\\"quoted\\""  }'
    )
    rows, rejects = accept(b'{"batch":[\n' + item + b"\n]}")
    assert rejects == []
    assert rows[0]["payload"].encode("utf-8") == item


def test_duplicate_keys_do_not_break_decoding_and_are_stored_as_sent() -> None:
    item = b'{"type":"track","userId":"u","event":"A","event":"B","messageId":"dup-keys"}'
    rows, rejects = accept(b'{"batch":[' + item + b"]}")
    assert rejects == []
    assert rows[0]["payload"].encode("utf-8") == item


# --- message ids ------------------------------------------------------------------------------


def test_message_without_id_gets_the_same_content_derived_id_on_retry() -> None:
    message = track()
    del message["messageId"]
    first, _ = accept(batch_body(message))
    retry, _ = accept(batch_body(message))
    assert first[0]["message_id"] == retry[0]["message_id"]
    assert first[0]["message_id"].startswith("c360-")


def test_messages_without_id_and_different_content_get_different_ids() -> None:
    one = track(event="Product Viewed")
    other = track(event="Product Added")
    for message in (one, other):
        del message["messageId"]
    rows, _ = accept(batch_body(one, other))
    assert len({r["message_id"] for r in rows}) == 2


# --- lenient decoding: one broken item never sinks the batch ---------------------------------


def _batch_around(bad_item: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    goods = [track(), track()]
    body = b'{"batch":[' + encode(goods[0]) + b"," + bad_item + b"," + encode(goods[1]) + b"]}"
    return body, goods


BROKEN_ITEMS = [
    pytest.param(
        b'{"type":"track","userId":"u","event":"e","messageId":"bad-1","properties":{"v":NaN}}',
        "invalid_json",
        id="nan",
    ),
    pytest.param(
        b'{"type":"track","userId":"u","event":"e","messageId":"bad-1","properties":{"v":-Infinity}}',
        "invalid_json",
        id="infinity",
    ),
    pytest.param(
        b'{"type":"track","userId":"u","event":"e","messageId":"bad-1","properties":{"v":"\\ud800"}}',
        "invalid_utf8",
        id="lone-surrogate",
    ),
    pytest.param(
        b'{"type":"track","userId":"u","event":"e","messageId":"bad-1","properties":{"v":"\xff\xfe"}}',
        "invalid_utf8",
        id="invalid-utf8-in-properties",
    ),
    pytest.param(
        b'{"type":"track","userId":"u\xc3","event":"e","messageId":"bad-1"}',
        "invalid_utf8",
        id="invalid-utf8-in-user-id",
    ),
    pytest.param(
        b'{"type":"track","userId":"u","event":"e","messageId":"bad-1","note":"\xed\xa0\x80"}',
        "invalid_utf8",
        id="encoded-surrogate-in-unknown-field",
    ),
]


@pytest.mark.parametrize(("bad_item", "reason"), BROKEN_ITEMS)
def test_undecodable_item_is_quarantined_alone(bad_item: bytes, reason: str) -> None:
    body, goods = _batch_around(bad_item)
    rows, rejects = accept(body)
    assert sorted(r["message_id"] for r in rows) == sorted(g["messageId"] for g in goods)
    assert [r["reason"] for r in rejects] == [reason]
    for row in rows:
        assert row["payload"].encode("utf-8") == encode(
            next(g for g in goods if g["messageId"] == row["message_id"])
        )


@pytest.mark.parametrize(("bad_item", "reason"), BROKEN_ITEMS)
def test_undecodable_item_is_quarantined_with_its_raw_bytes_and_message_id(
    bad_item: bytes, reason: str
) -> None:
    body, _ = _batch_around(bad_item)
    _, rejects = accept(body)
    assert len(rejects) == 1
    assert rejects[0]["payload"] == bad_item
    assert rejects[0]["message_id"] == "bad-1"


def test_single_message_with_invalid_utf8_is_quarantined() -> None:
    bad = b'{"type":"track","userId":"u","event":"e","messageId":"bad-2","properties":{"v":"\xff"}}'
    reject = only_reject(bad, "track")
    assert reject["reason"] == "invalid_utf8"
    assert reject["payload"] == bad


def test_single_message_with_nan_is_quarantined() -> None:
    bad = b'{"type":"track","userId":"u","event":"e","messageId":"bad-3","properties":{"v":NaN}}'
    reject = only_reject(bad, "track")
    assert reject["reason"] == "invalid_json"


def test_lenient_path_still_merges_batch_context_into_good_items() -> None:
    bad = b'{"type":"track","userId":"u","event":"e","properties":{"v":NaN}}'
    good = track()
    body = b'{"context":{"locale":"th-TH"},"batch":[' + bad + b"," + encode(good) + b"]}"
    rows, rejects = accept(body)
    assert [r["reason"] for r in rejects] == ["invalid_json"]
    assert [payload(r)["context"] for r in rows] == [{"locale": "th-TH"}]
