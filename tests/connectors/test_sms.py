import base64
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import ValidationError
from tests.fakes.providers import FakeTwilio

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.connectors.channels import TwilioConfig, TwilioSms

pytestmark = pytest.mark.anyio

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-7Hq2"
SENDER = "+15005550006"


def sms(to: str = "+66812345678", text: str = "รหัสยืนยันของคุณคือ 482913") -> Message:
    return Message(idempotency_key="j2:s1:p7", channel=ChannelName.SMS, to=to, body=text)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(SID, TOKEN) as fake:
        yield fake


@pytest.fixture
async def channel(twilio: FakeTwilio) -> AsyncIterator[TwilioSms]:
    adapter = TwilioSms(
        TwilioConfig(account_sid=SID, auth_token=TOKEN, from_number=SENDER, base_url=twilio.url)
    )
    yield adapter
    await adapter.aclose()


async def test_sms_is_created_with_the_documented_form(
    twilio: FakeTwilio, channel: TwilioSms
) -> None:
    result = await channel.send(sms())

    [request] = twilio.delivered
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": "+66812345678", "Body": "รหัสยืนยันของคุณคือ 482913", "From": SENDER}
    basic = request.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(basic).decode() == f"{SID}:{TOKEN}"
    assert result.provider_message_id == f"SM{1:032x}"


async def test_a_messaging_service_picks_the_sender(twilio: FakeTwilio) -> None:
    service = "MG9752274e9e519418a7406176694466fa"
    adapter = TwilioSms(
        TwilioConfig(
            account_sid=SID, auth_token=TOKEN, messaging_service_sid=service, base_url=twilio.url
        )
    )
    try:
        await adapter.send(sms(to="+84912345678", text="Mã xác nhận của bạn là 482913"))
    finally:
        await adapter.aclose()

    assert twilio.delivered[0].form == {
        "To": "+84912345678",
        "Body": "Mã xác nhận của bạn là 482913",
        "MessagingServiceSid": service,
    }


def test_exactly_one_sender_is_configured() -> None:
    with pytest.raises(ValidationError, match="exactly one of from_number"):
        TwilioConfig(account_sid=SID, auth_token=TOKEN)


async def test_an_invalid_number_is_refused_for_good_with_twilios_code(
    channel: TwilioSms,
) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(sms(to="0812345678"))

    assert not failed.value.retryable
    assert failed.value.status == 400
    assert failed.value.reason == "Twilio HTTP 400: 21211 Invalid 'To' Phone Number: 0812345678"


async def test_an_unsubscribed_recipient_is_refused_for_good(
    twilio: FakeTwilio, channel: TwilioSms
) -> None:
    twilio.unsubscribed.add("+66812345678")

    with pytest.raises(SendFailed) as failed:
        await channel.send(sms())

    assert not failed.value.retryable
    assert "21610 Attempt to send to unsubscribed recipient" in failed.value.reason
    assert twilio.delivered == []


async def test_too_many_requests_is_retried_after_retry_after(
    twilio: FakeTwilio, channel: TwilioSms
) -> None:
    twilio.script(
        429,
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "3"},
    )

    with pytest.raises(SendFailed) as failed:
        await channel.send(sms())

    assert failed.value.retryable
    assert failed.value.retry_after_s == 3
    assert failed.value.reason == "Twilio HTTP 429: 20429 Too Many Requests"
    assert (await channel.send(sms())).provider_message_id


async def test_a_server_error_is_retried(twilio: FakeTwilio, channel: TwilioSms) -> None:
    twilio.script(503, {"code": 20503, "message": "Service Unavailable", "status": 503})

    with pytest.raises(SendFailed) as failed:
        await channel.send(sms())

    assert failed.value.retryable
    assert failed.value.retry_after_s is None


async def test_a_wrong_auth_token_says_credentials_rejected_and_never_shows_it(
    twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = TwilioConfig(
        account_sid=SID, auth_token="stale-token-Lp09", from_number=SENDER, base_url=twilio.url
    )
    adapter = TwilioSms(config)
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(sms())
    finally:
        await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.status == 401
    assert failed.value.reason == (
        "Twilio rejected the credentials: check the Twilio account_sid and auth_token "
        "(20003 Authenticate)"
    )
    shown = [failed.value.reason, repr(failed.value), repr(config), str(config), caplog.text]
    assert not any("stale-token-Lp09" in text for text in shown)
