"""Encryption at rest of the columns that hold personal data (``C360_ENCRYPTION_KEYS``).

A sealed column keeps its database type (text, JSON, bytes); with a keyring configured each
value written to it is encrypted with AES-256-GCM under the keyring's active key and stored
as a token::

    c360:1:<key id>:<base64url(12-byte nonce || ciphertext || 16-byte tag)>

(a JSON column holds the token as a JSON string, a binary one as its bytes). The token's
associated data is the column's name (``event_log.payload``), so a value copied into another
sealed column does not decrypt. Reading opens any token whose key id the keyring holds, so
keys rotate without downtime: put the new key first, keep the old ones until
``c360 encryption rotate`` has re-sealed every row (``c360 encryption status`` shows which
keys are still in use). Values written before encryption was turned on stay readable in
clear until the rotation seals them.

The columns are declared with :class:`Sealed` in :mod:`c360.storage.tables`;
:func:`sealed_columns` lists them. The keyring is the process's, set once from the settings
(:func:`configure_sealing`), as every process of one deployment must use the same keys.
"""

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, LargeBinary, Text, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from c360.errors import InvalidInput

PREFIX = "c360:1:"
_PREFIX_BYTES = PREFIX.encode()
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_NONCE_BYTES = 12


class SealedDataError(RuntimeError):
    """A sealed value that this process cannot open: no keyring, an unknown key id, or a
    value that fails authentication (changed, or moved from another column)."""


@dataclass(frozen=True, slots=True)
class Keyring:
    """The encryption keys by id; the first is the active one (new values are sealed with
    it), the others only open values sealed before a rotation."""

    active: str
    keys: dict[str, AESGCM]

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        """``id:base64key,id:base64key,...`` (32-byte keys, standard or URL-safe base64)."""
        ids: list[str] = []
        keys: dict[str, AESGCM] = {}
        for index, part in enumerate(p.strip() for p in text.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            where = f"C360_ENCRYPTION_KEYS entry {index + 1}"
            if not sep or not _KEY_ID.match(kid):
                raise InvalidInput(
                    f"{where} must be <id>:<base64 key> with an id of letters, digits, '.', "
                    "'_' or '-' (up to 32); `c360 encryption new-key` makes one"
                )
            if kid in keys:
                raise InvalidInput(f"{where}: key id {kid!r} is given twice")
            try:
                raw = base64.b64decode(
                    encoded.strip().replace("-", "+").replace("_", "/") + "==", validate=False
                )
            except ValueError as exc:
                raise InvalidInput(f"{where} ({kid}): the key is not base64") from exc
            if len(raw) != 32:
                raise InvalidInput(
                    f"{where} ({kid}): the key is {len(raw)} bytes; AES-256 needs 32 "
                    "(`c360 encryption new-key` makes one)"
                )
            ids.append(kid)
            keys[kid] = AESGCM(raw)
        if not ids:
            raise InvalidInput("C360_ENCRYPTION_KEYS names no key")
        return cls(ids[0], keys)

    @property
    def ids(self) -> list[str]:
        return list(self.keys)

    def seal(self, plaintext: bytes, column: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self.keys[self.active].encrypt(nonce, plaintext, column.encode())
        return f"{PREFIX}{self.active}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, column: str) -> bytes:
        kid, _, body = token[len(PREFIX) :].partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise SealedDataError(
                f"{column} holds a value sealed with encryption key {kid!r}, which "
                "C360_ENCRYPTION_KEYS does not hold; add it back (after the active key)"
            )
        raw = base64.urlsafe_b64decode(body)
        try:
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], column.encode())
        except InvalidTag:
            raise SealedDataError(
                f"a value of {column} does not authenticate under key {kid!r}: it was "
                "changed, or moved from another column"
            ) from None


def new_key(kid: str) -> str:
    """A fresh ``id:base64key`` entry for ``C360_ENCRYPTION_KEYS``."""
    if not _KEY_ID.match(kid):
        raise InvalidInput("a key id is letters, digits, '.', '_' or '-' (up to 32)")
    return f"{kid}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


_keyring: Keyring | None = None


def configure_sealing(keys: str | Keyring | None) -> Keyring | None:
    """Set this process's keyring (``None``: write in clear; sealed values then fail to
    read with a clear error). Returns it."""
    global _keyring
    _keyring = Keyring.parse(keys) if isinstance(keys, str) else keys
    return _keyring


def keyring() -> Keyring | None:
    return _keyring


def sealing_on() -> bool:
    return _keyring is not None


