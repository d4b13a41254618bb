"""The Segment-compatible tracking API's message rules, as pure functions.

A request body is decoded once into an envelope whose items stay raw bytes (``msgspec.Raw``), so
an accepted item is stored byte for byte as the client sent it. Each item is then checked on its
own: a bad item is quarantined with a reason code and never fails the rest of the batch.

Reason codes (kept close to Segment's): ``invalid_message``, ``invalid_type``,
``no_user_anon_id``, ``event_not_defined``, ``invalid_event``, ``no_previous_id``,
``no_group_id``, ``invalid_message_id``, ``invalid_traits``, ``invalid_properties``,
``invalid_context``, ``invalid_integrations``, ``too_many_properties``, ``invalid_timestamp``,
``message_too_large``, ``invalid_json``, ``invalid_utf8``, ``no_user_id``, ``invalid_user_id``,
``invalid_anonymous_id`` (each explained in docs/tracking-api.md).
"""

import json
import re
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from c360.eventlog.model import LogRow, RejectRow
from c360.kernel.clock import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, parse_timestamp
from c360.kernel.ids import content_message_id

MESSAGE_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_MESSAGE_ID_CHARS = 100

_ABSENT = msgspec.Raw()


class InvalidBody(Exception):
    """The whole request body is unusable (not JSON, not an object, no batch array)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 32 * 1024
    max_properties: int = 300


class _Batch(msgspec.Struct):
    batch: list[msgspec.Raw] | None = None
    context: msgspec.Raw = _ABSENT
    integrations: msgspec.Raw = _ABSENT
    writeKey: Any = None
    sentAt: Any = None


class _Single(msgspec.Struct):
    writeKey: Any = None


_decode_batch = msgspec.json.Decoder(_Batch).decode
_decode_single = msgspec.json.Decoder(_Single).decode


@dataclass(slots=True)
class Envelope:
    """A decoded request: its items still raw, plus what applies to all of them."""

    write_key: str | None
    items: list[bytes]
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    sent_at: Any = None


def decode_envelope(body: bytes, endpoint_type: str | None) -> Envelope:
    """Decode a body of ``/v1/batch`` (``endpoint_type`` None) or of ``/v1/<type>``.

    Items stay raw; they are checked one by one by ``accept_items``.
    """
    try:
        return _decode(body, body, endpoint_type)
    except msgspec.ValidationError as exc:
        raise InvalidBody("invalid_body", _validation_message(exc, endpoint_type)) from exc
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        # NaN and Infinity are not JSON, but they must only cost the items holding them.
        sanitized, changed = _neutralise_constants(body)
        if not changed:
            raise InvalidBody("invalid_json", f"the body is not valid JSON: {exc}") from None
        try:
            return _decode(sanitized, body, endpoint_type, changed)
        except msgspec.ValidationError as exc2:
            raise InvalidBody("invalid_body", _validation_message(exc2, endpoint_type)) from None
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            raise InvalidBody("invalid_json", f"the body is not valid JSON: {exc}") from None


def _decode(
    parsable: bytes,
    original: bytes,
    endpoint_type: str | None,
    changed: list[tuple[int, int]] | None = None,
) -> Envelope:
    """Decode ``parsable``; items are cut from ``original`` (same length, same offsets).

    ``changed`` lists the spans that differ between the two: each must lie inside an item,
    which is then quarantined on its own; a change in the envelope refuses the request.
    """
    if endpoint_type is not None:
        single = _decode_single(parsable)
        return Envelope(_str_or_none(single.writeKey), [original])
    decoded = _decode_batch(parsable)
    if decoded.batch is None:
        raise InvalidBody("invalid_batch", "the body has no 'batch' array of messages")
    if changed is None:
        items = [bytes(item) for item in decoded.batch]
    else:
        items, spans, position = [], [], 0
        for item in decoded.batch:
            piece = bytes(item)
            start = parsable.index(piece, position)
            position = start + len(piece)
            items.append(original[start:position])
            spans.append((start, position))
        if not all(any(a <= lo and hi <= b for a, b in spans) for lo, hi in changed):
            raise InvalidBody(
                "invalid_json",
                "the batch envelope (context, integrations, sentAt) holds NaN, Infinity or a "
                "lone surrogate, which JSON does not allow",
            )
    return Envelope(
        _str_or_none(decoded.writeKey),
        items,
        _object_or_none(decoded.context, "context"),
        _object_or_none(decoded.integrations, "integrations"),
        decoded.sentAt,
    )


def _validation_message(exc: msgspec.ValidationError, endpoint_type: str | None) -> str:
    if endpoint_type is None:
        return f"the body must be an object with a 'batch' array of messages ({exc})"
    return f"the body must be a JSON object holding one {endpoint_type} message ({exc})"


_NEXT_TOKEN = re.compile(rb'"|-?Infinity|NaN')
_REST_OF_STRING = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: linear
_SAME_LENGTH = {b"NaN": b"0.0", b"Infinity": b"0.000000", b"-Infinity": b"-0.000000"}
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _neutralise_constants(body: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """``body`` made parsable without moving a byte, and the spans that were changed.

    NaN/Infinity outside strings become numbers of the same length; lone surrogate escapes
    inside strings become ``\\ufffd``. This only serves to find where each item starts and
    ends: items are cut from the original body and checked (and quarantined) one by one.
    One pass, linear in the body's length: hostile bodies cannot make it slow.
    """
    parts: list[bytes] = []
    changed: list[tuple[int, int]] = []
    position = 0
    while (token := _NEXT_TOKEN.search(body, position)) is not None:
        parts.append(body[position : token.start()])
        if token.group() != b'"':
            parts.append(_SAME_LENGTH[token.group()])
            changed.append(token.span())
            position = token.end()
            continue
        rest = _REST_OF_STRING.match(body, token.end())
        if rest is None:
            raise InvalidBody("invalid_json", "the body has a string that never ends")
        text = body[token.start() : rest.end()]
        if b"\\u" in text:
            fixed = _LONE_SURROGATE.sub(rb"\\ufffd", text)
            if fixed != text:
                changed.append((token.start(), rest.end()))
            text = fixed
        parts.append(text)
        position = rest.end()
    parts.append(body[position:])
    return b"".join(parts), changed


def _lenient_message_id(raw: bytes) -> str | None:
    """The messageId of an item that is not valid JSON, if one can still be read."""
    try:
        item = json.loads(raw.decode("utf-8", "surrogateescape"), parse_constant=float)
    except (ValueError, RecursionError):
        return None
    message_id = item.get("messageId") if isinstance(item, dict) else None
    if isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS:
        try:
            message_id.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return message_id
    return None


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidBody("invalid_body", "writeKey must be a string")


def _object_or_none(raw: msgspec.Raw, name: str) -> dict[str, Any] | None:
    if not len(raw) or bytes(raw) == b"null":
        return None
    value = msgspec.json.decode(raw)
    if not isinstance(value, dict):
        raise InvalidBody("invalid_body", f"the batch-level '{name}' must be an object")
    return value if value else None


def accept_items(
    envelope: Envelope,
    endpoint_type: str | None,
    *,
    source_id: int,
    received_at_us: int,
    limits: Limits,
) -> tuple[list[LogRow], list[RejectRow]]:
    """Split a request's items into log rows and quarantined items."""
    rows: list[LogRow] = []
    rejected: list[RejectRow] = []
    batch_sent_at = envelope.sent_at
    merge = envelope.context is not None or envelope.integrations is not None
    for raw in envelope.items:
        outcome = _accept_one(
            raw, endpoint_type, batch_sent_at, merge, envelope, limits, received_at_us
        )
        if isinstance(outcome, _Reject):
            rejected.append(
                RejectRow(
                    source_id=source_id,
                    received_at_us=received_at_us,
                    reason=outcome.reason,
                    detail=outcome.detail,
                    message_id=outcome.message_id,
                    payload=without_write_key(raw),
                )
            )
            continue
        message_id, kind, sent_at_us, original_us, timestamp_us, payload = outcome
        rows.append(
            LogRow(
                source_id=source_id,
                message_id=message_id,
                type=kind,
                received_at_us=received_at_us,
                sent_at_us=sent_at_us,
                original_timestamp_us=original_us,
                timestamp_us=timestamp_us,
                payload=payload,
            )
        )
    return rows, rejected


