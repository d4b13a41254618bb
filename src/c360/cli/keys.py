"""``c360 keys``: create, list, rotate and revoke API keys (each change audited)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.errors import InvalidInput
from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy import audit
from c360.privacy.keys import Role, create_key, list_keys, revoke_key, rotate_key

keys_app = typer.Typer(help="API keys: create, list, rotate, revoke.", no_args_is_help=True)

_GRACE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


@contextmanager
def store() -> Iterator[Engine]:
    """The configured store for one command, its connections closed after (the command may
    run inside a longer-lived process: tests, scripts)."""
    engine = store_for(load_settings())
    try:
        yield engine
    finally:
        engine.dispose()


def grace_s(text: str) -> float:
    """Seconds in ``0``, ``90s``, ``30m``, ``1h``, ``2d``, ``1w``."""
    match = _GRACE.match(text)
    if match is None:
        raise InvalidInput(f"--grace {text!r}: write e.g. 0, 90s, 30m, 1h or 2d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[
        Role,
        typer.Option(
            help="admin, marketer, sales, service, finance, analyst, read, or writer (a "
            "source's key for /v1; needs --source). docs/access-control.md says what each may do."
        ),
    ],
    source: Annotated[str | None, typer.Option(help="The source a writer key writes to.")] = None,
) -> None:
    """Create a key; the secret is printed once, as the last line."""
    with store() as engine:
        with reported_errors(), engine.begin() as conn:
            key, secret = create_key(conn, name=name, role=role, source=source)
            audit.record(
                conn,
                audit.cli_actor(),
                "key.create",
                object_type="api_key",
                object_id=str(key.id),
                detail={"name": key.name, "role": key.role.value, "source": key.source_name},
            )
        where = f" for source {key.source_name}" if key.source_name else ""
        err.print(
            f"created {key.role.value} key {key.id} ({key.name}){where}; it is shown only now:"
        )
        print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never their secrets): a rotated key shows when its grace period ends."""
    with store() as engine:
        with engine.connect() as conn:
            keys = list_keys(conn)
        now = system_clock()
        table = Table("id", "name", "role", "source", "prefix", "created", "state")
        for k in keys:
            if k.revoked_at_us:
                state = f"revoked {isoformat_us(k.revoked_at_us)}"
            elif k.expires_at_us and k.expires_at_us <= now:
                state = f"expired {isoformat_us(k.expires_at_us)}"
            elif k.expires_at_us:
                state = f"rotated, works until {isoformat_us(k.expires_at_us)}"
            else:
                state = "active"
            table.add_row(
                str(k.id),
                k.name,
                k.role.value,
                k.source_name or "",
                k.prefix + "…",
                isoformat_us(k.created_at_us),
                state,
            )
        out.print(table)


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[int, typer.Argument(help="The key's id (c360 keys list).")],
    grace: Annotated[
        str,
        typer.Option(help="How long the old secret keeps working: 0, 90s, 30m, 1h, 2d."),
    ] = "1h",
) -> None:
    """A new secret for a key (same name, role and source; printed once, as the last line);
    the old secret keeps working for the grace period, then is refused."""
    with store() as engine:
        with reported_errors():
            seconds = grace_s(grace)
            with engine.begin() as conn:
                old, new, secret = rotate_key(conn, key_id, grace_s=seconds)
                audit.record(
                    conn,
                    audit.cli_actor(),
                    "key.rotate",
                    object_type="api_key",
                    object_id=str(old.id),
                    detail={"new_key": new.id, "grace_s": seconds},
                )
        until = isoformat_us(old.expires_at_us) if old.expires_at_us else "now"
        err.print(
            f"key {old.id} ({old.name}) rotated: the new key is {new.id}; the old secret works "
            f"until {until}. The new secret is shown only now:"
        )
        print(secret)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (c360 keys list).")],
) -> None:
    """Revoke a key; running servers refuse it within their key cache TTL (≤ 5 s)."""
    with store() as engine:
        with reported_errors(), engine.begin() as conn:
            key = revoke_key(conn, key_id)
            audit.record(
                conn, audit.cli_actor(), "key.revoke", object_type="api_key", object_id=str(key.id)
            )
        out.print(f"key {key.id} ({key.name}) revoked")