def key_id_of(value: Any) -> str | None:
    """The key id of a stored (raw) value, or ``None`` for a value in clear."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        if not value.startswith(_PREFIX_BYTES):
            return None
        value = value.decode("ascii")
    if isinstance(value, str) and value.startswith(PREFIX):
        return value[len(PREFIX) :].partition(":")[0]
    return None


def _opened(token: str, column: str) -> bytes:
    ring = _keyring
    if ring is None:
        kid = token[len(PREFIX) :].partition(":")[0]
        raise SealedDataError(
            f"{column} holds values encrypted at rest (key {kid!r}); set "
            "C360_ENCRYPTION_KEYS to the deployment's keys (docs/encryption.md)"
        )
    return ring.open(token, column)


class Sealed(TypeDecorator[Any]):
    """A column whose values are sealed with the process's keyring, read back in clear.

    ``kind`` is ``"json"`` (JSON on SQLite, JSONB on PostgreSQL), ``"text"`` or ``"bytes"``;
    ``column`` ("table.column") is the associated data of its tokens.
    """

    impl = Text
    cache_ok = True

    def __init__(self, kind: str, column: str) -> None:
        super().__init__()
        if kind not in ("json", "text", "bytes"):
            raise ValueError(f"unknown sealed kind {kind!r}")
        self.kind = kind
        self.column = column

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if self.kind == "json":
            return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())
        if self.kind == "bytes":
            return dialect.type_descriptor(LargeBinary())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return self.stored(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return self.loaded(value)

    def stored(self, value: Any) -> Any:
        """What the database gets for ``value`` (before the JSON column's own encoding)."""
        ring = _keyring
        if ring is None or value is None:
            return value
        if self.kind == "json":
            return ring.seal(orjson.dumps(value), self.column)
        if self.kind == "bytes":
            return ring.seal(bytes(value), self.column).encode("ascii")
        return ring.seal(value.encode("utf-8"), self.column)

    def loaded(self, value: Any) -> Any:
        """The value in clear from what the database holds (decoded JSON, text or bytes)."""
        if value is None:
            return None
        if self.kind == "json":
            if isinstance(value, str) and value.startswith(PREFIX):
                return orjson.loads(_opened(value, self.column))
            return value
        if self.kind == "bytes":
            raw = bytes(value)
            if raw.startswith(_PREFIX_BYTES):
                return _opened(raw.decode("ascii"), self.column)
            return value
        if isinstance(value, str) and value.startswith(PREFIX):
            return _opened(value, self.column).decode("utf-8")
        return value

    def loaded_text(self, value: Any) -> Any:
        """For a JSON column read past SQLAlchemy (``type_coerce(column, Text)``): its JSON
        text on SQLite, or what the driver decoded on PostgreSQL, with a token opened into the
        JSON text in clear."""
        if isinstance(value, str):
            if value.startswith('"' + PREFIX):
                return _opened(orjson.loads(value), self.column).decode("utf-8")
            if value.startswith(PREFIX):
                return _opened(value, self.column).decode("utf-8")
        return value


def driver_value(column_type: Any) -> Callable[[Any], Any] | None:
    """For the bulk paths that hand rows to the driver themselves
    (:mod:`c360.storage.dialect`): what a value of a column of ``column_type`` becomes, or
    ``None`` where nothing is to be done (JSON columns in clear are encoded there)."""
    if not isinstance(column_type, Sealed):
        return None
    stored = column_type.stored
    if column_type.kind == "json":
        return lambda value: orjson.dumps(stored(value)).decode()
    return stored


def sealed_columns(metadata: Any) -> Iterator[tuple[Any, Any]]:
    """(table, column) of every sealed column of ``metadata``."""
    for table in metadata.sorted_tables:
        for column in table.c:
            if isinstance(column.type, Sealed):
                yield table, column


FACT_KINDS = ("track", "page", "screen")
"""The log entries segment conditions on behaviour read (``did "..."``)."""


def event_facts(kind: str, payload: str) -> str:
    """What stays in clear beside a sealed log payload (``event_log.facts``): the event's name
    (``event``, or ``name`` for pages and screens) and ``properties``, as JSON text; ``{}``
    for other entries (identifies, aliases, logged records), so that no sealed row lacks it."""
    if kind not in FACT_KINDS:
        return "{}"
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits, which JSON allows
        body = json.loads(payload)
    if not isinstance(body, dict):
        return "{}"
    facts = {k: body[k] for k in ("event", "name", "properties") if k in body}
    try:
        return orjson.dumps(facts).decode()
    except TypeError:
        return json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


def prefilter(condition: Any) -> Any:
    """``condition``, a text search on a sealed column that narrows what the caller then checks
    itself, where values are stored in clear; with encryption on the database sees only
    tokens, so every row is read and the caller's own check decides."""
    return true() if _keyring is not None else condition
