"""The Segment-compatible tracking API's message rules, as pure functions.

A request body is decoded once into an envelope whose items stay raw bytes (``msgspec.Raw``), so
an accepted item is stored byte for byte as the client sent it. Each item is then checked on its
own: a bad item is quarantined with a reason code and never fails the rest of the batch.

Reason codes (kept close to Segment's): ``invalid_message``, ``invalid_type``,
``no_user_anon_id``, ``event_not_defined``, ``invalid_event``, ``no_previous_id``,
``no_group_id``, ``invalid_message_id``, ``invalid_traits``, ``invalid_properties``,
``invalid_context``, ``invalid_integrations``, ``too_many_properties``, ``invalid_timestamp``,
``message_too_large``, ``invalid_json``, ``invalid_utf8``.
"""

import json
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from c360.eventlog.model import LogRow, RejectRow
from c360.kernel.clock import parse_timestamp
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


class _Message(msgspec.Struct):
    type: Any = None
    messageId: Any = None
    userId: Any = None
    anonymousId: Any = None
    previousId: Any = None
    groupId: Any = None
    event: Any = None
    timestamp: Any = None
    originalTimestamp: Any = None
    sentAt: Any = None
    traits: msgspec.Raw = _ABSENT
    properties: msgspec.Raw = _ABSENT
    context: msgspec.Raw = _ABSENT
    integrations: msgspec.Raw = _ABSENT


_decode_batch = msgspec.json.Decoder(_Batch).decode
_decode_single = msgspec.json.Decoder(_Single).decode
_decode_message = msgspec.json.Decoder(_Message).decode


@dataclass(slots=True)
class Envelope:
    """A decoded request: its items still raw, plus what applies to all of them."""

    write_key: str | None
    items: list[bytes]
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    sent_at: Any = None
    # Items the decoder could not even represent (invalid UTF-8, NaN...): quarantined as is.
    broken: list[tuple[str, str, bytes]] | None = None


def decode_envelope(body: bytes, endpoint_type: str | None) -> Envelope:
    """Decode a body of ``/v1/batch`` (``endpoint_type`` None) or of ``/v1/<type>``."""
    try:
        if endpoint_type is None:
            decoded = _decode_batch(body)
            if decoded.batch is None:
                raise InvalidBody("invalid_batch", "the body has no 'batch' array of messages")
            return Envelope(
                _str_or_none(decoded.writeKey),
                [bytes(item) for item in decoded.batch],
                _object_or_none(decoded.context, "context"),
                _object_or_none(decoded.integrations, "integrations"),
                decoded.sentAt,
            )
        single = _decode_single(body)
        return Envelope(_str_or_none(single.writeKey), [body])
    except msgspec.ValidationError as exc:
        raise InvalidBody("invalid_body", _validation_message(exc, endpoint_type)) from exc
    except (msgspec.DecodeError, RecursionError):
        return _decode_leniently(body, endpoint_type)


def _validation_message(exc: msgspec.ValidationError, endpoint_type: str | None) -> str:
    if endpoint_type is None:
        return f"the body must be an object with a 'batch' array of messages ({exc})"
    return f"the body must be a JSON object holding one {endpoint_type} message ({exc})"


def _decode_leniently(body: bytes, endpoint_type: str | None) -> Envelope:
    """Decode a body that strict JSON rejects, to save its good items.

    Invalid UTF-8, lone surrogates and NaN/Infinity are confined to the items holding them,
    which are quarantined with their bytes; the rest of the batch is accepted.
    """
    try:
        value = json.loads(body.decode("utf-8", "surrogateescape"), parse_constant=_Constant)
    except RecursionError as exc:
        raise InvalidBody("invalid_json", "the JSON is nested too deeply") from exc
    except ValueError as exc:
        raise InvalidBody("invalid_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidBody("invalid_body", "the body must be a JSON object")
    if endpoint_type is None:
        raw_items = value.get("batch")
        if not isinstance(raw_items, list):
            raise InvalidBody("invalid_batch", "the body has no 'batch' array of messages")
    else:
        raw_items = [value]
    envelope = Envelope(
        value.get("writeKey") if _encodable_str(value.get("writeKey")) else None, [], broken=[]
    )
    assert envelope.broken is not None
    if endpoint_type is None:
        for name in ("context", "integrations"):
            part = value.get(name)
            if isinstance(part, dict) and _to_json(part) is not None:
                setattr(envelope, name, part)
        envelope.sent_at = value.get("sentAt") if _encodable_str(value.get("sentAt")) else None
    for item in raw_items:
        encoded = _to_json(item)
        if encoded is not None:
            envelope.items.append(encoded)
            continue
        reason, detail = _why_unencodable(item)
        message_id = item.get("messageId") if isinstance(item, dict) else None
        envelope.broken.append(
            (reason, detail, _raw_bytes(item))
            if not _encodable_str(message_id)
            else (reason, detail + f" (messageId {message_id})", _raw_bytes(item))
        )
    return envelope


class _Constant:
    """Stands for NaN/Infinity, which JSON does not allow: the item holding it is quarantined."""

    def __init__(self, text: str) -> None:
        self.text = text


def _to_json(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _why_unencodable(value: Any) -> tuple[str, str]:
    try:
        json.dumps(value, ensure_ascii=False, default=_refuse).encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_utf8", "the message holds bytes that are not valid UTF-8 or lone surrogates"
    except (TypeError, ValueError):
        return "invalid_json", "the message holds NaN or Infinity, which JSON does not allow"
    return "invalid_json", "the message cannot be represented as JSON"


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _raw_bytes(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, default=lambda c: c.text)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _encodable_str(value: Any) -> bool:
    return isinstance(value, str) and _to_json(value) is not None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
        outcome = _accept_one(raw, endpoint_type, batch_sent_at, merge, envelope, limits)
        if isinstance(outcome, _Reject):
            rejected.append(
                RejectRow(
                    source_id=source_id,
                    received_at_us=received_at_us,
                    reason=outcome.reason,
                    detail=outcome.detail,
                    message_id=outcome.message_id,
                    payload=raw,
                )
            )
            continue
        message_id, kind, sent_at_us, original_us, payload = outcome
        if sent_at_us is not None and original_us is not None:
            timestamp_us = received_at_us - (sent_at_us - original_us)
        elif original_us is not None:
            timestamp_us = original_us
        else:
            timestamp_us = received_at_us
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
    for reason, detail, raw in envelope.broken or ():
        rejected.append(
            RejectRow(
                source_id=source_id,
                received_at_us=received_at_us,
                reason=reason,
                detail=detail,
                message_id=None,
                payload=raw,
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
) -> "tuple[str, str, int | None, int | None, str] | _Reject":
    if len(raw) > limits.max_message_bytes:
        return _Reject(
            "message_too_large",
            f"the message is {len(raw)} bytes; the limit is {limits.max_message_bytes}",
        )
    try:
        m = _decode_message(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _Reject("invalid_message", "a message must be a JSON object")
    message_id = m.messageId
    if message_id is not None and (
        not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS
    ):
        return _Reject(
            "invalid_message_id",
            f"messageId must be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters",
        )

    def reject(reason: str, detail: str) -> _Reject:
        return _Reject(reason, detail, message_id)

    kind = endpoint_type or m.type
    if kind not in MESSAGE_TYPES:
        return reject(
            "invalid_type",
            f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}; got {m.type!r}",
        )
    user_id = _identifier(m.userId)
    if user_id is False:
        return reject("invalid_user_id", "userId must be a string or a number")
    anonymous_id = _identifier(m.anonymousId)
    if anonymous_id is False:
        return reject("invalid_anonymous_id", "anonymousId must be a string or a number")
    if kind == "alias":
        if user_id is None:
            return reject("no_user_id", "an alias needs the userId to link to")
        if _identifier(m.previousId) in (None, False):
            return reject("no_previous_id", "an alias needs a previousId (string or number)")
    elif user_id is None and anonymous_id is None:
        return reject("no_user_anon_id", "a message needs a userId or an anonymousId")
    if kind == "track":
        if m.event is None or m.event == "":
            return reject("event_not_defined", "a track message needs an event name")
        if not isinstance(m.event, str):
            return reject("invalid_event", "event must be a string")
    elif kind == "group" and _identifier(m.groupId) in (None, False):
        return reject("no_group_id", "a group message needs a groupId (string or number)")
    for name, part in (
        ("traits", m.traits),
        ("properties", m.properties),
        ("context", m.context),
        ("integrations", m.integrations),
    ):
        problem = _check_object(part, name, limits.max_properties)
        if problem is not None:
            return reject(*problem)
    try:
        original = m.originalTimestamp if m.originalTimestamp is not None else m.timestamp
        original_us = None if original is None else parse_timestamp(original)
        sent = m.sentAt if m.sentAt is not None else batch_sent_at
        sent_at_us = None if sent is None else parse_timestamp(sent)
    except ValueError:
        return reject(
            "invalid_timestamp",
            "timestamp, originalTimestamp and sentAt must be ISO-8601 strings",
        )
    if message_id is None:
        message_id = content_message_id(raw)
    needs_rewrite = merge or b'"writeKey"' in raw
    payload = _rewrite(raw, envelope) if needs_rewrite else raw.decode("utf-8")
    return message_id, kind, sent_at_us, original_us, payload


def _identifier(value: Any) -> str | bool | None:
    """A user/anonymous/group id as text; None when absent or empty; False when unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return False


def _check_object(raw: msgspec.Raw, name: str, max_keys: int) -> tuple[str, str] | None:
    if not len(raw):
        return None
    data = bytes(raw)
    if data == b"null":
        return None
    if data[:1] != b"{":
        return f"invalid_{name}", f"{name} must be an object"
    # A key-value pair takes at least 4 bytes ("":0,), so short objects cannot be over the limit.
    if len(data) > 4 * max_keys:
        count = len(msgspec.json.decode(data))
        if count > max_keys:
            return "too_many_properties", f"{name} has {count} keys; the limit is {max_keys}"
    return None


def _rewrite(raw: bytes, envelope: Envelope) -> str:
    """The item with batch-level context/integrations merged in and any writeKey removed."""
    item: dict[str, Any] = orjson.loads(raw)
    item.pop("writeKey", None)
    for name in ("context", "integrations"):
        shared = getattr(envelope, name)
        if shared:
            own = item.get(name)
            item[name] = {**shared, **own} if isinstance(own, dict) else dict(shared)
    return orjson.dumps(item).decode("utf-8")
