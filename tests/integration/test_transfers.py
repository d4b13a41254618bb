"""Transfers abroad and the register (RELIABILITY-TESTS P10), on both stores: a destination
hosted outside the home country is refused without a country it can be checked against and a
field allow-list, accepted with them, and listed in the register (API, CLI, CSV) with its
fields and country; a webhook receiver gets only the fields its allow-list names."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import uuid
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from tests.conftest import free_port, make_keys
from typer.testing import CliRunner

from c360.activation.sync import add_destination, parse_destination, remove_destination
from c360.api.app import build_app
from c360.changes.delivery import Deliverer
from c360.changes.feed import ChangeKind, NewChange, record_changes
from c360.changes.subscriptions import add_subscription, get_subscription
from c360.compliance.register import TransferSettings, build_register, register_csv
from c360.connectors.channels.config import ChannelsConfig, LineConfig, TwilioConfig, ZaloConfig
from c360.errors import InvalidInput
from c360.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

EMAIL = "pimchanok.s@example.co.th"
PHONE = "+66812345678"
NAME = "พิมพ์ชนก ศรีสุข"
# receivers on loopback, allowed (no DNS is needed: the test machine may have none)
US_HOOK, TH_HOOK, OLD_HOOK = (f"http://127.0.0.1:{p}/c360" for p in (9001, 9002, 9003))
ALLOWED = "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"

SHOP_ANALYTICS = {  # a REST app hosted in Singapore, sent two golden values
    "name": "shop-analytics",
    "source": "shop_analytics",
    "country": "sg",
    "rest": {"url": "https://analytics.example.sg/api/customers"},
    "fields": {
        "province": "province",
        "postal_code": "zip",
        "phone": {"column": "phone", "owner": "app"},  # comes back, never sent
    },
    "consent_purpose": "analytics",
}


class Hook:
    """A webhook receiver on loopback that keeps every body it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/c360"


@pytest.fixture
def hook() -> Iterator[Hook]:
    found = Hook()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()


