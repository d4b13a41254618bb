"""A1 on PostgreSQL: the same fuzz as test_openapi_fuzz.py (which runs it on SQLite), in its own
file so that the suite's two longest halves run on different workers."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests.conftest import LiveServer, fresh_database
from tests.integration.test_openapi_fuzz import (
    FULL_CASES,
    QUICK_CASES,
    check_every_operation,
    http_session,
)

__all__ = ["http_session"]

pytestmark = pytest.mark.slow


@pytest.fixture(params=["postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, migrated=True) as url:
        yield url


def test_every_operation_conforms_to_its_schema_and_never_fails_with_5xx(
    live_server: LiveServer, http_session: requests.Session
) -> None:
    check_every_operation(live_server, http_session, QUICK_CASES)


@pytest.mark.heavy
def test_every_operation_conforms_at_the_full_a1_budget(
    live_server: LiveServer, http_session: requests.Session
) -> None:
    check_every_operation(live_server, http_session, FULL_CASES)
