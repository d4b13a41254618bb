"""The consent ledger on both stores: a withdrawal while messages wait (P1), the proof's round
trip through export and import (P2), consent checked at every exit (messages, exports, sync,
change-feed webhooks), and the tracking API's consent statements over real HTTP."""

import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, func, select
from tests import factories
from tests.customer360 import load, process, track
from tests.fakes.providers import FakeLine, FakeSmtp, FakeWebhookReceiver
from tests.integration.test_journeys import CONFIG, MINUTE, T0, dispatcher, journey, person
from tests.integration.test_sync import (  # noqa: F401 - the helpdesk fixture
    HELPDESK_MAPPING,
    VN_CRM_MAPPING,
    HelpdeskApi,
    add,
    helpdesk,
    import_csv,
    settle,
)
from tests.stores import SharedStore, engine_on, new_store, shared_postgres
from typer.testing import CliRunner

from c360.activation.engine import run_cycle
from c360.activation.outbox import QueuedMessage, queue
from c360.activation.sync.service import enqueue_profiles, get_destination
from c360.api.app import build_app
from c360.changes.delivery import Deliverer
from c360.changes.subscriptions import add_subscription
from c360.cli.main import app
from c360.errors import InvalidInput
from c360.kernel.clock import system_clock
from c360.privacy.keys import Role, create_key
from c360.privacy.purposes import configure_purposes
from c360.privacy.restrict import restrict
from c360.profiles.service import find_by_identifier
from c360.segments.language import parse
from c360.segments.service import create_segment
from c360.settings import Settings
from c360.storage.tables import audit_log, consent_ledger, journeys, messages, profiles
from c360.workers.sync import SyncWorker, sync_secrets

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

NOTICE = "ฉันยินยอมรับข่าวสารทางอีเมล / I agree to receive offers by email (v3)"


class Api:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys['admin']}"}
        response = self.client.request(method, path, json=body, headers=headers, **kw)
        assert response.status_code == status, response.text
        return response

    def refused(self, method: str, path: str, body: Any = None) -> str:
        """The message of a 422 answer (the API's error shape)."""
        answer = self.ok(method, path, body, status=422).json()
        assert answer["code"] == "invalid_input", answer
        return str(answer["message"])


@pytest.fixture(autouse=True)
def default_purposes_after() -> Iterator[None]:
    """A server or command configured with other purposes leaves the defaults behind it."""
    yield
    configure_purposes(None)


def new_keys(engine: Engine) -> dict[str, str]:
    keys = {}
    with engine.begin() as conn:
        _, keys["admin"] = create_key(conn, name="admin", role=Role.ADMIN, source=None)
        _, keys["writer"] = create_key(conn, name="site", role=Role.WRITER, source="site")
    return keys


@contextmanager
def serve(engine: Engine, database_url: str, keys: dict[str, str], **options: Any) -> Iterator[Api]:
    """The server on ``engine`` with these settings (``consent_purposes=...``)."""
    settings = Settings(database_url=database_url, timezone="Asia/Bangkok", **options)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, keys)


@dataclass
class Shared:
    store: SharedStore
    client: TestClient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared | None]:
    """On PostgreSQL, one database and one server (default settings) for the module: a new
    database costs up to a second and building the server half of one. The store is put back
    to new before each test (``database_url``), so each still starts from a new store; a
    test wanting other settings starts a server of its own on it (``serve``)."""
    with shared_postgres(request, tmp_path_factory) as store:
        if store is None:
            yield None
            return
        with serve(store.engine, store.url, {}) as server:
            yield Shared(store, server.client)


@pytest.fixture
def database_url(shared: Shared | None, tmp_path: Path) -> Iterator[str]:
    """A new store: a copy of a migrated SQLite file, or the shared PostgreSQL one renewed
    (every table but the append-only audit log emptied)."""
    with new_store(shared.store if shared else None, tmp_path) as url:
        yield url


@pytest.fixture
def engine(shared: Shared | None, database_url: str) -> Iterator[Engine]:
    with engine_on(shared.store if shared else None, database_url) as engine:
        yield engine


@pytest.fixture
def api(shared: Shared | None, engine: Engine, database_url: str) -> Iterator[Api]:
    """The server with default settings, and keys of this test's own."""
    if shared is not None:
        configure_purposes(None)  # as the shared server was built
        yield Api(shared.client, new_keys(engine))
        return
    with serve(engine, database_url, new_keys(engine)) as server:
        yield server


