import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.fakes.providers import FakeWebhookReceiver

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.changes.delivery import verify_signature
from c360.connectors.channels import WebhookChannel, WebhookConfig

pytestmark = pytest.mark.anyio

SECRET = "whsec-signing-Tq93"

_recordings: list[list[Any]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        for recording in _recordings:
            recording.append(args[1])


sys.addaudithook(_audit)


@contextmanager
def connections() -> Iterator[list[Any]]:
    """The addresses sockets connect to meanwhile (in any thread)."""
    recording: list[Any] = []
    _recordings.append(recording)
    try:
        yield recording
    finally:
        _recordings.remove(recording)


def hook(url: str, key: str = "j5:s3:p8") -> Message:
    return Message(
        idempotency_key=key,
        channel=ChannelName.WEBHOOK,
        to=url,
        subject="Đơn hàng mới",
        body="Khách hàng Nguyễn Thị Lan vừa đặt đơn #A-1024",
        metadata={"order": "A-1024"},
    )


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


@pytest.fixture
async def channel(receiver: FakeWebhookReceiver) -> AsyncIterator[WebhookChannel]:
    adapter = WebhookChannel(
        WebhookConfig(signing_secret=SECRET, allowed_hosts=f"127.0.0.1:{receiver.port}")
    )
    yield adapter
    await adapter.aclose()


async def test_a_signed_message_reaches_the_receiver(
    receiver: FakeWebhookReceiver, channel: WebhookChannel
) -> None:
    result = await channel.send(hook(f"{receiver.url}/hooks/orders?src=c360"))

    [request] = receiver.delivered
    assert request.path == "/hooks/orders?src=c360"
    assert request.json() == {
        "idempotency_key": "j5:s3:p8",
        "subject": "Đơn hàng mới",
        "body": "Khách hàng Nguyễn Thị Lan vừa đặt đơn #A-1024",
        "html": None,
        "metadata": {"order": "A-1024"},
    }
    headers = request.headers
    assert verify_signature(
        SECRET, headers["X-C360-Timestamp"], request.body, headers["X-C360-Signature"]
    )
    assert headers["Idempotency-Key"] == "j5:s3:p8"
    assert result.provider_message_id == headers["X-C360-Delivery"]
    assert uuid.UUID(headers["X-C360-Delivery"])


async def test_a_retry_carries_the_same_keys(
    receiver: FakeWebhookReceiver, channel: WebhookChannel
) -> None:
    receiver.script(503, headers={"Retry-After": "5"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(hook(f"{receiver.url}/hooks"))
    assert failed.value.retryable
    assert failed.value.retry_after_s == 5
    await channel.send(hook(f"{receiver.url}/hooks"))

    first, retry = receiver.received
    for name in ("Idempotency-Key", "X-C360-Delivery"):
        assert first.headers[name] == retry.headers[name]
    assert len(receiver.delivered) == 1


@pytest.mark.parametrize("status", [408, 429, 500])
async def test_busy_receivers_are_retried(
    receiver: FakeWebhookReceiver, channel: WebhookChannel, status: int
) -> None:
    receiver.script(status)

    with pytest.raises(SendFailed) as failed:
        await channel.send(hook(f"{receiver.url}/hooks"))

    assert failed.value.retryable
    assert failed.value.reason == f"webhook HTTP {status}"


async def test_a_receiver_refusing_the_message_is_final(
    receiver: FakeWebhookReceiver, channel: WebhookChannel
) -> None:
    receiver.script(422, {"error": "unknown order"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(hook(f"{receiver.url}/hooks"))

    assert not failed.value.retryable
    assert failed.value.reason == "webhook HTTP 422: the receiver refused it"


async def test_redirects_are_not_followed(
    receiver: FakeWebhookReceiver, channel: WebhookChannel
) -> None:
    receiver.script(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with pytest.raises(SendFailed) as failed:
        await channel.send(hook(f"{receiver.url}/hooks"))

    assert failed.value.reason == "webhook HTTP 302 (redirects are not followed)"
    assert len(receiver.received) == 1


async def test_a_receiver_with_another_secret_points_at_the_signing_secret(
    receiver: FakeWebhookReceiver,
) -> None:
    config = WebhookConfig(
        signing_secret="other-secret-Mz20", allowed_hosts=f"127.0.0.1:{receiver.port}"
    )
    adapter = WebhookChannel(config)
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(hook(f"{receiver.url}/hooks"))
    finally:
        await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.reason == (
        "webhook rejected the credentials: check the webhook signing_secret "
        "(the receiver refused it)"
    )
    assert "other-secret-Mz20" not in repr(config) + str(failed.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.7/hooks", "10.0.0.7 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://localhost:8080/hooks", "localhost is a loopback or cloud metadata name"),
        ("https://[::ffff:192.168.1.5]/hooks", "::ffff:192.168.1.5 is a private address"),
    ],
)
async def test_internal_addresses_are_blocked_before_connecting(
    channel: WebhookChannel, url: str, reason: str
) -> None:
    with connections() as connected, pytest.raises(SendFailed) as failed:
        await channel.send(hook(url))

    assert not failed.value.retryable
    assert failed.value.reason.startswith(f"webhook blocked: {reason}")
    assert connected == []


async def test_a_loopback_receiver_not_allowed_is_blocked(
    receiver: FakeWebhookReceiver,
) -> None:
    adapter = WebhookChannel(WebhookConfig(signing_secret=SECRET))
    try:
        with connections() as connected, pytest.raises(SendFailed) as failed:
            await adapter.send(hook(f"{receiver.url}/hooks"))
    finally:
        await adapter.aclose()

    assert failed.value.reason == "webhook blocked: 127.0.0.1 is a loopback address"
    assert connected == []
    assert receiver.received == []


async def test_a_name_resolving_to_a_private_address_is_blocked(
    channel: WebhookChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver("192.168.10.20"))

    with connections() as connected, pytest.raises(SendFailed) as failed:
        await channel.send(hook("https://hooks.example.vn/orders"))

    assert failed.value.reason == (
        "webhook blocked: hooks.example.vn resolves to 192.168.10.20, a private address"
    )
    assert connected == []


async def test_a_name_that_does_not_resolve_is_retried(
    channel: WebhookChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_address(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_address)

    with pytest.raises(SendFailed) as failed:
        await channel.send(hook("https://gone.example.vn/orders"))

    assert failed.value.retryable
    assert failed.value.reason == "webhook: host gone.example.vn does not resolve"


async def test_a_name_connects_to_the_address_checked_and_keeps_its_host_header(
    receiver: FakeWebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolver("127.0.0.1"))
    adapter = WebhookChannel(WebhookConfig(signing_secret=SECRET, allowed_hosts="hooks.internal"))
    try:
        with connections() as connected:
            await adapter.send(hook(f"http://hooks.internal:{receiver.port}/orders"))
    finally:
        await adapter.aclose()

    assert receiver.delivered[0].headers["Host"] == f"hooks.internal:{receiver.port}"
    assert connected == [("127.0.0.1", receiver.port)]


async def test_a_url_that_is_not_http_is_final_and_not_repeated(channel: WebhookChannel) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(hook("ftp://files.example.com/drop?token=s3cr3t"))

    assert not failed.value.retryable
    assert "s3cr3t" not in failed.value.reason


def _resolver(address: str) -> Any:
    def getaddrinfo(host: str, port: int, *_: Any, **__: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo
