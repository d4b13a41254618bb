"""Encryption at rest on both stores (docs/encryption.md): a store written in clear is sealed by
``c360 encryption rotate``, rotated to a new key, read with the old key removed, refused
clearly without keys, and turned back to clear; the sealed columns, as stored, hold none of the
person's data while every reader sees it; a row the application changes during a rotation
keeps what the application wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, LargeBinary, Text, cast, select, type_coerce
from tests import factories
from tests.cli import c360
from tests.conftest import free_port
from tests.customer360 import SOMCHAI, somchai_everywhere, track

from c360.kernel.clock import system_clock
from c360.profiles.service import find_by_identifier, get_profile
from c360.segments.evaluate import Moment
from c360.segments.language import parse
from c360.segments.sql import member_ids
from c360.storage import rekey
from c360.storage.sealing import (
    SealedDataError,
    configure_sealing,
    key_id_of,
    new_key,
    sealed_columns,
)
from c360.storage.tables import Json, event_log, metadata, profiles

K1 = new_key("k1")
K2 = new_key("k2")
SEEN = ("somchai@example.co.th", "+66812345678", "สมชาย", "ใจดี", "สุขุมวิท")
"""Somchai's email, phone, names and street: in every sealed column in clear."""


@pytest.fixture(autouse=True)
def no_keys_to_begin_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from a store written in clear, whatever keys the suite runs with."""
    monkeypatch.delenv("C360_ENCRYPTION_KEYS", raising=False)
    configure_sealing(None)


def as_stored(engine: Engine) -> dict[str, list[Any]]:
    """Every sealed column's values exactly as the database holds them (but JSON nulls,
    which hold nothing to seal and stay as they are)."""
    found: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for table, column in sealed_columns(metadata):
            kind = column.type.kind
            raw = (
                type_coerce(column, LargeBinary)
                if kind == "bytes"
                else cast(type_coerce(column, Json), Text)
                if kind == "json"
                else type_coerce(column, Text)
            )
            values = conn.execute(select(raw).where(column.is_not(None))).scalars().all()
            name = f"{table.name}.{column.name}"
            found[name] = [bytes(v) if kind == "bytes" else v for v in values if v != "null"]
    return found


def showing_somchai(engine: Engine) -> set[str]:
    """The sealed columns whose stored values show any of Somchai's data."""
    shown = set()
    for column, values in as_stored(engine).items():
        for value in values:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            decoded = json.loads(f'"{text[1:-1]}"') if text.startswith('"') else text
            if any(s in text or s in decoded for s in SEEN):
                shown.add(column)
    return shown


def keys_used(engine: Engine) -> set[str | None]:
    """The key ids of every stored value (``None`` for a value in clear)."""
    used: set[str | None] = set()
    for column, values in as_stored(engine).items():
        for value in values:
            used.add(key_id_of(value[1:-1] if column_is_json(column) else value))
    return used


def column_is_json(name: str) -> bool:
    table, column = name.split(".")
    return bool(metadata.tables[table].c[column].type.kind == "json")


def status(database_url: str, keys: str) -> dict[str, Any]:
    result = c360(database_url, "encryption", "status", "--json", C360_ENCRYPTION_KEYS=keys)
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