def outbox_message(pid: str, address: str, n: int, *, consent: str = "marketing") -> QueuedMessage:
    return QueuedMessage(
        key=f"test-{pid}-{n}",
        journey_id=None,
        entry_id=None,
        step=None,
        profile_id=pid,
        channel="email",
        address=address,
        purpose="marketing",
        consent=consent,
        subject="โปรโมชั่น",
        body=f"ข้อเสนอพิเศษ {n}",
        html=None,
    )


def statuses(engine: Engine, pid: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(messages.c.status).where(messages.c.profile_id == pid)).scalars()
        )


# --- P1: withdrawal while messages wait ---------------------------------------------------------


def test_p1_email_marketing_withdrawn_while_messages_wait_sends_nothing_more_to_that_person(
    engine: Engine, tmp_path: Path, api: Api
) -> None:
    with engine.connect() as conn:  # the audit log is the store's only table not emptied
        audited_before = conn.execute(select(func.max(audit_log.c.id))).scalar_one() or 0
    mai = person(engine, tmp_path, 201, line=False)
    niran = person(engine, tmp_path, 202, line=False)
    per_person = 150
    with engine.begin() as conn:
        for n in range(per_person):
            for who, k in ((mai, 201), (niran, 202)):
                queue(conn, outbox_message(who.profile_id, f"person{k}@example.co.th", n), T0)

    withdrawn = api.ok(
        "POST",
        "/api/consents",
        {
            "profile_id": mai.profile_id,
            "purpose": "marketing",
            "channel": "email",
            "state": "withdrawn",
            "method": "form",
            "source": "preference-centre",
            "notice_text": NOTICE,
            "notice_version": "v3",
        },
        status=202,
    ).json()
    assert withdrawn == {"profile_id": mai.profile_id, "statements": 1, "cancelled": per_person}
    assert set(statuses(engine, mai.profile_id)) == {"cancelled"}  # 100 %, before any send
    process(engine)

    # a journey queueing one more after the withdrawal is stopped by the dispatcher's check
    with engine.begin() as conn:
        queue(conn, outbox_message(mai.profile_id, "person201@example.co.th", 999), T0)
    with FakeLine("t") as line, FakeSmtp() as smtp, dispatcher(engine, line, smtp) as d:
        report = d.run_until_idle(T0 + MINUTE)
        to = [r for m in smtp.delivered for r in m.rcpt_tos]
    assert to.count("person201@example.co.th") == 0
    assert to.count("person202@example.co.th") == per_person  # the others are unaffected
    assert report.sent == per_person and report.cancelled == 1
    assert set(statuses(engine, mai.profile_id)) == {"cancelled"}
    assert set(statuses(engine, niran.profile_id)) == {"sent"}

    shown = api.ok("GET", f"/api/profiles/{mai.profile_id}/consents").json()
    marketing = shown["state"]["purposes"]["marketing"]
    assert marketing["granted"] is True  # purpose-wide, from the tracked preference
    assert marketing["channels"]["email"] is False and marketing["channels"]["sms"] is True
    grant, withdrawal = shown["ledger"]
    assert (grant["state"], grant["channel"], grant["method"], grant["source"]) == (
        "granted",
        "*",
        "tracking",
        "web",
    )
    assert withdrawal["state"] == "withdrawn"
    assert (withdrawal["channel"], withdrawal["source"]) == ("email", "preference-centre")
    assert withdrawal["notice_sha256"] == hashlib.sha256(NOTICE.encode()).hexdigest()
    assert withdrawal["notice_text"] == NOTICE
    with engine.connect() as conn:
        audited = conn.execute(
            select(audit_log.c.action, audit_log.c.object_id, audit_log.c.actor).where(
                audit_log.c.action == "consent.change", audit_log.c.id > audited_before
            )
        ).all()
    assert [(a, o) for a, o, _ in audited] == [("consent.change", mai.profile_id)]
    assert audited[0].actor.startswith("key:")


# --- P2: the proof's round trip ----------------------------------------------------------------


