"""``c360 users``: people who sign in to the web app (there is none until one is created).

The first admin: ``c360 users create alice --role admin`` (asks for the password twice, or
reads one line from standard input when it is not a terminal).
"""

import sys
from typing import Annotated

import typer
from rich.table import Table

from c360.cli.common import out, reported_errors
from c360.cli.keys import store
from c360.errors import InvalidInput
from c360.kernel.clock import isoformat_us
from c360.privacy import audit, users
from c360.privacy.roles import USER_ROLES

users_app = typer.Typer(
    help="Users of the web app: create, list, disable, enable, passwd.", no_args_is_help=True
)

ROLES = ", ".join(r.value for r in USER_ROLES)


def read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise InvalidInput("no password: type it when asked, or give it on standard input")
    return password


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="The name to sign in with (lower case).")],
    role: Annotated[str, typer.Option(help=f"One of: {ROLES}.")],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="How the web app shows the person.")
    ] = None,
) -> None:
    """Create a user; the password is asked for (or read from standard input)."""
    with store() as engine:
        with reported_errors():
            password = read_password()
            with engine.begin() as conn:
                user = users.create_user(
                    conn,
                    username,
                    password,
                    role,
                    actor=audit.cli_actor(),
                    display_name=display_name,
                )
        out.print(f"user {user.username} ({user.role.value}) created")


@users_app.command("list")
def users_list() -> None:
    """Every user with role, last sign-in and whether disabled (never a password hash)."""
    with store() as engine:
        with engine.connect() as conn:
            found = users.list_users(conn)
        table = Table("username", "name", "role", "created", "last sign-in", "state")
        for u in found:
            table.add_row(
                u.username,
                u.display_name or "",
                u.role.value,
                isoformat_us(u.created_at_us),
                isoformat_us(u.last_login_at_us) if u.last_login_at_us else "",
                f"disabled {isoformat_us(u.disabled_at_us)}" if u.disabled_at_us else "active",
            )
        out.print(table)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="The user (c360 users list).")],
) -> None:
    """Stop a user signing in; their open sessions end at once."""
    with store() as engine:
        with reported_errors(), engine.begin() as conn:
            user = users.set_disabled(conn, username, True, actor=audit.cli_actor())
        out.print(f"user {user.username} disabled")


@users_app.command("enable")
def users_enable(
    username: Annotated[str, typer.Argument(help="The user (c360 users list).")],
) -> None:
    """Let a disabled user sign in again."""
    with store() as engine:
        with reported_errors(), engine.begin() as conn:
            user = users.set_disabled(conn, username, False, actor=audit.cli_actor())
        out.print(f"user {user.username} enabled")


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="The user (c360 users list).")],
) -> None:
    """Set a new password (asked for, or read from standard input); open sessions end."""
    with store() as engine:
        with reported_errors():
            password = read_password()
            with engine.begin() as conn:
                user = users.set_password(conn, username, password, actor=audit.cli_actor())
        out.print(f"password of {user.username} changed; their sessions were ended")