def test_an_abroad_destination_needs_a_country_and_fields_and_the_register_lists_it(
    engine: Engine,
) -> None:
    home = TransferSettings(home_country="TH")
    with engine.begin() as conn:
        # a webhook receiver in the US without an allow-list: refused, naming what is missing
        with pytest.raises(InvalidInput) as refused:
            add_subscription(
                conn,
                US_HOOK,
                [],
                allowed_hosts=ALLOWED,
                country="us",
                home_country="TH",
            )
        message = str(refused.value)
        assert "hosted in US, outside TH" in message and "field allow-list" in message
        # a country that is not one
        with pytest.raises(InvalidInput, match="not an ISO 3166 alpha-2 code"):
            add_subscription(conn, US_HOOK, [], allowed_hosts=ALLOWED, country="Thailand")
        with pytest.raises(InvalidInput, match="name a profile field"):
            add_subscription(
                conn, US_HOOK, [], allowed_hosts=ALLOWED, country="US", fields=["email"]
            )
        abroad, _ = add_subscription(
            conn,
            f"{US_HOOK}?token=abc",
            [],
            allowed_hosts=ALLOWED,
            country="US",
            fields=["golden.province", "traits.*", "golden.province"],
            home_country="TH",
        )
        at_home, _ = add_subscription(
            conn, TH_HOOK, [], allowed_hosts=ALLOWED, country="th", home_country="TH"
        )
        unstated, _ = add_subscription(conn, OLD_HOOK, [], allowed_hosts=ALLOWED)
    assert (abroad.country, abroad.fields) == ("US", ("golden.province", "traits.*"))
    assert (at_home.country, at_home.fields) == ("TH", None)
    assert unstated.country is None

    # sync destinations: the country is checked; the field map is the allow-list
    with pytest.raises(InvalidInput, match="country: 'XY' is not an ISO 3166"):
        parse_destination({**SHOP_ANALYTICS, "country": "XY"}, origin="shop.yml")
    with pytest.raises(InvalidInput, match="name at least one golden field"):
        parse_destination({**SHOP_ANALYTICS, "fields": {}}, origin="shop.yml")
    with engine.begin() as conn:
        destination = add_destination(conn, parse_destination(SHOP_ANALYTICS), home_country="TH")
        kept = add_destination(
            conn,
            parse_destination({**SHOP_ANALYTICS, "name": "old-app", "country": "TH"}),
        )
        remove_destination(conn, kept.name)  # removed: no longer in the register
    assert destination.country == "SG"

    with engine.connect() as conn:
        register = build_register(conn, home)
    by_name = {e["name"]: e for e in register["transfers"]}
    assert set(by_name) == {
        "shop-analytics",
        f"subscription {abroad.id}",
        f"subscription {at_home.id}",
        f"subscription {unstated.id}",
    }
    shop = by_name["shop-analytics"]
    assert shop["kind"] == "sync destination (rest)"
    assert (shop["country"], shop["abroad"]) == ("SG", True)
    assert shop["fields"] == ["province", "postal_code"]  # not phone: the app's own
    assert shop["purpose"] == "analytics"
    assert shop["target"] == "https://analytics.example.sg"
    assert shop["legal_basis"] == "" and shop["deletes_on_erasure"] is False
    us = by_name[f"subscription {abroad.id}"]
    assert (us["country"], us["abroad"], us["fields"]) == (
        "US",
        True,
        ["golden.province", "traits.*"],
    )
    assert us["target"] == "http://127.0.0.1:9001"  # never the token in the URL
    assert by_name[f"subscription {at_home.id}"]["abroad"] is False
    assert by_name[f"subscription {at_home.id}"]["fields"] is None
    assert by_name[f"subscription {unstated.id}"]["abroad"] is None
    assert register["transfers_abroad"] == 2
    assert any(
        f"subscription {unstated.id}" in p and "no country stated" in p
        for p in register["problems"]
    )

    rows = list(csv.DictReader(io.StringIO(register_csv(register))))
    shop_row = next(r for r in rows if r["name"] == "shop-analytics")
    assert shop_row["country"] == "SG" and shop_row["abroad"] == "yes"
    assert shop_row["fields"] == "province; postal_code"
    assert "legal_basis" in shop_row and shop_row["legal_basis"] == ""


def test_a_webhook_receiver_gets_only_its_allowed_fields(engine: Engine, hook: Hook) -> None:
    allowed_host = f"127.0.0.1:{hook.port}"
    with engine.begin() as conn:
        subscription, _ = add_subscription(
            conn,
            hook.url,
            [],
            allowed_hosts=allowed_host,
            country="VN",
            fields=["golden.province", "identifiers.user_id", "computed.*"],
            home_country="TH",
        )
        assert get_subscription(conn, subscription.id).fields == (
            "golden.province",
            "identifiers.user_id",
            "computed.*",
        )
        pid = str(uuid.uuid4())
        record_changes(
            conn,
            [
                NewChange(
                    pid,
                    ChangeKind.PROFILE_CREATED,
                    {
                        "golden": {"email": EMAIL, "full_name": NAME, "province": "Bangkok"},
                        "identifiers": [f"email:{EMAIL}", f"phone:{PHONE}", "user_id:u-881"],
                        "computed": {"orders_90d": 3},
                    },
                ),
                NewChange(
                    pid,
                    ChangeKind.TRAIT_CHANGED,
                    {"trait": "golden.email", "old": EMAIL, "new": "new@example.co.th"},
                ),
                NewChange(
                    pid,
                    ChangeKind.TRAIT_CHANGED,
                    {"trait": "golden.province", "old": "Bangkok", "new": "Chiang Mai"},
                ),
                NewChange(pid, ChangeKind.IDENTIFIER_ADDED, {"type": "phone", "value": PHONE}),
                NewChange(pid, ChangeKind.MERGED, {"merged_id": str(uuid.uuid4()), "reason": "x"}),
            ],
            seq=1,
        )
    with Deliverer(
        engine, allowed_hosts=allowed_host, base_delay_s=0.01, rng=random.Random(1)
    ) as deliverer:
        deliverer.run_once()
    delivered = [c for body in hook.bodies for c in body["changes"]]
    assert [c["kind"] for c in delivered] == [
        "profile_created",
        "trait_changed",
        "trait_changed",
        "identifier_added",
        "merged",
    ]
    created, email, province, phone, merged = (c["detail"] for c in delivered)
    assert created == {
        "golden": {"province": "Bangkok"},
        "computed": {"orders_90d": 3},
        "identifiers": ["user_id:u-881"],
    }
    assert email == {"trait": "golden.email", "masked": True}
    assert province == {"trait": "golden.province", "old": "Bangkok", "new": "Chiang Mai"}
    assert phone == {"type": "phone", "masked": True}
    assert merged["reason"] == "x"
    raw = json.dumps(hook.bodies, ensure_ascii=False)
    for value in (EMAIL, PHONE, NAME, "new@example.co.th"):
        assert value not in raw