def rich_history(engine: Engine, tmp_path: Path, api: Api) -> str:
    """A person whose ledger holds every kind of statement: a tracked preference, the
    consent event with its notice, a subscription form, an API grant with expiry and proof."""
    somchai = person(engine, tmp_path, 211, line=False)
    event = factories.track(
        somchai.user,
        event="Segment Consent Preference Updated",
        properties={
            "notice_text": NOTICE,
            "notice_version": "v3",
            "method": "checkbox",
            "categoryPreferences": {"analytics": True, "profiling": False},
        },
        context={"timezone": "Asia/Bangkok"},
    )
    track(engine, event)
    load(
        engine,
        tmp_path,
        "signup-form",
        "subscription",
        [
            {
                "id": "f-1",
                "user_id": somchai.user,
                "list_name": "LINE OA",
                "channel": "line",
                "status": "subscribed",
                "subscribed_at": "2026-11-01T03:00:00Z",
                "method": "double_opt_in",
                "notice_version": "line-v1",
                "evidence": "confirm-token-8841",
            }
        ],
    )
    api.ok(
        "POST",
        "/api/consents",
        {
            "profile_id": somchai.profile_id,
            "purpose": "third_party_sharing",
            "state": "granted",
            "method": "call_recording",
            "evidence": "rec-2026-12-01-0042",
            "at": "2026-12-01T02:30:00Z",
            "expires_at": "2027-12-01T02:30:00Z",
            "notice_text": "แบ่งปันข้อมูลกับพันธมิตร",
            "notice_version": "share-v2",
        },
        status=202,
    )
    process(engine)
    return somchai.profile_id


PROOF_FIELDS = (
    "kind",
    "purpose",
    "channel",
    "state",
    "at_us",
    "at",
    "source",
    "method",
    "notice_version",
    "notice_text",
    "notice_sha256",
    "evidence",
    "expires_at_us",
    "time_zone",
)


def entries_of(proof: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(e[f] for f in PROOF_FIELDS) for e in proof["entries"]]


def test_p2_the_proof_exports_every_entry_and_imports_back_equal(
    engine: Engine, tmp_path: Path, api: Api, database_url: str
) -> None:
    pid = rich_history(engine, tmp_path, api)
    proof = api.ok("GET", f"/api/profiles/{pid}/consents/proof").json()
    assert proof["time_zone"] == "Asia/Bangkok"
    kinds = {(e["kind"], e["purpose"], e["channel"], e["state"]) for e in proof["entries"]}
    assert kinds == {
        ("purpose", "marketing", "*", "granted"),
        ("purpose", "analytics", "*", "granted"),
        ("purpose", "profiling", "*", "withdrawn"),
        ("subscription", "marketing", "line", "subscribed"),
        ("purpose", "third_party_sharing", "*", "granted"),
    }
    call = next(e for e in proof["entries"] if e["method"] == "call_recording")
    assert call["at"] == "2026-12-01T02:30:00.000000Z"
    assert call["at_local"] == "2026-12-01T09:30:00+07:00"
    assert call["evidence"] == "rec-2026-12-01-0042"
    assert call["expires_at"] == "2027-12-01T02:30:00.000000Z"
    assert call["notice_sha256"] == hashlib.sha256("แบ่งปันข้อมูลกับพันธมิตร".encode()).hexdigest()
    line = next(e for e in proof["entries"] if e["kind"] == "subscription")
    assert (line["method"], line["evidence"], line["source"]) == (
        "double_opt_in",
        "confirm-token-8841",
        "signup-form",
    )
    assert proof["state"]["subscriptions"]["line"] == "subscribed"
    assert proof["state"]["subscriptions"]["email"] == "never_asked"

    other = person(engine, tmp_path, 212, line=False, consent=None)
    for _ in range(2):  # importing twice stores each entry once
        answer = api.ok(
            "POST",
            f"/api/consents/import?profile_id={other.profile_id}",
            proof,
            status=202,
        ).json()
        assert answer["statements"] == len(proof["entries"])
    process(engine)
    again = api.ok("GET", f"/api/profiles/{other.profile_id}/consents/proof").json()
    assert entries_of(again) == entries_of(proof)
    assert again["state"] == proof["state"]

    tampered = json.loads(json.dumps(proof))
    tampered["entries"][-1]["notice_text"] = "something else"
    refused = api.client.post(
        f"/api/consents/import?profile_id={other.profile_id}",
        json=tampered,
        headers={"Authorization": f"Bearer {api.keys['admin']}"},
    )
    assert refused.status_code == 422 and "notice_sha256" in refused.text

    # the same round trip with the CLI (in this process: its commands call the same code)
    path = tmp_path / "proof.json"
    cli("consent", "export", pid, "--out", str(path), url=database_url)
    third = person(engine, tmp_path, 213, line=False, consent=None)
    cli("consent", "import", str(path), "--profile", third.profile_id, url=database_url)
    process(engine)
    shown = cli("consent", "show", third.profile_id, "--json", url=database_url)
    assert entries_of(json.loads(shown)) == entries_of(proof)
    table = cli("consent", "show", third.profile_id, url=database_url)
    assert "third_party_sharing" in table and "line: subscribed" in table


