"""``/api/profiles/{id}/messages``: what journeys sent a profile and what became of it, for the
web app's profile page; masked for roles that may not see contact data."""

import warnings
from typing import Any

from sqlalchemy import Engine, select, update
from tests.conftest import make_keys
from tests.customer360 import track
from tests.factories import identify

from c360.activation.outbox import QueuedMessage, queue
from c360.kernel.clock import system_clock
from c360.privacy.keys import Role, create_key
from c360.storage.tables import messages, profiles


def _client(database_url: str, engine: Engine) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

    from c360.api.app import build_app
    from c360.settings import Settings

    app = build_app(Settings(database_url=database_url), engine, run_worker=False)
    return TestClient(app, raise_server_exceptions=False)


def _message(profile_id: str, n: int, channel: str, address: str) -> QueuedMessage:
    return QueuedMessage(
        key=f"test-{profile_id}-{n}",
        journey_id=None,
        entry_id=None,
        step="welcome",
        profile_id=profile_id,
        channel=channel,
        address=address,
        purpose="marketing",
        consent=None,
        subject=f"Hello {n}",
        body="สวัสดีค่ะ",
        html=None,
    )


def test_a_profiles_messages_newest_first_with_engagement_and_paging(
    database_url: str, engine: Engine
) -> None:
    track(engine, identify("u-msg", traits={"email": "ploy@example.co.th", "first_name": "Ploy"}))
    with engine.begin() as conn:
        [profile_id] = conn.execute(select(profiles.c.id)).scalars()
        now = system_clock()
        first = queue(conn, _message(profile_id, 1, "email", "ploy@example.co.th"), now)
        second = queue(conn, _message(profile_id, 2, "sms", "+66812345678"), now + 1)
        conn.execute(
            update(messages)
            .where(messages.c.id == first)
            .values(status="delivered", sent_at_us=now, opened_at_us=now + 5, clicked_at_us=now + 9)
        )
        _, marketer = create_key(conn, name="marketer", role=Role.MARKETER, source=None)
    _, admin = make_keys(database_url)
    with _client(database_url, engine) as client:
        auth = {"Authorization": f"Bearer {admin}"}
        page = client.get(f"/api/profiles/{profile_id}/messages?limit=1", headers=auth).json()
        assert [m["id"] for m in page["messages"]] == [second]
        assert page["messages"][0]["address"] == "+66812345678"
        assert page["next"] == str(second)
        older = client.get(
            f"/api/profiles/{profile_id}/messages?limit=1&cursor={page['next']}", headers=auth
        ).json()
        [shown] = older["messages"]
        assert shown["id"] == first and shown["status"] == "delivered"
        assert shown["opened_at"] and shown["clicked_at"] and older["next"] is None
        masked = client.get(
            f"/api/profiles/{profile_id}/messages",
            headers={"Authorization": f"Bearer {marketer}"},
        ).json()
        assert [m["address"] for m in masked["messages"]] == [
            "+66 8* *** **78",
            "p***@example.co.th",
        ]
        missing = client.get("/api/profiles/nobody/messages", headers=auth)
        assert missing.status_code == 404
        assert client.get(f"/api/profiles/{profile_id}/messages").status_code == 401