def test_the_register_over_the_api_and_the_command_line(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as conn:
        add_destination(conn, parse_destination(SHOP_ANALYTICS), home_country="TH")
    retention = tmp_path / "retention.yml"
    retention.write_text(
        yaml.safe_dump(
            {"policies": [{"name": "raw web events", "keep": "13 months", "events": {}}]}
        ),
        encoding="utf-8",
    )
    channels = ChannelsConfig(
        sms=TwilioConfig(account_sid="AC1", auth_token="t", from_number="+6621234567"),
        line=LineConfig(channel_access_token="t", country="th"),
        zalo=ZaloConfig(access_token="t"),
    )
    settings = Settings(database_url=database_url, channels=channels, retention_config=retention)
    _, admin_key = make_keys(database_url)
    app = build_app(settings, engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {admin_key}"}
        answer = client.get("/api/privacy/register", headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        as_csv = client.get("/api/privacy/register?format=csv", headers=auth)
        assert client.get("/api/privacy/register").status_code == 401
    assert body["home_country"] == "TH"
    by_name = {e["name"]: e for e in body["transfers"]}
    assert by_name["shop-analytics"]["country"] == "SG"
    assert by_name["shop-analytics"]["fields"] == ["province", "postal_code"]
    providers = {
        e["name"].partition(":")[0]: e for e in body["transfers"] if "provider" in e["kind"]
    }
    assert set(providers) == {"sms", "line", "zalo"}
    assert (providers["sms"]["country"], providers["sms"]["abroad"]) == ("US", True)
    assert (providers["line"]["country"], providers["line"]["abroad"]) == ("TH", False)
    assert (providers["zalo"]["country"], providers["zalo"]["abroad"]) == ("VN", True)
    assert body["retention"][0]["name"] == "raw web events"
    assert body["retention"][0]["keep"] == "13 months"
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"kind": "retention policy", "name": "raw web events"}.items() <= rows[-1].items()

    if engine.dialect.name != "sqlite":
        return  # the command line's store stays open until the process ends: SQLite only
    from c360.cli.main import app as cli

    monkeypatch.setenv("C360_DATABASE_URL", database_url)
    monkeypatch.setenv("C360_HOME_COUNTRY", "SG")  # the same app is at home in Singapore
    runner = CliRunner()
    shown = runner.invoke(cli, ["privacy", "register", "--json"])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.stdout)
    shop = next(e for e in found["transfers"] if e["name"] == "shop-analytics")
    assert (shop["country"], shop["abroad"]) == ("SG", False)
    table = runner.invoke(cli, ["privacy", "register"])
    assert table.exit_code == 0 and "shop-analytics" in table.output
    csv_out = runner.invoke(cli, ["privacy", "register", "--csv"])
    assert csv_out.stdout.splitlines()[0].startswith("kind,name,target,country,abroad,fields")