def cli(*args: str, url: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"C360_DATABASE_URL": url, "COLUMNS": "200"})
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


# --- every exit --------------------------------------------------------------------------------


SEND = """
name: offer
trigger: {segment: hanoi}
steps:
  - send:
      channels: [email]
      template:
        subject: "ข้อเสนอ"
        body: "สวัสดีคุณ{{ profile.first_name }}"
"""


def test_no_message_export_sync_or_webhook_leaves_without_consent_or_while_restricted(
    engine: Engine,
    tmp_path: Path,
    api: Api,
    helpdesk: HelpdeskApi,  # noqa: F811
) -> None:
    with engine.begin() as conn:
        create_segment(conn, "hanoi", parse("province exists"))
    journey(engine, SEND)
    # three people in the helpdesk: one consents to everything, one to nothing, one restricted
    import_csv(
        engine,
        tmp_path,
        "helpdesk",
        HELPDESK_MAPPING,
        "id,name,phone,email,street,province\n"
        "H-1,Nguyễn Văn An,0912 345 678,an@example.vn,12 Lý Thường Kiệt,Hà Nội\n"
        "H-2,Trần Thị Bình,0913 345 678,binh@example.vn,1 Lê Lợi,Hà Nội\n"
        "H-3,Lê Văn Cường,0914 345 678,cuong@example.vn,2 Lê Lợi,Hà Nội\n",
    )
    process(engine)
    with engine.connect() as conn:
        an, binh, cuong = (
            find_by_identifier(conn, "email", f"{n}@example.vn").id for n in ("an", "binh", "cuong")
        )
    for pid, state in ((an, "granted"), (binh, "withdrawn"), (cuong, "granted")):
        for purpose in ("marketing", "third_party_sharing"):
            api.ok(
                "POST",
                "/api/consents",
                {"profile_id": pid, "purpose": purpose, "state": state, "method": "form"},
                status=202,
            )
    with engine.begin() as conn:
        restrict(conn, cuong, request_id=None, reason="the person contests the data")
    process(engine)

    # exports: the API and the CLI leave out the unconsented and the restricted, and say so
    export = api.ok("GET", "/api/segments/hanoi/export?format=jsonl")
    assert [json.loads(line)["profile_id"] for line in export.text.splitlines()] == [an]
    assert export.headers["X-C360-Left-Out-Consent"] == "1"
    assert export.headers["X-C360-Left-Out-Restricted"] == "1"
    sharing = api.ok("GET", "/api/segments/hanoi/export?format=csv&purpose=analytics")
    assert sharing.text.count("\n") == 1  # only the header: nobody consented to analytics

    # messages: no journey entry for the restricted, a skip for the unconsented
    run_cycle(engine, CONFIG, T0)
    with engine.connect() as conn:
        rows = {r.profile_id: r for r in conn.execute(select(messages))}
    assert rows[an].status == "queued"
    assert rows[binh].status == "skipped" and "consent" in (rows[binh].reason or "")
    assert cuong not in rows
    with FakeLine("t") as line, FakeSmtp() as smtp, dispatcher(engine, line, smtp) as d:
        d.run_until_idle(T0 + MINUTE)
        assert [r for m in smtp.delivered for r in m.rcpt_tos] == ["an@example.vn"]

    # two-way sync to an outside app that needs third-party sharing consent: everyone's
    # address changes in the CRM, only An's goes out
    import_csv(
        engine,
        tmp_path,
        "crm",
        VN_CRM_MAPPING,
        "customer_no,name,phone,email,street,province\n"
        "C-1,Nguyễn Văn An,0912 345 678,an@example.vn,45 Nguyễn Huệ,Hà Nội\n"
        "C-2,Trần Thị Bình,0913 345 678,binh@example.vn,46 Nguyễn Huệ,Hà Nội\n"
        "C-3,Lê Văn Cường,0914 345 678,cuong@example.vn,47 Nguyễn Huệ,Hà Nội\n",
    )
    process(engine)
    add(
        engine,
        {
            "name": "partner",
            "source": "helpdesk",
            "rest": {"url": helpdesk.url, "auth": {"secret": "helpdesk_token"}},
            "fields": {"address_line1": "street"},
            "consent_purpose": "third_party_sharing",
        },
    )
    worker = SyncWorker(
        engine,
        secrets=sync_secrets({"C360_SYNC_SECRET_HELPDESK_TOKEN": "tok"}),
        allowed_hosts=f"127.0.0.1:{helpdesk.port}",
    )
    with engine.begin() as conn:
        destination = get_destination(conn, "partner")
        enqueue_profiles(conn, destination.id, [an, binh, cuong], system_clock())
    reports = settle(worker)
    worker.close()
    assert [c.path for c in helpdesk.calls] == ["/api/customers/H-1"]
    assert helpdesk.calls[0].body == {"street": "45 Nguyễn Huệ"}
    assert sum(r.withheld for r in reports) == 2

    # change-feed webhooks: a receiver outside the business gets changes about An only
    receiver = FakeWebhookReceiver("")
    with receiver:
        host = urlsplit(receiver.url).netloc
        with engine.begin() as conn:
            _sub, secret = add_subscription(
                conn,
                receiver.url + "/hook",
                [],
                start="beginning",
                allowed_hosts=host,
                consent_purpose="third_party_sharing",
            )
        receiver.secret = secret
        with Deliverer(engine, allowed_hosts=host) as deliverer:
            for _ in range(20):
                if not deliverer.run_once():
                    break
        about = {c["profile_id"] for r in receiver.delivered for c in r.json()["changes"]}
    assert an in about
    assert binh not in about and cuong not in about


