"""``POST /api/journeys/preview``: the journey builder's template, saved or not, rendered for
one profile in the same sandbox as a send step; refused templates answer 422, nothing sent."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.integration.test_journeys import person

from c360.api.app import build_app
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage.tables import messages

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient


@pytest.fixture
def client(engine: Engine, database_url: str) -> Iterator[tuple[Any, dict[str, str]]]:
    keys = {}
    with engine.begin() as conn:
        for role in (Role.ADMIN, Role.MARKETER, Role.ANALYST):
            _, keys[role.value] = create_key(conn, name=role.value, role=role, source=None)
    app = build_app(Settings(database_url=database_url), engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http, {r: {"Authorization": f"Bearer {k}"} for r, k in keys.items()}


def test_an_unsaved_template_is_rendered_for_the_person(
    client: tuple[Any, dict[str, Any]], engine: Engine, tmp_path: Path
) -> None:
    http, auth = client
    someone = person(engine, tmp_path, 1)
    body = {
        "profile_id": someone.profile_id,
        "template": {
            "subject": "{{ event.name }} is waiting",
            "body": "Hello {{ profile.first_name }}, your {{ event.name }} is still in the cart",
        },
        "event": {"name": "running shoes"},
    }
    answer = http.post("/api/journeys/preview", json=body, headers=auth["marketer"])
    assert answer.status_code == 200, answer.text
    rendered = answer.json()
    assert rendered["subject"] == "running shoes is waiting"
    assert rendered["body"].startswith("Hello ") and "{{" not in rendered["body"]
    assert rendered["body"].endswith("your running shoes is still in the cart")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 0

    escape = {**body, "template": {"body": "{{ profile.__class__.__mro__ }}"}}
    refused = http.post("/api/journeys/preview", json=escape, headers=auth["marketer"])
    assert refused.status_code == 422, refused.text
    assert "__class__" in refused.json()["message"]  # the sandbox names what it refused
    nobody = {**body, "profile_id": "00000000-0000-0000-0000-000000000000"}
    assert http.post("/api/journeys/preview", json=nobody, headers=auth["admin"]).status_code == 404
    assert http.post("/api/journeys/preview", json=body, headers=auth["analyst"]).status_code == 403
