from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.providers import FakeZalo

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.connectors.channels import ZaloChannel, ZaloConfig

pytestmark = pytest.mark.anyio

TOKEN = "zalo-oa-token-Vn55"
LAN = "2468458835296117922"


def cs(to: str = LAN, text: str = "Chào chị Lan, đơn hàng #A-1024 đã được giao.") -> Message:
    return Message(idempotency_key="j3:s2:p4", channel=ChannelName.ZALO, to=to, body=text)


@pytest.fixture
def zalo() -> Iterator[FakeZalo]:
    with FakeZalo(TOKEN) as fake:
        fake.followers.add(LAN)
        yield fake


@pytest.fixture
async def channel(zalo: FakeZalo) -> AsyncIterator[ZaloChannel]:
    adapter = ZaloChannel(ZaloConfig(access_token=TOKEN, base_url=zalo.url))
    yield adapter
    await adapter.aclose()


async def test_a_customer_service_message_reaches_the_follower(
    zalo: FakeZalo, channel: ZaloChannel
) -> None:
    result = await channel.send(cs())

    [request] = zalo.delivered
    assert request.path == "/v3.0/oa/message/cs"
    assert request.headers["access_token"] == TOKEN
    assert request.json() == {
        "recipient": {"user_id": LAN},
        "message": {"text": "Chào chị Lan, đơn hàng #A-1024 đã được giao."},
    }
    assert result.provider_message_id and len(result.provider_message_id) == 32


async def test_a_user_outside_the_interaction_window_is_refused_for_good(
    channel: ZaloChannel,
) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(cs(to="1234567890123456789"))

    assert not failed.value.retryable
    assert failed.value.reason == (
        "Zalo error -230 User has not interacted with the OA in the past 7 days"
    )


async def test_an_invalid_user_id_is_refused_for_good(channel: ZaloChannel) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(cs(to="lan@example.vn"))

    assert not failed.value.retryable
    assert "-201" in failed.value.reason


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (-213, "User has not followed OA"),
        (-227, "User is banned or has been inactive for more than 45 days"),
        (-232, "User has not interacted with the OA, or the last interaction has expired"),
    ],
)
async def test_recipients_zalo_will_not_reach_are_final(
    zalo: FakeZalo, channel: ZaloChannel, code: int, message: str
) -> None:
    zalo.script(200, {"error": code, "message": message})

    with pytest.raises(SendFailed) as failed:
        await channel.send(cs())

    assert not failed.value.retryable
    assert failed.value.reason == f"Zalo error {code} {message}"


async def test_the_rate_limit_is_retried_after_the_minute(
    zalo: FakeZalo, channel: ZaloChannel
) -> None:
    zalo.script(200, {"error": -32, "message": "Your OA reached limit call api"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(cs())

    assert failed.value.retryable
    assert failed.value.retry_after_s == 60
    assert (await channel.send(cs())).provider_message_id


@pytest.mark.parametrize(
    ("code", "message"),
    [(-211, "Out of quota"), (-200, "Send message failed")],
)
async def test_quota_and_system_errors_are_retried(
    zalo: FakeZalo, channel: ZaloChannel, code: int, message: str
) -> None:
    zalo.script(200, {"error": code, "message": message})

    with pytest.raises(SendFailed) as failed:
        await channel.send(cs())

    assert failed.value.retryable
    assert failed.value.retry_after_s is None


async def test_a_gateway_error_is_retried(zalo: FakeZalo, channel: ZaloChannel) -> None:
    zalo.script(502, None)

    with pytest.raises(SendFailed) as failed:
        await channel.send(cs())

    assert failed.value.retryable
    assert failed.value.status == 502


async def test_an_invalid_token_is_credentials_rejected_and_never_shown(zalo: FakeZalo) -> None:
    config = ZaloConfig(access_token="expired-token-Hn31", base_url=zalo.url)
    adapter = ZaloChannel(config)
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(cs())
    finally:
        await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.reason == (
        "Zalo rejected the credentials: check the Zalo access_token (-216 Access token is invalid)"
    )
    assert not any("expired-token-Hn31" in text for text in (repr(config), str(failed.value)))