# --- the tracking API ---------------------------------------------------------------------------


def test_tracked_consent_over_http_lands_in_the_ledger_and_the_view(
    engine: Engine, api: Api
) -> None:
    import base64

    auth = "Basic " + base64.b64encode(f"{api.keys['writer']}:".encode()).decode()
    context = {"consent": {"categoryPreferences": {"marketing": True, "analytics": False}}}
    for n in range(3):  # the same preferences on every message: one ledger entry each
        page = api.client.post(
            "/v1/page",
            json={"userId": "web-77", "name": f"Page {n}", "context": context},
            headers={"Authorization": auth},
        )
        assert page.status_code == 200, page.text
    update = api.client.post(
        "/v1/track",
        json={
            "userId": "web-77",
            "event": "Segment Consent Preference Updated",
            "properties": {"notice_version": "cookie-v7", "notice_text": "We use cookies..."},
            "context": {
                "consent": {"categoryPreferences": {"marketing": False, "analytics": True}},
                "timezone": "Asia/Ho_Chi_Minh",
            },
        },
        headers={"Authorization": auth},
    )
    assert update.status_code == 200, update.text
    process(engine)
    with engine.connect() as conn:
        pid = find_by_identifier(conn, "user_id", "web-77").id
        rows = conn.execute(
            select(consent_ledger).order_by(consent_ledger.c.at_us, consent_ledger.c.position)
        ).all()
    assert [(r.purpose, r.state, r.method) for r in rows] == [
        ("marketing", "granted", "tracking"),
        ("analytics", "withdrawn", "tracking"),
        ("marketing", "withdrawn", "form"),
        ("analytics", "granted", "form"),
    ]
    assert {r.profile_id for r in rows} == {pid}
    assert rows[-1].notice_version == "cookie-v7" and rows[-1].time_zone == "Asia/Ho_Chi_Minh"
    state = api.ok("GET", f"/api/profiles/{pid}/consents").json()["state"]
    assert state["purposes"]["marketing"]["granted"] is False
    assert state["purposes"]["analytics"]["granted"] is True


