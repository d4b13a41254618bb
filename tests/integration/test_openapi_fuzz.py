"""A1: Schemathesis against the served ``/openapi.json``, on SQLite and PostgreSQL.

Every operation gets generated requests, valid ones and invalid ones, authenticated with the
key type it expects: an admin key (Bearer) under ``/api``, a write key (Basic) under ``/v1``.
Schemathesis's default checks run on every answer: no 5xx, documented status code, content type
and response schema, invalid input refused with a 4xx, missing credentials refused.

Schemathesis's own pytest integration (``from_fixture``) does not run on pytest 9, so the cases
come from each operation's Hypothesis strategy; all failures are collected and reported at once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from tests.conftest import LiveServer, fresh_database

# Per operation: A1's fast profile asks for 50 cases; invalid data adds 25 more. That run (a
# minute or more per store) is behind ``-m heavy``. The default suite sends every operation a
# smaller budget of both kinds, with the same checks, and still requires at least 5 of each:
# generating and checking the cases is two thirds of the CPU this costs, and the two stores'
# runs were an eighth of the whole suite (docs/testing.md).
FULL_CASES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 25}
QUICK_CASES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}

pytestmark = pytest.mark.slow

EXCLUDED_CHECKS = {
    # Sign-in answers 429 once an address has failed 20 times in 15 minutes (documented):
    # generated usernames never exist, so later valid requests are throttled by design.
    "/auth/login": [checks.positive_data_acceptance],
}


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def credentials(server: LiveServer, path: str) -> dict[str, str]:
    """The key an operation expects: write key (Basic) for /v1, admin key (Bearer) for /api."""
    if path.startswith("/v1/"):
        token = base64.b64encode(f"{server.write_key}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if path.startswith("/api/"):
        return {"Authorization": f"Bearer {server.admin_key}"}
    return {}


def fuzz(
    operation: Any,
    mode: GenerationMode,
    server: LiveServer,
    session: requests.Session,
    counts: dict[str, int],
    cases: dict[GenerationMode, int],
) -> None:
    """Send generated requests to one operation and check every answer."""
    label = f"{operation.label} [{mode.value}]"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=cases[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if isinstance(case.query, dict) and "" in case.query:
            return  # a query parameter without a name cannot be sent: requests drops it
        counts[label] = counts.get(label, 0) + 1
        case.call_and_validate(
            base_url=server.url,
            session=session,
            headers=credentials(server, case.path),
            timeout=10,
            excluded_checks=EXCLUDED_CHECKS.get(case.path, []),
        )

    run()


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite here; test_openapi_fuzz_postgresql.py runs the same on PostgreSQL (two files,
    so that the two halves of the suite's longest test run side by side)."""
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


def check_every_operation(
    live_server: LiveServer,
    http_session: requests.Session,
    cases: dict[GenerationMode, int],
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    failures: list[str] = []
    counts: dict[str, int] = {}
    # The change stream never ends by design (its own test reads it): a fuzz case would only
    # time out.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path != "/api/changes/stream"
    ]
    assert len(operations) >= 16, [op.label for op in operations]

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"
            try:
                fuzz(operation, mode, live_server, http_session, counts, cases)
            except Unsatisfiable:
                # /healthz and /readyz take no input at all, so nothing about them can be invalid.
                if mode is GenerationMode.POSITIVE or operation.path.startswith(("/api", "/v1")):
                    failures.append(f"{label}: no case could be generated")
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
                failures.append(f"{label}: {exc}"[:3000])

    assert failures == [], "\n\n".join(failures)
    too_few = {
        label: n for label, n in counts.items() if n < 5 and ("/api/" in label or "/v1/" in label)
    }
    assert not too_few, f"operations that got almost no generated cases: {too_few}"
