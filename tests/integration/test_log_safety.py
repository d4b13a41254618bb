"""S10: no personal data or secrets in logs; CR/LF cannot forge a log line.

Every test of the suite also runs under the ``no_personal_data_in_logs`` fixture of
tests/conftest.py; this file drives the paths most likely to leak on purpose."""

import io
import logging
import sys
import warnings
from pathlib import Path

from c360.api import build_app
from c360.privacy.keys import Role, create_key
from c360.privacy.logsafe import (
    AccessLogRedactor,
    SafeFormatter,
    escape_line_breaks,
    logging_config,
    redact_path,
)
from c360.settings import Settings
from c360.storage import open_store
from c360.workers import process_available

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

EMAIL = "nguyen.thi.lan@example.vn"
PHONE = "+84912345678"
NAME = "Nguyễn Thị Lan"


def formatted(record: logging.LogRecord) -> str:
    return SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("c360.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_line_breaks_in_values_cannot_forge_a_record() -> None:
    forged = "bad\r\n2026-12-07 03:00:00 INFO c360.api: admin signed in\u2028again"
    line = formatted(record("webhook %s failed", forged))
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert "bad\\r\\n2026" in line
    assert escape_line_breaks("a\\nb") == "a\\\\nb", "an escaped-looking input stays distinct"


def test_email_addresses_that_slip_into_a_message_or_a_traceback_are_masked() -> None:
    try:
        raise ValueError(f"no profile for {EMAIL}\nsecond line")
    except ValueError as exc:
        line = formatted(record("lookup of %s failed", EMAIL, exc=exc))
    assert EMAIL not in line
    assert "<email>" in line
    trace_lines = line.splitlines()[1:]
    assert trace_lines and all(t.startswith("  | ") for t in trace_lines), trace_lines


def test_access_log_paths_lose_identifier_values_and_query_values() -> None:
    assert (
        redact_path(f"/api/profiles/by-identifier/email/{EMAIL}")
        == "/api/profiles/by-identifier/email/***"
    )
    redacted = redact_path(f"/api/profiles?query={NAME}&limit=20")
    assert NAME not in redacted and "limit=20" in redacted and "query=***" in redacted
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "GET", f"/api/profiles/by-identifier/phone/{PHONE}", "1.1", 200),
        None,
    )
    AccessLogRedactor().filter(access)
    assert PHONE not in access.getMessage() and "/by-identifier/phone/***" in access.getMessage()


def test_the_server_logging_configuration_applies_the_guards(tmp_path: Path) -> None:
    config = logging_config()
    assert config["handlers"]["access"]["filters"] == ["access"]
    assert config["formatters"]["safe"]["()"] is SafeFormatter


def test_ingest_lookup_search_and_failures_log_no_personal_data(tmp_path: Path) -> None:
    """Drive the server through identify, lookups by identifier, search, malformed and
    refused requests and the processor, with every logger at INFO, and find none of the
    person's values (nor the keys) in what was written."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(logging.INFO)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    # the test's own HTTP client logs the URLs it calls: that is the caller's log, not c360's
    handler.addFilter(lambda r: not r.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    url = f"sqlite:///{tmp_path / 'c360.db'}"
    engine = open_store(url)
    with engine.begin() as conn:
        _, write_key = create_key(conn, name="web", role=Role.WRITER, source="web")
        _, admin = create_key(conn, name="admin", role=Role.ADMIN, source=None)
    try:
        with TestClient(build_app(Settings(database_url=url), engine)) as client:
            traits = {"email": EMAIL, "phone": PHONE, "name": NAME}
            body = {"userId": "u-lan", "traits": traits, "messageId": "m-1"}
            assert client.post("/v1/identify", json=body, auth=(write_key, "")).status_code == 200
            bad = f'{{"userId": "u-lan", "traits": {{"email": "{EMAIL}"'.encode()
            client.post("/v1/identify", content=bad, auth=(write_key, ""))
            client.post("/v1/identify", json=body, auth=("wk_wrong", ""))
            process_available(engine, 100)
            headers = {"Authorization": f"Bearer {admin}"}
            found = client.get(f"/api/profiles/by-identifier/email/{EMAIL}", headers=headers)
            assert found.status_code == 200, found.text
            client.get(f"/api/profiles?query={NAME}", headers=headers)
            client.get(f"/api/profiles/by-identifier/email/x{EMAIL}", headers=headers)
            client.get(f"/api/profiles/by-identifier/phone/{PHONE}", headers={})
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
        engine.dispose()
    written = out.getvalue()
    for value in (EMAIL, PHONE, NAME, write_key, admin):
        assert value not in written, f"{value!r} was logged:\n{written[:2000]}"
    print(f"{len(written.splitlines())} log lines checked", file=sys.stderr)
