from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.providers import FakeFcm

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.connectors.channels import FcmPush, PushConfig

pytestmark = pytest.mark.anyio

PROJECT = "c360-demo-5ae1"
TOKEN = "ya29.fcm-access-token-Pq7"
DEVICE = "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1"


def notification(to: str = DEVICE, metadata: dict[str, str] | None = None) -> Message:
    return Message(
        idempotency_key="j4:s1:p2",
        channel=ChannelName.PUSH,
        to=to,
        subject="ลดราคา 20%",
        body="เฉพาะวันนี้ที่สาขาสยาม",
        metadata=metadata or {},
    )


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm(PROJECT, TOKEN) as fake:
        yield fake


@pytest.fixture
async def channel(fcm: FakeFcm) -> AsyncIterator[FcmPush]:
    adapter = FcmPush(PushConfig(project_id=PROJECT, access_token=TOKEN, base_url=fcm.url))
    yield adapter
    await adapter.aclose()


async def test_the_notification_is_sent_as_fcm_v1_documents(fcm: FakeFcm, channel: FcmPush) -> None:
    result = await channel.send(notification(metadata={"deep_link": "c360://offers/20"}))

    [request] = fcm.delivered
    assert request.path == f"/v1/projects/{PROJECT}/messages:send"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "message": {
            "token": DEVICE,
            "notification": {"title": "ลดราคา 20%", "body": "เฉพาะวันนี้ที่สาขาสยาม"},
            "data": {"deep_link": "c360://offers/20"},
        }
    }
    assert result.provider_message_id == (
        f"projects/{PROJECT}/messages/0:1500415314455276%31bd1c9631bd1c96"
    )


async def test_no_metadata_sends_no_data(fcm: FakeFcm, channel: FcmPush) -> None:
    await channel.send(notification())

    assert "data" not in fcm.delivered[0].json()["message"]


async def test_an_unregistered_device_is_final(fcm: FakeFcm, channel: FcmPush) -> None:
    fcm.unregistered.add(DEVICE)

    with pytest.raises(SendFailed) as failed:
        await channel.send(notification())

    assert not failed.value.retryable
    assert failed.value.status == 404
    assert failed.value.reason == "FCM HTTP 404: UNREGISTERED: Requested entity was not found."


async def test_an_invalid_argument_is_final(channel: FcmPush) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(notification(to=""))

    assert not failed.value.retryable
    assert failed.value.reason == (
        "FCM HTTP 400: INVALID_ARGUMENT: Recipient of the message is not set."
    )


@pytest.mark.parametrize(
    ("status", "code"), [(429, "QUOTA_EXCEEDED"), (503, "UNAVAILABLE"), (500, "INTERNAL")]
)
async def test_quota_and_outages_are_retried_after_retry_after(
    fcm: FakeFcm, channel: FcmPush, status: int, code: str
) -> None:
    fcm.script(
        status,
        FakeFcm.error(status, "RESOURCE_EXHAUSTED", "Try later.", code),
        headers={"Retry-After": "30"},
    )

    with pytest.raises(SendFailed) as failed:
        await channel.send(notification())

    assert failed.value.retryable
    assert failed.value.retry_after_s == 30
    assert failed.value.reason == f"FCM HTTP {status}: {code}: Try later."
    assert (await channel.send(notification())).provider_message_id


async def test_an_expired_access_token_is_credentials_rejected_and_never_shown(
    fcm: FakeFcm,
) -> None:
    config = PushConfig(project_id=PROJECT, access_token="ya29.expired-Kd8", base_url=fcm.url)
    adapter = FcmPush(config)
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(notification())
    finally:
        await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.reason == (
        "FCM rejected the credentials: check the FCM access_token "
        "(UNAUTHENTICATED: Request had invalid authentication credentials.)"
    )
    assert not any("ya29.expired-Kd8" in text for text in (repr(config), str(failed.value)))
