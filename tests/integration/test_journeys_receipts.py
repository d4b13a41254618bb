"""What providers tell c360 after a message went out, on both stores: Twilio's delivery
reports and incoming SMS, Zalo's received and seen events, each checked by the provider's own
signature and ending as an event on the person's timeline."""

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from tests.customer360 import process
from tests.fakes.providers import FakeTwilio, FakeZalo
from tests.integration.test_journeys import CONFIG, T0, act, journey, person
from tests.integration.test_journeys_delivery import FLASH_SALE, at_saigon

from c360.activation.channels import ChannelName
from c360.activation.dispatch import Dispatcher
from c360.activation.engine import EngineConfig, run_cycle
from c360.api.app import build_app
from c360.api.journeys import twilio_signature
from c360.connectors.channels import ChannelsConfig, TwilioConfig, ZaloConfig, build_channels
from c360.privacy.keys import Role, create_key
from c360.settings import Settings
from c360.storage.tables import messages

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # starlette asks for httpx2
    from starlette.testclient import TestClient

SID, TOKEN = "AC" + "0" * 31 + "1", "twilio-auth-token"
PUBLIC = "https://c360.example"
ZALO_APP, ZALO_SECRET, ZALO_TOKEN = "zalo-app", "zalo-secret", "zalo-token"


@pytest.fixture
def client(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, str]]:
    with engine.begin() as conn:
        _, key = create_key(conn, name="read", role=Role.READ, source=None)
    settings = Settings(
        database_url=database_url,
        public_url=PUBLIC,
        zalo_app_id=ZALO_APP,
        zalo_oa_secret_key=ZALO_SECRET,  # type: ignore[arg-type]
        channels=ChannelsConfig(
            sms=TwilioConfig(account_sid=SID, auth_token=TOKEN, from_number="+84900000000")  # type: ignore[arg-type]
        ),
    )
    with TestClient(build_app(settings, engine, run_worker=False)) as test_client:
        yield test_client, key


def post_twilio(client: TestClient, path: str, form: dict[str, str], token: str = TOKEN) -> Any:
    signature = twilio_signature(token, PUBLIC + path, list(form.items()))
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def timeline(client: TestClient, key: str, profile_id: str) -> list[str]:
    page = client.get(
        f"/api/profiles/{profile_id}/events", headers={"Authorization": f"Bearer {key}"}
    )
    return [e["payload"].get("event") for e in page.json()["events"]]


def test_twilio_delivery_reports_and_replies_reach_the_timeline(
    engine: Engine, tmp_path: Path, client: tuple[TestClient, str]
) -> None:
    http, key = client
    journey(engine, FLASH_SALE)
    lan = person(engine, tmp_path, 50, line=False, country="VN", phone="+84 912 345 678")
    act(engine, lan, "Product Viewed", at_saigon(9))
    run_cycle(engine, CONFIG, at_saigon(9))
    with FakeTwilio(SID, TOKEN) as twilio:
        callback = f"{PUBLIC}/api/inbound/twilio/status"
        channels = build_channels(
            ChannelsConfig(
                sms=TwilioConfig(
                    account_sid=SID,
                    auth_token=TOKEN,  # type: ignore[arg-type]
                    from_number="+84900000000",
                    base_url=twilio.url,
                    status_callback_url=callback,
                )
            )
        )
        with Dispatcher(engine, channels) as dispatcher:
            assert dispatcher.run_until_idle(at_saigon(9, 1)).sent == 1
        [request] = twilio.delivered
    assert request.form["StatusCallback"] == callback
    with engine.connect() as conn:
        sid = conn.execute(select(messages.c.provider_id)).scalar_one()

    status = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": SID}
    forged = post_twilio(http, "/api/inbound/twilio/status", status, token="not-the-token")
    assert forged.status_code == 401
    assert post_twilio(http, "/api/inbound/twilio/status", status).json() == {"accepted": 1}
    reply = {"From": "+84912345678", "Body": "Còn size 38 không?", "AccountSid": SID}
    answered = post_twilio(http, "/api/inbound/twilio/sms", reply)
    assert answered.status_code == 200 and answered.text == "<Response/>"

    process(engine)
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.status)).scalar_one() == "delivered"
    events = timeline(http, key, lan.profile_id)
    assert {"SMS Sent", "SMS Delivered", "SMS Replied"} <= set(events)


def test_zalo_received_and_seen_events_mark_the_message(
    engine: Engine, tmp_path: Path, client: tuple[TestClient, str]
) -> None:
    http, key = client
    journey(
        engine,
        "name: zalo\ntrigger: {event: Product Added}\nsteps:\n"
        "  - send: {channels: [zalo], template: {body: 'Giỏ hàng của bạn'}}",
    )
    ngoc = person(engine, tmp_path, 51, line=False, country="VN", zalo="2512523625412599")
    act(engine, ngoc, "Product Added", T0)
    config = EngineConfig(
        default_tz="Asia/Bangkok", channels=frozenset({ChannelName.ZALO}), base_url=PUBLIC
    )
    run_cycle(engine, config, T0)
    with FakeZalo(ZALO_TOKEN) as zalo:
        zalo.followers.add("2512523625412599")
        channels = build_channels(
            ChannelsConfig(zalo=ZaloConfig(access_token=ZALO_TOKEN, base_url=zalo.url))  # type: ignore[arg-type]
        )
        with Dispatcher(engine, channels) as dispatcher:
            assert dispatcher.run_until_idle(T0).sent == 1
    with engine.connect() as conn:
        provider_id = conn.execute(select(messages.c.provider_id)).scalar_one()

    def zalo_event(name: str, message: dict[str, Any]) -> Any:
        body = orjson.dumps(
            {
                "app_id": ZALO_APP,
                "event_name": name,
                "recipient": {"id": "2512523625412599"},
                "message": message,
                "timestamp": "1796000000000",
            }
        )
        mac = hashlib.sha256(
            (ZALO_APP + body.decode() + "1796000000000" + ZALO_SECRET).encode()
        ).hexdigest()
        return http.post(
            "/api/inbound/zalo", content=body, headers={"X-ZEvent-Signature": f"mac={mac}"}
        ).json()

    assert zalo_event("user_received_message", {"msg_id": provider_id}) == {"accepted": 1}
    assert zalo_event("user_seen_message", {"msg_ids": [provider_id, "other"]}) == {"accepted": 1}
    process(engine)
    with engine.connect() as conn:
        row = conn.execute(select(messages)).one()
    assert row.status == "delivered" and row.opened_at_us is not None
    events = timeline(http, key, ngoc.profile_id)
    assert {"Zalo Message Sent", "Zalo Message Delivered", "Zalo Message Read"} <= set(events)