@dataclass(frozen=True, slots=True)
class _Reject:
    reason: str
    detail: str
    message_id: str | None = None


def _accept_one(
    raw: bytes,
    endpoint_type: str | None,
    batch_sent_at: Any,
    merge: bool,
    envelope: Envelope,
    limits: Limits,
    received_at_us: int,
) -> "tuple[str, str, int | None, int | None, int, str] | _Reject":
    """Check one item; return its log fields or why it is quarantined.

    The corrected timestamp is Segment's: ``receivedAt - (sentAt - originalTimestamp)``
    when both are known, else the client's time, else the time of receipt.
    """
    if len(raw) > limits.max_message_bytes:
        return _Reject(
            "message_too_large",
            f"the message is {len(raw)} bytes; the limit is {limits.max_message_bytes}",
        )
    try:
        # A full parse validates what the envelope decoder skipped over: UTF-8, surrogates.
        m = orjson.loads(raw)
        text = raw.decode("utf-8")
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        message_id = _lenient_message_id(raw)
        if isinstance(exc, UnicodeDecodeError) or "surrogate" in str(exc):
            return _Reject(
                "invalid_utf8",
                "the message holds text that is not valid UTF-8 (bad bytes or a lone surrogate)",
                message_id,
            )
        return _Reject(
            "invalid_json", "the message is not valid JSON (NaN or Infinity?)", message_id
        )
    if not isinstance(m, dict):
        return _Reject("invalid_message", "a message must be a JSON object")
    message_id = m.get("messageId")
    if message_id is not None and (
        not isinstance(message_id, str)
        or not 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS
        or "\x00" in message_id
    ):
        return _Reject(
            "invalid_message_id",
            f"messageId must be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters "
            "without NUL characters",
        )

    def reject(reason: str, detail: str) -> _Reject:
        return _Reject(reason, detail, message_id)

    kind = endpoint_type or m.get("type")
    if kind not in MESSAGE_TYPES:
        return reject(
            "invalid_type",
            f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}; got {m.get('type')!r}",
        )
    user_id = _identifier(m.get("userId"))
    if user_id is False:
        return reject("invalid_user_id", "userId must be a string (without NUL) or a number")
    anonymous_id = _identifier(m.get("anonymousId"))
    if anonymous_id is False:
        return reject(
            "invalid_anonymous_id", "anonymousId must be a string (without NUL) or a number"
        )
    if kind == "alias":
        if user_id is None:
            return reject("no_user_id", "an alias needs the userId to link to")
        if _identifier(m.get("previousId")) in (None, False):
            return reject("no_previous_id", "an alias needs a previousId (string or number)")
    elif user_id is None and anonymous_id is None:
        return reject("no_user_anon_id", "a message needs a userId or an anonymousId")
    if kind == "track":
        event = m.get("event")
        if event is None or event == "":
            return reject("event_not_defined", "a track message needs an event name")
        if not isinstance(event, str):
            return reject("invalid_event", "event must be a string")
    elif kind == "group" and _identifier(m.get("groupId")) in (None, False):
        return reject("no_group_id", "a group message needs a groupId (string or number)")
    for name in ("traits", "properties", "context", "integrations"):
        part = m.get(name)
        if part is None:
            continue
        if not isinstance(part, dict):
            return reject(f"invalid_{name}", f"{name} must be an object")
        if len(part) > limits.max_properties:
            return reject(
                "too_many_properties",
                f"{name} has {len(part)} keys; the limit is {limits.max_properties}",
            )
    try:
        original = m.get("originalTimestamp")
        if original is None:
            original = m.get("timestamp")
        original_us = None if original is None else parse_timestamp(original)
        sent = m.get("sentAt")
        if sent is None:
            sent = batch_sent_at
        sent_at_us = None if sent is None else parse_timestamp(sent)
    except ValueError:
        return reject(
            "invalid_timestamp",
            "timestamp, originalTimestamp and sentAt must be ISO-8601 strings",
        )
    if sent_at_us is not None and original_us is not None:
        timestamp_us = received_at_us - (sent_at_us - original_us)
    elif original_us is not None:
        timestamp_us = original_us
    else:
        timestamp_us = received_at_us
    if not MIN_TIMESTAMP_US <= timestamp_us <= MAX_TIMESTAMP_US:
        return reject("invalid_timestamp", "the message's time falls outside the years 1 to 9999")
    if message_id is None:
        message_id = content_message_id(raw)
    if merge or "writeKey" in m:
        text = _rewrite(m, envelope)
    return message_id, kind, sent_at_us, original_us, timestamp_us, text