def test_a_store_is_sealed_rotated_and_opened_again(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    # written in clear (no keys), as every store was before encryption was turned on
    somchai_everywhere(engine, tmp_path)
    track(engine, factories.track("u-shoes", event="Product Added", properties={"cat": "shoes"}))
    track(engine, factories.track("u-bags", event="Product Added", properties={"cat": "bags"}))
    shoes = parse('did "Product Added" where cat = "shoes"')
    with engine.connect() as conn:
        buyers = member_ids(conn, shoes, Moment(system_clock()))
    assert len(buyers) == 1
    with engine.connect() as conn:
        pid = find_by_identifier(conn, "email", SOMCHAI["email"]).id
        before = get_profile(conn, pid)
    assert before is not None
    filled = showing_somchai(engine)
    assert {"source_records.raw", "profiles.golden", "identity_nodes.features"} <= filled
    assert keys_used(engine) == {None}
    quality = c360(database_url, "quality", "--json")
    assert quality.returncode == 0, quality.stderr

    # sealed: every value, under the active key; nothing of Somchai readable as stored
    first = status(database_url, K1)
    assert first["active_key"] == "k1"
    assert all(c["clear"] == c["rows"] for c in first["columns"])
    sealed = c360(database_url, "encryption", "rotate", "--json", C360_ENCRYPTION_KEYS=K1)
    assert sealed.returncode == 0, sealed.stderr
    report = orjson.loads(sealed.stdout)
    assert report["target"] == "k1" and report["raced"] == {}
    assert set(report["rewritten"]) >= filled
    assert keys_used(engine) == {"k1"}
    assert showing_somchai(engine) == set()
    # segments on behaviour read the facts kept beside each sealed payload, in SQL
    with engine.connect() as conn:
        facts = dict(conn.execute(select(event_log.c.type, event_log.c.facts)).all())
        assert member_ids(conn, shoes, Moment(system_clock())) == buyers
    assert orjson.loads(facts["track"])["event"] == "Product Added"
    assert facts["record"] == "{}"
    after = status(database_url, K1)
    assert all(c["clear"] == 0 and set(c["keys"]) <= {"k1"} for c in after["columns"])

    # this process reads it with the keys, as before sealing; reports read the same
    configure_sealing(K1)
    with engine.connect() as conn:
        assert get_profile(conn, pid) == before
    same = c360(database_url, "quality", "--json", C360_ENCRYPTION_KEYS=K1)
    assert same.returncode == 0, same.stderr
    assert orjson.loads(same.stdout) == orjson.loads(quality.stdout)
    # a new event is sealed as it is written, with the active key
    track(
        engine,
        {
            "type": "identify",
            "messageId": "m-sealed-1",
            "userId": "u-7",
            "traits": {"email": SOMCHAI["email"], "city": "Bangkok"},
        },
    )
    assert keys_used(engine) == {"k1"}

    # rotation to k2, keeping k1 to open what is not re-sealed yet
    both = f"{K2},{K1}"
    rotated = c360(database_url, "encryption", "rotate", C360_ENCRYPTION_KEYS=both)
    assert rotated.returncode == 0, rotated.stderr
    assert "values rewritten (k2)" in rotated.stdout
    assert keys_used(engine) == {"k2"}
    shown = c360(database_url, "encryption", "status", C360_ENCRYPTION_KEYS=both)
    assert "no longer used, can be removed: k1" in shown.stdout
    configure_sealing(K2)  # k1 removed
    with engine.connect() as conn:
        assert get_profile(conn, pid) == get_profile(conn, pid) is not None
        assert find_by_identifier(conn, "email", SOMCHAI["email"]).id == pid

    # without the keys, a read fails and says why rather than returning tokens
    configure_sealing(None)
    with engine.connect() as conn, pytest.raises(SealedDataError, match="C360_ENCRYPTION_KEYS"):
        get_profile(conn, pid)
    refused = c360(database_url, "encryption", "rotate")
    assert refused.returncode == 2 and "no key to rotate to" in refused.stderr
    assert rekey.missing_keys(engine)  # every sealed column's newest value is under k2
    # and a server or worker refuses to start rather than fail every read
    for command in (["serve", "--port", str(free_port())], ["worker"]):
        started = subprocess.run(
            [sys.executable, "-m", "c360", *command],
            env={**os.environ, "C360_DATABASE_URL": database_url, "C360_ENCRYPTION_KEYS": ""},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 2, started.stderr
        assert "sealed with key 'k2'" in started.stderr
    configure_sealing(f"{K1},{K2}")
    assert rekey.missing_keys(engine) == []
    configure_sealing(None)

    # and back to clear, before turning encryption off
    cleared = c360(database_url, "encryption", "rotate", "--to-clear", C360_ENCRYPTION_KEYS=K2)
    assert cleared.returncode == 0, cleared.stderr
    assert keys_used(engine) == {None}
    with engine.connect() as conn:
        assert get_profile(conn, pid) is not None
    audit = c360(database_url, "audit", "list", "--action", "encryption.rotate", "--json")
    assert audit.returncode == 0, audit.stderr
    assert [e["detail"]["target"] for e in orjson.loads(audit.stdout)] == ["clear", "k2", "k1"]


def test_a_row_changed_during_rotation_keeps_what_the_application_wrote(
    engine: Engine, tmp_path: Path
) -> None:
    somchai_everywhere(engine, tmp_path)
    with engine.connect() as conn:
        pid = find_by_identifier(conn, "email", SOMCHAI["email"]).id
        stale = conn.execute(
            select(profiles.c.id, cast(type_coerce(profiles.c.traits, Json), Text)).where(
                profiles.c.id == pid
            )
        ).one()
    # the application writes the row (already with the active key) after rotation read it
    configure_sealing(K1)
    with engine.begin() as conn:
        conn.execute(
            profiles.update().where(profiles.c.id == pid).values(traits={"city": "Chiang Mai"})
        )
    rotation = rekey.Rotation("k1")
    with engine.begin() as conn:
        rekey._rewrite(
            conn, profiles, [profiles.c.id], [profiles.c.traits], [stale], "k1", rotation
        )
    assert rotation.raced == {"profiles.traits": 1} and rotation.rewritten == {}
    with engine.connect() as conn:
        traits = conn.execute(select(profiles.c.traits).where(profiles.c.id == pid)).scalar_one()
    assert traits == {"city": "Chiang Mai"}