def test_an_imported_subscription_record_counts_at_once_without_a_later_event(
    engine: Engine, tmp_path: Path, api: Api
) -> None:
    somchai = person(engine, tmp_path, 221, line=False)  # marketing granted by tracking
    load(
        engine,
        tmp_path,
        "newsletter",
        "subscription",
        [{"id": "n-1", "user_id": somchai.user, "channel": "email", "status": "unsubscribed"}],
    )
    state = api.ok("GET", f"/api/profiles/{somchai.profile_id}/consents").json()["state"]
    assert state["subscriptions"]["email"] == "unsubscribed"
    assert state["purposes"]["marketing"]["channels"]["email"] is False
    with engine.connect() as conn:
        view = conn.execute(
            select(profiles.c.attributes).where(profiles.c.id == somchai.profile_id)
        ).scalar_one()
    assert view["c"]["marketing"]["email"] is False  # what journeys and exports read


def test_rebuild_recomputes_the_ledger_from_the_log(
    engine: Engine, tmp_path: Path, api: Api
) -> None:
    from c360.workers.rebuild import rebuild

    pid = rich_history(engine, tmp_path, api)
    with engine.connect() as conn:
        before = conn.execute(
            select(consent_ledger.c.purpose, consent_ledger.c.state, consent_ledger.c.at_us)
            .where(consent_ledger.c.profile_id == pid)
            .order_by(consent_ledger.c.at_us)
        ).all()
    assert len(before) == 5
    rebuild(engine)
    with engine.connect() as conn:
        after = conn.execute(
            select(
                consent_ledger.c.profile_id,
                consent_ledger.c.purpose,
                consent_ledger.c.state,
                consent_ledger.c.at_us,
            ).order_by(consent_ledger.c.at_us)
        ).all()
    assert [tuple(r[1:]) for r in after] == [tuple(r) for r in before]