def _identifier(value: Any) -> str | bool | None:
    """A user/anonymous/group id as text; None when absent or empty; False when unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value if "\x00" not in value else False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return False


def _rewrite(item: dict[str, Any], envelope: Envelope) -> str:
    """The item with batch-level context/integrations merged in and any writeKey removed."""
    item.pop("writeKey", None)
    for name in ("context", "integrations"):
        shared = getattr(envelope, name)
        if shared:
            own = item.get(name)
            item[name] = {**shared, **own} if isinstance(own, dict) else dict(shared)
    return orjson.dumps(item).decode("utf-8")


def without_write_key(raw: bytes) -> bytes:
    """Raw item bytes fit for quarantine: a writeKey (however spelled) is removed."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8", "surrogateescape")
            item = json.loads(text, parse_constant=_Constant)
        except (ValueError, RecursionError):
            return raw
        if not isinstance(item, dict) or "writeKey" not in item:
            return raw
        item.pop("writeKey")
        dumped = json.dumps(item, ensure_ascii=False, default=lambda c: c.text)
        try:
            return dumped.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return dumped.encode("utf-8", "surrogatepass")
    if isinstance(item, dict) and "writeKey" in item:
        item.pop("writeKey")
        return orjson.dumps(item)
    return raw


class _Constant:
    """Keeps NaN/Infinity as written when an item must be re-encoded for quarantine."""

    def __init__(self, text: str) -> None:
        self.text = text
