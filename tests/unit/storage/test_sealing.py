"""The keyring and the sealed-value format of encryption at rest (docs/encryption.md)."""

import base64

import pytest
from pydantic import ValidationError

from c360.errors import InvalidInput
from c360.settings import Settings
from c360.storage.sealing import (
    PREFIX,
    Keyring,
    Sealed,
    SealedDataError,
    configure_sealing,
    key_id_of,
    new_key,
)

KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no key"),
        (KEY, "must be <id>:<base64 key>"),
        (f"bad id:{KEY}", "must be <id>:<base64 key>"),
        (f"k1:{base64.b64encode(b'short').decode()}", "the key is 5 bytes; AES-256 needs 32"),
        (f"k1:{KEY},k1:{KEY}", "'k1' is given twice"),
        ("k1:not base64 at all!", "k1"),
    ],
)
def test_a_bad_keyring_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Keyring.parse(text)


def test_the_settings_refuse_a_bad_key_without_showing_it() -> None:
    secret = base64.b64encode(b"s" * 31).decode()
    with pytest.raises(ValidationError) as caught:
        Settings(encryption_keys=f"k1:{secret}")
    assert "31 bytes" in str(caught.value)
    assert secret not in str(caught.value)
    assert Settings(encryption_keys="  ").keyring() is None


def test_the_first_key_seals_and_every_key_opens() -> None:
    other = base64.b64encode(bytes(range(100, 132))).decode()
    old = Keyring.parse(f"old:{KEY}")
    both = Keyring.parse(f"new:{other},old:{KEY}")
    token = old.seal("สมชาย ใจดี".encode(), "profiles.traits")
    assert token.startswith(f"{PREFIX}old:") and key_id_of(token) == "old"
    assert "สมชาย".encode() not in token.encode()
    assert both.open(token, "profiles.traits").decode() == "สมชาย ใจดี"
    resealed = both.seal(b"x", "profiles.traits")
    assert key_id_of(resealed) == "new" and key_id_of(resealed.encode()) == "new"
    with pytest.raises(SealedDataError, match="'new'"):
        old.open(resealed, "profiles.traits")
    # a fresh nonce each time: equal values do not give equal tokens
    assert old.seal(b"x", "c.c") != old.seal(b"x", "c.c")
    assert key_id_of("plain text") is None and key_id_of(b"{}") is None
    assert Keyring.parse(new_key("k9")).active == "k9"


def test_a_value_does_not_open_in_another_column_or_changed() -> None:
    ring = Keyring.parse(f"k1:{KEY}")
    token = ring.seal(b"somchai@example.co.th", "event_log.payload")
    with pytest.raises(SealedDataError, match="moved from another column"):
        ring.open(token, "rejects.payload")
    body = bytearray(base64.urlsafe_b64decode(token.rsplit(":", 1)[1]))
    body[-1] ^= 1
    changed = f"{PREFIX}k1:{base64.urlsafe_b64encode(bytes(body)).decode()}"
    with pytest.raises(SealedDataError, match="does not authenticate"):
        ring.open(changed, "event_log.payload")


def test_a_missing_key_or_keyring_is_named() -> None:
    token = Keyring.parse(f"gone:{KEY}").seal(b"{}", "profiles.golden")
    with pytest.raises(SealedDataError, match="key 'gone', which C360_ENCRYPTION_KEYS"):
        Keyring.parse(f"k1:{KEY}").open(token, "profiles.golden")
    column = Sealed("json", "profiles.golden")
    configure_sealing(None)
    with pytest.raises(SealedDataError, match="set C360_ENCRYPTION_KEYS"):
        column.loaded(token)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("json", {"email": "bich.tran@example.vn", "name": "Trần Thị Bích", "n": [1, None]}),
        ("text", '{"userId":"u-1","traits":{"phone":"+84912345678"}}'),
        ("bytes", "0912 345 678,Trần Thị Bích\n".encode()),
    ],
)
def test_each_kind_of_column_round_trips_and_reads_values_stored_in_clear(
    kind: str, value: object
) -> None:
    column = Sealed(kind, "t.c")
    configure_sealing(f"k1:{KEY}")
    stored = column.stored(value)
    assert key_id_of(stored) == "k1"
    assert column.loaded(stored) == value
    configure_sealing(None)
    assert column.stored(value) is value  # no keys: written in clear
    assert column.loaded(value) == value
