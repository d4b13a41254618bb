"""``c360 demo`` gives the web app a first user with a password printed once; a store that
has users already gets none (and a plain install never has one: S11 in test_authorization)."""

from __future__ import annotations

from sqlalchemy import Engine

from c360.cli.demo import _demo_user
from c360.privacy import audit
from c360.privacy.users import SessionPolicy, count_users, create_user, sign_in

POLICY = SessionPolicy(
    idle_s=600, absolute_s=3600, max_failures=5, max_client_failures=20, window_s=300
)


def test_the_demo_makes_one_admin_user_whose_printed_password_signs_in(engine: Engine) -> None:
    with engine.begin() as conn:
        password = _demo_user(conn)
    assert password is not None and len(password) >= 12
    with engine.begin() as conn:
        opened = sign_in(conn, "demo", password, client="127.0.0.1", policy=POLICY)
        assert opened.session.user.role.value == "admin"
        assert _demo_user(conn) is None  # the next run keeps the first password
        assert count_users(conn) == 1


def test_no_demo_user_where_an_operator_made_users(engine: Engine) -> None:
    with engine.begin() as conn:
        create_user(conn, "ops", "a long passphrase 42", "admin", actor=audit.Actor("cli:test"))
        assert _demo_user(conn) is None
        assert count_users(conn) == 1
