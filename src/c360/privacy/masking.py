"""Masking personal data in what the management API answers, keeping its shape.

A role that may not see a kind of personal data (:data:`c360.privacy.roles.VISIBLE`) gets every
value of that kind masked wherever it appears in a response: top-level fields, traits, event
payloads (``traits``, ``context.traits``, ``properties``), golden-record values with their
provenance and alternatives, identifier lists (``{"type": "email", "value": ...}`` and
``"email:..."``), trait changes in the change feed, raw quarantined payloads, CSV and JSON
Lines exports and server-sent events. Masked values keep a recognisable shape
(``s***@example.co.th``, ``+66 8* *** **78``, ``ส●●● ใ●●●``, ``1990-**-**``, ``●●●``) so
screens still lay out; provenance (source, record id, times, rule) is left alone.

Free text cannot be read for every kind of personal data; it is scrubbed of e-mail addresses,
international phone numbers (``+`` and digits) and of every value the same response masks
elsewhere (a briefing's summary repeats the name it masks).
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

import orjson

from c360.privacy.roles import PiiField

F = PiiField

BLOT = "●●●"

_KEYS: dict[str, PiiField] = {
    **dict.fromkeys(
        (
            "firstname",
            "middlename",
            "lastname",
            "fullname",
            "nickname",
            "givenname",
            "familyname",
            "displayname",
            "contactname",
            "customername",
        ),
        F.NAME,
    ),
    **dict.fromkeys(("email", "emailaddress", "mail"), F.EMAIL),
    **dict.fromkeys(
        (
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "telephone",
            "tel",
            "lineuserid",
            "zalouserid",
        ),
        F.PHONE,
    ),
    **dict.fromkeys(
        (
            "address",
            "addressline1",
            "addressline2",
            "street",
            "streetaddress",
            "subdistrict",
            "district",
            "postalcode",
            "postcode",
            "zip",
            "zipcode",
            "contactaddress",
            "deliveryaddress",
            "billingaddress",
            "shippingaddress",
            "latestdeliveryaddress",
            "addresses",
        ),
        F.ADDRESS,
    ),
    **dict.fromkeys(("birthdate", "birthday", "dateofbirth", "dob"), F.BIRTH_DATE),
    **dict.fromkeys(
        ("nationalid", "taxid", "citizenid", "idcard", "passport", "passportnumber"),
        F.NATIONAL_ID,
    ),
}
"""Keys (lower case, without ``_``, ``-`` and spaces) whose values are personal data."""

_PUBLIC = frozenset({"country", "province", "city", "state", "region", "currency", "language"})
"""Coarse values inside an address that aggregates need: never masked."""

_META = frozenset(
    {
        "source",
        "sources",
        "recordid",
        "kind",
        "rule",
        "type",
        "at",
        "atus",
        "firstatus",
        "lastatus",
        "recordcount",
        "version",
        "seq",
        "verified",
        "primary",
    }
)
"""Keys inside a personal value that describe where it came from: never masked."""

_PERSON_KEYS = frozenset({"profileid", "userid", "anonymousid", "customerid"})
_PERSON_PARENTS = frozenset({"traits", "who", "person", "customer", "fields", "values", "golden"})
"""Where a bare ``name`` is a person's name (elsewhere it names a segment, a product...)."""

_IDENTIFIER_TYPES: dict[str, PiiField] = {
    "email": F.EMAIL,
    "phone": F.PHONE,
    "national_id": F.NATIONAL_ID,
    "line_user_id": F.PHONE,
    "zalo_user_id": F.PHONE,
}
_CHANNEL_FIELDS: dict[str, PiiField] = {
    "email": F.EMAIL,
    "sms": F.PHONE,
    "phone": F.PHONE,
    "whatsapp": F.PHONE,
    "line": F.PHONE,
    "zalo": F.PHONE,
}

_EMAIL_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_TEXT = re.compile(r"\+\d[\d ().-]{6,18}\d")
_TYPED_TEXT = re.compile(r"^(email|phone|national_id|line_user_id|zalo_user_id):(.+)$", re.DOTALL)
_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}")
_MIN_ECHO = 4
"""Shorter masked values are not searched for in free text (they would hit too often)."""


def field_of(key: str) -> PiiField | None:
    """The kind of personal data a key holds (``firstName``, ``first_name``...), if any."""
    return _KEYS.get(_norm(key))


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(" ", "")


def mask_value(field: PiiField, value: str) -> str:
    """One value masked the way its kind is shown to roles that may not see it."""
    text = value.strip()
    if not text:
        return value
    if field is F.EMAIL:
        local, at, domain = text.rpartition("@")
        return f"{local[0]}***@{domain}" if at and local else BLOT
    if field is F.PHONE:
        return _mask_phone(text)
    if field is F.NAME:
        return " ".join(word[0] + BLOT for word in text.split())
    if field is F.BIRTH_DATE:
        found = _DATE.match(text)
        return f"{found.group(1)}-**-**" if found else BLOT
    if field is F.NATIONAL_ID:
        keep = sum(c.isalnum() for c in text) > 8
        chars = list(text)
        shown = 0
        for i in range(len(chars) - 1, -1, -1):
            if chars[i].isalnum():
                if keep and shown < 4:
                    shown += 1
                else:
                    chars[i] = "*"
        return "".join(chars)
    return BLOT


def _mask_phone(text: str) -> str:
    digits = [c for c in text if c.isdigit()]
    if len(digits) < 6:
        return text[:2] + BLOT if len(text) > 4 else BLOT  # a LINE or Zalo user id
    if text.startswith("+") and all(c.isdigit() for c in text[1:]):
        # +66812345678 -> +66 8* *** **78: country code, first digit, last two
        national = text[3:]
        hidden = national[0] + "*" * (len(national) - 3) + national[-2:]
        groups = [hidden[:2], hidden[2:5], hidden[5:]]
        return f"{text[:3]} " + " ".join(g for g in groups if g)
    keep = {i for i, c in enumerate(text) if c.isdigit()}
    ordered = sorted(keep)
    shown = set(ordered[:2] + ordered[-2:])
    return "".join("*" if i in keep and i not in shown else c for i, c in enumerate(text))


class Masker:
    """Masks the kinds of personal data in ``hidden`` in JSON documents, CSV and SSE."""

    def __init__(self, hidden: Iterable[PiiField]) -> None:
        self.hidden = frozenset(hidden)

    @property
    def active(self) -> bool:
        return bool(self.hidden)

    def document(self, value: Any) -> Any:
        """A JSON value (as decoded) with every hidden personal value masked."""
        if not self.hidden:
            return value
        echoes: dict[str, str] = {}
        masked = self._walk(value, None, None, echoes)
        return self._scrub_tree(masked, _echo_pattern(echoes), echoes)

    def json_bytes(self, body: bytes) -> bytes:
        """A JSON body masked; a body that is not JSON is scrubbed as text."""
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self.text(body.decode("utf-8", "replace")).encode("utf-8")
        return orjson.dumps(self.document(value))

    def text(self, value: str) -> str:
        """Free text with e-mail addresses and international phone numbers masked."""
        return self._scrub(value, None, {})

    def csv_rows(self, rows: list[list[str]], header: list[str]) -> list[list[str]]:
        """CSV rows (without their header) masked by column name."""
        masked = self.document([dict(zip(header, row, strict=False)) for row in rows])
        return [[str(m.get(c, "")) for c in header] for m in masked]

    # -- the walk: keys decide ------------------------------------------------------

    def _walk(
        self, node: Any, field: PiiField | None, parent: str | None, echoes: dict[str, str]
    ) -> Any:
        if isinstance(node, dict):
            return self._dict(node, field, parent, echoes)
        if isinstance(node, list):
            return [self._walk(item, field, parent, echoes) for item in node]
        if field is None or field not in self.hidden:
            return node
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, str | int | float):
            raw = str(node)
            masked = mask_value(field, raw)
            if len(raw.strip()) >= _MIN_ECHO and masked != raw:
                echoes[raw.strip()] = masked
            return masked
        return node

    def _dict(
        self,
        node: dict[str, Any],
        field: PiiField | None,
        parent: str | None,
        echoes: dict[str, str],
    ) -> dict[str, Any]:
        keys = {_norm(k) for k in node if isinstance(k, str)}
        person = bool(keys & _PERSON_KEYS) or any(k in _KEYS for k in keys)
        person = person or (parent is not None and _norm(parent) in _PERSON_PARENTS)
        own = self._own_field(node)
        out: dict[str, Any] = {}
        for key, value in node.items():
            norm = _norm(key) if isinstance(key, str) else ""
            if norm in _META:
                out[key] = value
                continue
            if norm in _PUBLIC:
                out[key] = self._walk(value, None, key, echoes)
                continue
            child: PiiField | None = _KEYS.get(norm)
            if child is F.ADDRESS and own is not None:
                child = own  # a suppression's or subscription's address is an email or phone
            if child is None and norm == "name" and (person or field is not None):
                child = F.NAME
            if child is None and norm in ("value", "recordid", "old", "new", "label"):
                child = own
            if child is None:
                child = field
            if norm == "payload" and isinstance(value, str) and child is None:
                out[key] = self._raw_payload(value, echoes)
                continue
            out[key] = self._walk(value, child, key, echoes)
        return out

    @staticmethod
    def _own_field(node: dict[str, Any]) -> PiiField | None:
        """What ``value``/``old``/``new``/``address`` hold when the dict says so itself: an
        identifier's type, a trait change's trait, a subscription's channel."""
        kind = node.get("type")
        if isinstance(kind, str) and kind in _IDENTIFIER_TYPES:
            return _IDENTIFIER_TYPES[kind]
        for name in ("trait", "field"):
            trait = node.get(name)
            if isinstance(trait, str):
                found = field_of(trait.rsplit(".", 1)[-1])
                if found is not None:
                    return found
        channel = node.get("channel")
        if isinstance(channel, str) and "address" in node:
            return _CHANNEL_FIELDS.get(channel.lower())
        return None

    def _raw_payload(self, text: str, echoes: dict[str, str]) -> str:
        """A raw payload kept as text (quarantine): masked as JSON when it is JSON."""
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text  # scrubbed with the other free text
        if not isinstance(value, dict | list):
            return text
        return orjson.dumps(self._walk(value, None, None, echoes)).decode()

    # -- free text: what the keys cannot say ------------------------------------------

    def _scrub_tree(self, node: Any, echo: re.Pattern[str] | None, echoes: dict[str, str]) -> Any:
        if isinstance(node, dict):
            return {k: self._scrub_tree(v, echo, echoes) for k, v in node.items()}
        if isinstance(node, list):
            return [self._scrub_tree(v, echo, echoes) for v in node]
        if isinstance(node, str):
            return self._scrub(node, echo, echoes)
        return node

    def _scrub(self, text: str, echo: re.Pattern[str] | None, echoes: dict[str, str]) -> str:
        typed = _TYPED_TEXT.match(text)
        if typed and _IDENTIFIER_TYPES[typed.group(1)] in self.hidden:
            field = _IDENTIFIER_TYPES[typed.group(1)]
            return f"{typed.group(1)}:{mask_value(field, typed.group(2))}"
        if echo is not None:
            text = echo.sub(lambda m: echoes[m.group(0)], text)
        if F.EMAIL in self.hidden and "@" in text:
            text = _EMAIL_TEXT.sub(lambda m: mask_value(F.EMAIL, m.group(0)), text)
        if F.PHONE in self.hidden and "+" in text:
            text = _PHONE_TEXT.sub(lambda m: mask_value(F.PHONE, m.group(0)), text)
        return text


def _echo_pattern(echoes: dict[str, str]) -> re.Pattern[str] | None:
    if not echoes:
        return None
    # longest first, so a full name is replaced before the first name inside it
    ordered = sorted(echoes, key=len, reverse=True)
    return re.compile("|".join(re.escape(raw) for raw in ordered))


class CsvMasker:
    """A CSV export masked as it streams: its first row names the columns, and a row ends at
    a newline outside quotes (a quoted value may hold newlines)."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pending = ""
        self._header: list[str] | None = None

    def feed(self, chunk: str, final: bool = False) -> str:
        self._pending += chunk
        end = _last_record_end(self._pending) if not final else len(self._pending)
        if end <= 0:
            return ""
        complete, self._pending = self._pending[:end], self._pending[end:]
        rows = list(csv.reader(io.StringIO(complete)))
        out = io.StringIO()
        ending = "\r\n" if "\r\n" in complete else "\n"
        writer = csv.writer(out, lineterminator=ending)
        if self._header is None and rows:
            self._header = rows.pop(0)
            writer.writerow(self._header)
        if rows:
            writer.writerows(self._masker.csv_rows(rows, self._header or []))
        return out.getvalue()


def _last_record_end(text: str) -> int:
    """The index just after the last newline that ends a CSV record, or 0."""
    quotes = 0
    end = 0
    for i, char in enumerate(text):
        if char == '"':
            quotes += 1
        elif char == "\n" and quotes % 2 == 0:
            end = i + 1
    return end


class LineMasker:
    """JSON Lines or server-sent events masked as they stream, a line at a time: a line that
    is JSON (or ``data: <JSON>``) is masked as JSON, any other line as text."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._pending = b""

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        self._pending += chunk
        if final:
            complete, self._pending = self._pending, b""
        else:
            end = self._pending.rfind(b"\n") + 1
            complete, self._pending = self._pending[:end], self._pending[end:]
        if not complete:
            return b""
        return b"".join(self._line(line) for line in complete.splitlines(keepends=True))

    def _line(self, line: bytes) -> bytes:
        body = line.rstrip(b"\r\n")
        ending = line[len(body) :]
        prefix = b""
        if body.startswith(b"data:"):
            prefix, body = b"data: ", body[5:].lstrip(b" ")
        if not body.strip():
            return line
        return prefix + self._masker.json_bytes(body) + ending
