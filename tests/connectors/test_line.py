import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.providers import FakeLine

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.connectors.channels import (
    ChannelsConfig,
    LineChannel,
    LineConfig,
    TwilioConfig,
    TwilioSms,
    build_channels,
)

pytestmark = pytest.mark.anyio

TOKEN = "line-token-Zx81kQ"
SOMCHAI = "U4af4980629f0c2f1d6f5e2f7a7c6f1a2"


def push(
    text: str = "สวัสดีค่ะ คุณสมชาย ยืนยันนัดหมาย", key: str = "j1:s1:p1", to: str = SOMCHAI
) -> Message:
    return Message(idempotency_key=key, channel=ChannelName.LINE, to=to, body=text)


@pytest.fixture
def line() -> Iterator[FakeLine]:
    with FakeLine(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def channel(line: FakeLine) -> AsyncIterator[LineChannel]:
    adapter = LineChannel(LineConfig(channel_access_token=TOKEN, base_url=line.url))
    yield adapter
    await adapter.aclose()


async def test_push_reaches_the_user_with_the_documented_request(
    line: FakeLine, channel: LineChannel
) -> None:
    result = await channel.send(push())

    [request] = line.delivered
    assert request.json() == {
        "to": SOMCHAI,
        "messages": [{"type": "text", "text": "สวัสดีค่ะ คุณสมชาย ยืนยันนัดหมาย"}],
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert uuid.UUID(request.headers["X-Line-Retry-Key"])
    assert result.provider_message_id == line.accepted_keys[request.headers["X-Line-Retry-Key"]]


async def test_a_retry_after_a_lost_answer_is_not_sent_twice(
    line: FakeLine, channel: LineChannel
) -> None:
    line.script(500, {"message": "An error occurred in the server."}, accept=True)

    with pytest.raises(SendFailed) as failed:
        await channel.send(push())
    assert failed.value.retryable and failed.value.status == 500
    result = await channel.send(push())

    assert len(line.delivered) == 1
    first, retry = line.received
    assert first.headers["X-Line-Retry-Key"] == retry.headers["X-Line-Retry-Key"]
    assert result.provider_message_id == line.accepted_keys[first.headers["X-Line-Retry-Key"]]


async def test_each_message_has_its_own_retry_key(line: FakeLine, channel: LineChannel) -> None:
    await channel.send(push(key="j1:s1:p1"))
    await channel.send(push(key="j1:s1:p2"))

    assert len(line.delivered) == 2
    assert len(line.accepted_keys) == 2


async def test_rate_limit_is_retried_not_before_retry_after(
    line: FakeLine, channel: LineChannel
) -> None:
    line.script(429, {"message": "Too Many Requests"}, headers={"Retry-After": "2"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(push())

    assert failed.value.retryable
    assert failed.value.retry_after_s == 2
    assert failed.value.reason == "LINE HTTP 429: Too Many Requests"
    await channel.send(push())
    assert len(line.delivered) == 1


async def test_a_bad_user_id_is_refused_for_good(channel: LineChannel) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(push(to="somchai@example.com"))

    assert not failed.value.retryable
    assert failed.value.status == 400
    assert failed.value.reason == (
        "LINE HTTP 400: The request body has 1 error(s) (to: invalid user id)"
    )


async def test_an_api_the_plan_does_not_allow_is_refused_for_good(
    line: FakeLine, channel: LineChannel
) -> None:
    line.script(403, {"message": "Access to this API is not available for your account"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(push())

    assert not failed.value.retryable
    assert "not available for your account" in failed.value.reason


async def test_a_refused_token_says_so_and_never_shows_it(
    line: FakeLine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = LineConfig(channel_access_token="wrong-token-Qm42", base_url=line.url)
    adapter = LineChannel(config)
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(push())
    finally:
        await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.reason.startswith(
        "LINE rejected the credentials: check the LINE channel_access_token"
    )
    shown = [failed.value.reason, str(failed.value), repr(config), repr(adapter), caplog.text]
    assert not any("wrong-token-Qm42" in text for text in shown)


async def test_a_provider_that_does_not_answer_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = LineChannel(
        LineConfig(channel_access_token=TOKEN, base_url=f"http://127.0.0.1:{closed_port}")
    )
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(push())
    finally:
        await adapter.aclose()

    assert failed.value.retryable
    assert failed.value.reason.startswith("LINE: could not connect")


async def test_only_configured_channels_are_built() -> None:
    channels = build_channels(
        ChannelsConfig(
            line=LineConfig(channel_access_token=TOKEN),
            sms=TwilioConfig(account_sid="AC1", auth_token="t", from_number="+15005550006"),
        )
    )
    try:
        assert set(channels) == {ChannelName.LINE, ChannelName.SMS}
        assert isinstance(channels[ChannelName.LINE], LineChannel)
        assert isinstance(channels[ChannelName.SMS], TwilioSms)
        assert all(channel.name == name for name, channel in channels.items())
    finally:
        for channel in channels.values():
            await channel.aclose()