def test_a_change_for_an_unknown_profile_or_with_a_wrong_field_is_refused(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    missing = api.client.post(
        "/api/consents",
        json={"profile_id": "nobody", "purpose": "marketing", "state": "granted"},
        headers=headers,
    )
    assert missing.status_code == 404
    wrong = api.client.post(
        "/api/consents",
        json={"profile_id": "x", "kind": "subscription", "channel": "*", "state": "subscribed"},
        headers=headers,
    )
    assert wrong.status_code == 422, wrong.text


# --- configured purposes ------------------------------------------------------------------------

DEFAULTS = "marketing, analytics, personalisation, profiling, third_party_sharing"
LOYALTY = {
    "name": "loyalty_programme",
    "labels": {
        "en": "Loyalty programme",
        "th": "โปรแกรมสมาชิก",
        "vi": "Chương trình khách hàng thân thiết",
    },
}
LOYALTY_SEND = """
name: loyalty-points
trigger: {segment: members}
steps:
  - send:
      channels: [email]
      consent: loyalty_programme
      template:
        subject: "คะแนนสะสมของคุณ"
        body: "สวัสดีคุณ{{ profile.first_name }} คุณมีคะแนนสะสมใหม่"
"""


def test_an_unconfigured_purpose_is_refused_where_consent_is_stated_or_required(
    engine: Engine, tmp_path: Path, api: Api, database_url: str
) -> None:
    somsri = person(engine, tmp_path, 231, line=False)
    expected = (
        f"purpose 'loyalty_programme' is not a configured consent purpose: use one of "
        f"{DEFAULTS} (or add it to C360_CONSENT_PURPOSES)"
    )
    body = {"profile_id": somsri.profile_id, "purpose": "loyalty_programme", "state": "granted"}
    assert api.refused("POST", "/api/consents", body) == expected

    result = CliRunner().invoke(
        app,
        ["consent", "grant", somsri.profile_id, "--purpose", "loyalty_programme"],
        env={"C360_DATABASE_URL": database_url, "COLUMNS": "300"},
    )
    assert result.exit_code == 2, result.output
    assert "--purpose 'loyalty_programme' is not a configured consent purpose" in result.output
    assert DEFAULTS in result.output
    process(engine)
    ledger = api.ok("GET", f"/api/profiles/{somsri.profile_id}/consents").json()["ledger"]
    assert [e["purpose"] for e in ledger] == ["marketing"]  # only the tracked grant

    # configuration naming it is refused when created, with the same message
    segment = {"name": "loyal", "condition": 'consented to "loyalty_programme"'}
    assert "'loyalty_programme' is not a configured" in api.refused(
        "POST", "/api/segments", segment
    )
    with engine.begin() as conn:
        create_segment(conn, "members", parse("province exists"))
    journey_body = {"definition": LOYALTY_SEND}
    message = api.refused("POST", "/api/journeys", journey_body)
    assert message.startswith("step 'step1': consent 'loyalty_programme' is not a configured")
    export = "/api/segments/members/export?purpose=loyalty_programme"
    assert "'loyalty_programme' is not a configured" in api.refused("GET", export)
    rule = {
        "name": "loyalty-banner",
        "placement": "home_hero",
        "condition": 'consented to "loyalty_programme"',
        "content": {"title": "สะสมคะแนน"},
    }
    assert "'loyalty_programme' is not a configured" in api.refused(
        "POST", "/api/personalize/rules", rule
    )
    refusal = pytest.raises(InvalidInput, match="consent purpose 'loyalty_programme' is not")
    with engine.begin() as conn, refusal:
        add_subscription(
            conn,
            "http://127.0.0.1:9/hook",
            [],
            allowed_hosts="127.0.0.1:9",
            consent_purpose="loyalty_programme",
        )
    partner = {
        "name": "partner",
        "source": "partner",
        "rest": {"url": "https://partner.example/api/members"},
        "fields": {"email": "email"},
        "consent_purpose": "loyalty_programme",
    }
    with pytest.raises(InvalidInput, match="'partner': consent_purpose 'loyalty_programme'"):
        add(engine, partner)
    with engine.connect() as conn:
        assert conn.execute(select(journeys)).first() is None


def test_a_configured_purpose_is_granted_then_checked_by_journeys_and_exports(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    purposes = ["marketing", "third_party_sharing", LOYALTY]  # three defaults left out
    with serve(engine, database_url, new_keys(engine), consent_purposes=purposes) as api:
        with engine.begin() as conn:
            create_segment(conn, "members", parse("province exists"))
        journey(engine, LOYALTY_SEND)
        nok, lek = (
            person(engine, tmp_path, 241, line=False),
            person(engine, tmp_path, 242, line=False),
        )
        for who, state in ((nok, "granted"), (lek, "withdrawn")):
            change = {"profile_id": who.profile_id, "purpose": "loyalty_programme", "state": state}
            api.ok("POST", "/api/consents", {**change, "method": "form"}, status=202)
        process(engine)

        state = api.ok("GET", f"/api/profiles/{nok.profile_id}/consents").json()["state"]
        assert list(state["purposes"]) == ["marketing", "third_party_sharing", "loyalty_programme"]
        loyalty = state["purposes"]["loyalty_programme"]
        assert loyalty["configured"] is True and loyalty["granted"] is True
        assert loyalty["labels"]["th"] == "โปรแกรมสมาชิก"
        listed = api.ok("GET", "/api/consents/purposes").json()
        assert [p["name"] for p in listed["configured"]] == [
            "marketing",
            "third_party_sharing",
            "loyalty_programme",
        ]
        assert listed["unconfigured"] == []
        # a default left out of the list is refused like any unknown purpose
        removed = {"profile_id": nok.profile_id, "purpose": "analytics", "state": "granted"}
        assert "use one of marketing, third_party_sharing, loyalty_programme" in api.refused(
            "POST", "/api/consents", removed
        )

        export = api.ok("GET", "/api/segments/members/export?purpose=loyalty_programme")
        assert [json.loads(row)["profile_id"] for row in export.text.splitlines()] == [
            nok.profile_id
        ]
        assert export.headers["X-C360-Left-Out-Consent"] == "1"

        run_cycle(engine, CONFIG, T0)
        with engine.connect() as conn:
            rows = {r.profile_id: r for r in conn.execute(select(messages))}
        assert rows[nok.profile_id].status == "queued"
        assert rows[nok.profile_id].consent == "loyalty_programme"
        assert rows[lek.profile_id].status == "skipped"
        assert "consent" in (rows[lek.profile_id].reason or "")


def test_an_unconfigured_purpose_tracked_or_imported_is_kept_reported_and_counts_once_configured(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    import base64

    from c360.workers.rebuild import rebuild

    keys = new_keys(engine)
    with serve(engine, database_url, keys) as api:
        auth = {
            "Authorization": "Basic " + base64.b64encode(f"{keys['writer']}:".encode()).decode()
        }
        given = {"marketing": True, "Advertising": False, "loyalty_programme": True}
        page = api.client.post(
            "/v1/page",
            json={"userId": "web-88", "context": {"consent": {"categoryPreferences": given}}},
            headers=auth,
        )
        assert page.status_code == 200, page.text
        update = api.client.post(
            "/v1/track",
            json={
                "userId": "web-88",
                "event": "Segment Consent Preference Updated",
                "properties": {"categoryPreferences": {"research": True}},
            },
            headers=auth,
        )
        assert update.status_code == 200, update.text
        process(engine)
        load(
            engine,
            tmp_path,
            "signup-form",
            "subscription",
            [{"id": "f-88", "user_id": "web-88", "purpose": "loyalty_programme", "status": "yes"}],
        )
        with engine.connect() as conn:
            pid = find_by_identifier(conn, "user_id", "web-88").id
            stored = sorted(
                (r.purpose, r.state, r.source)
                for r in conn.execute(
                    select(consent_ledger).where(consent_ledger.c.kind == "purpose")
                )
            )
        assert stored == [  # nothing dropped
            ("Advertising", "withdrawn", "site"),
            ("loyalty_programme", "granted", "signup-form"),
            ("loyalty_programme", "granted", "site"),
            ("marketing", "granted", "site"),
            ("research", "granted", "site"),
        ]

        shown = api.ok("GET", f"/api/profiles/{pid}/consents").json()
        loyalty = shown["state"]["purposes"]["loyalty_programme"]
        assert (loyalty["configured"], loyalty["granted"]) == (False, True)
        assert shown["state"]["purposes"]["marketing"]["configured"] is True
        flagged = {e["purpose"] for e in shown["ledger"] if e["configured"] is False}
        assert flagged == {"Advertising", "loyalty_programme", "research"}
        listed = api.ok("GET", "/api/consents/purposes").json()["unconfigured"]
        assert listed[0] == {
            "purpose": "loyalty_programme",
            "entries": 2,
            "profiles": 1,
            "sources": {"signup-form": 1, "site": 1},
        }
        assert {u["purpose"] for u in listed} == {"loyalty_programme", "Advertising", "research"}
        quality = {q["source"]: q for q in api.ok("GET", "/api/quality").json()}
        assert quality["site"]["unconfigured_purposes"] == {
            "Advertising": 1,
            "loyalty_programme": 1,
            "research": 1,
        }
        assert quality["signup-form"]["unconfigured_purposes"] == {"loyalty_programme": 1}
        env = {"C360_DATABASE_URL": database_url, "COLUMNS": "300"}
        table = CliRunner().invoke(app, ["consent", "purposes"], env=env)
        assert table.exit_code == 0, table.output
        assert "loyalty_programme" in table.stdout and "signup-form 1, site 1" in table.stdout

    # the business adds the purpose: the statements already kept count, nothing is replayed
    with engine.connect() as conn:
        before = ledger_rows(conn)
    purposes = ["marketing", "analytics", LOYALTY]
    with serve(engine, database_url, keys, consent_purposes=purposes) as api:
        loyalty = api.ok("GET", f"/api/profiles/{pid}/consents").json()["state"]["purposes"][
            "loyalty_programme"
        ]
        assert (loyalty["configured"], loyalty["granted"]) == (True, True)
        segment = {"name": "loyal", "condition": 'consented to "loyalty_programme"'}
        assert api.ok("POST", "/api/segments", segment, status=201).json()["members"] == 1
        export = api.ok("GET", "/api/segments/loyal/export?purpose=loyalty_programme")
        assert [json.loads(row)["profile_id"] for row in export.text.splitlines()] == [pid]
        listed = api.ok("GET", "/api/consents/purposes").json()["unconfigured"]
        assert {u["purpose"] for u in listed} == {"Advertising", "research"}
        rebuild(engine)
        with engine.connect() as conn:
            assert ledger_rows(conn) == before  # whatever the list, the same ledger


def ledger_rows(conn: Any) -> list[tuple[Any, ...]]:
    """Every entry with its proof and origin (ids may change with a rebuild)."""
    columns = [c for c in consent_ledger.c if c.name not in ("id", "profile_id")]
    return sorted(tuple(r) for r in conn.execute(select(*columns)))
