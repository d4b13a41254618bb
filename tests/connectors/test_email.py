import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.fakes.providers import FakeSmtp

from c360.activation.channels import ChannelName, Message, SendFailed
from c360.connectors.channels import EmailConfig, SmtpEmail

pytestmark = pytest.mark.anyio

SHOP = "shop@somjai.co.th"


def mail(
    to: str = "somchai@example.co.th",
    subject: str = "ยืนยันคำสั่งซื้อ #1024 ของคุณสมชาย",
    body: str = "ขอบคุณที่สั่งซื้อกับร้านสมใจค่ะ",
    html: str | None = "<p>ขอบคุณที่สั่งซื้อกับ<b>ร้านสมใจ</b>ค่ะ</p>",
    key: str = "j6:s1:p3",
    metadata: dict[str, str] | None = None,
) -> Message:
    return Message(
        idempotency_key=key,
        channel=ChannelName.EMAIL,
        to=to,
        subject=subject,
        body=body,
        html=html,
        metadata=metadata or {},
    )


def config(smtp: FakeSmtp, **changes: Any) -> EmailConfig:
    values: dict[str, Any] = {
        "host": smtp.host,
        "port": smtp.port,
        "security": "none",
        "from_address": SHOP,
        "from_name": "ร้านสมใจ",
    }
    return EmailConfig(**(values | changes))


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
async def channel(smtp: FakeSmtp) -> AsyncIterator[SmtpEmail]:
    adapter = SmtpEmail(config(smtp))
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("ยืนยันคำสั่งซื้อ #1024 ของคุณสมชาย", "ขอบคุณที่สั่งซื้อกับร้านสมใจค่ะ"),
        ("Xác nhận đơn hàng #1024 của chị Lan", "Cảm ơn chị Nguyễn Thị Lan đã đặt hàng."),
    ],
)
async def test_thai_and_vietnamese_mail_arrives_intact(
    smtp: FakeSmtp, channel: SmtpEmail, subject: str, body: str
) -> None:
    result = await channel.send(mail(subject=subject, body=body, html=f"<p>{body}</p>"))

    [delivered] = smtp.delivered
    assert delivered.rcpt_tos == ["somchai@example.co.th"]
    assert delivered.mail_from == SHOP
    received = delivered.message
    assert received["Subject"] == subject
    assert received["From"].addresses[0].display_name == "ร้านสมใจ"
    assert received["From"].addresses[0].addr_spec == SHOP
    assert received["To"] == "somchai@example.co.th"
    assert received.get_body(("plain",)).get_content().strip() == body
    assert received.get_body(("html",)).get_content().strip() == f"<p>{body}</p>"
    assert received["Message-ID"] == result.provider_message_id
    head = delivered.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "headers are RFC 2047 encoded, not raw UTF-8"


async def test_text_only_mail_is_a_single_part(smtp: FakeSmtp, channel: SmtpEmail) -> None:
    await channel.send(mail(html=None))

    received = smtp.delivered[0].message
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"


async def test_the_message_id_is_the_same_for_every_try(smtp: FakeSmtp, channel: SmtpEmail) -> None:
    first = await channel.send(mail(key="j6:s1:p3"))
    again = await channel.send(mail(key="j6:s1:p3"))
    other = await channel.send(mail(key="j6:s1:p4"))

    assert first.provider_message_id == again.provider_message_id != other.provider_message_id
    assert str(first.provider_message_id).endswith("@somjai.co.th>")
    assert [m.message["Message-ID"] for m in smtp.delivered] == [
        first.provider_message_id,
        again.provider_message_id,
        other.provider_message_id,
    ]


async def test_an_unsubscribe_url_becomes_list_unsubscribe(smtp: FakeSmtp) -> None:
    adapter = SmtpEmail(config(smtp, one_click_unsubscribe=True))
    try:
        await adapter.send(mail(metadata={"unsubscribe_url": "https://c360.example/u/9f2e"}))
        await adapter.send(mail())
    finally:
        await adapter.aclose()

    with_url, without = (delivered.message for delivered in smtp.delivered)
    assert with_url["List-Unsubscribe"] == "<https://c360.example/u/9f2e>"
    assert with_url["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in without


async def test_an_unknown_mailbox_is_refused_for_good(smtp: FakeSmtp, channel: SmtpEmail) -> None:
    smtp.unknown.add("nobody@example.co.th")

    with pytest.raises(SendFailed) as failed:
        await channel.send(mail(to="nobody@example.co.th"))

    assert not failed.value.retryable
    assert failed.value.reason == (
        "SMTP 550: 5.1.1 <nobody@example.co.th>: Recipient address rejected: User unknown"
    )
    assert smtp.delivered == []


async def test_a_temporary_refusal_is_retried(smtp: FakeSmtp, channel: SmtpEmail) -> None:
    smtp.script("451 4.3.0 Try again later")

    with pytest.raises(SendFailed) as failed:
        await channel.send(mail())
    assert failed.value.retryable
    assert failed.value.reason == "SMTP 451: 4.3.0 Try again later"
    await channel.send(mail())

    assert len(smtp.delivered) == 1


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    with FakeSmtp(idle_timeout_s=0.2) as smtp:
        adapter = SmtpEmail(config(smtp))
        try:
            await adapter.send(mail(key="first"))
            await asyncio.sleep(0.5)
            await adapter.send(mail(key="second"))
        finally:
            await adapter.aclose()

    assert len(smtp.delivered) == 2
    assert smtp.connections == 2


async def test_connections_are_reused(smtp: FakeSmtp, channel: SmtpEmail) -> None:
    for n in range(3):
        await channel.send(mail(key=f"k{n}"))

    assert len(smtp.delivered) == 3
    assert smtp.connections == 1


async def test_a_server_that_does_not_answer_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = SmtpEmail(
        EmailConfig(host="127.0.0.1", port=closed_port, security="none", from_address=SHOP)
    )
    try:
        with pytest.raises(SendFailed) as failed:
            await adapter.send(mail())
    finally:
        await adapter.aclose()

    assert failed.value.retryable
    assert failed.value.reason.startswith("SMTP: could not reach the server")


async def test_a_recipient_that_is_not_an_address_is_final(channel: SmtpEmail) -> None:
    with pytest.raises(SendFailed) as failed:
        await channel.send(mail(to="สมชาย ใจดี"))

    assert not failed.value.retryable
    assert failed.value.reason.startswith("email: cannot build the message")


async def test_login_with_the_configured_account() -> None:
    with FakeSmtp(login=("shop", "app-password-Rk4")) as smtp:
        adapter = SmtpEmail(config(smtp, username="shop", password="app-password-Rk4"))
        try:
            await adapter.send(mail())
        finally:
            await adapter.aclose()

    assert smtp.logins == ["shop"]
    assert len(smtp.delivered) == 1


async def test_a_wrong_password_is_credentials_rejected_and_never_shown() -> None:
    with FakeSmtp(login=("shop", "app-password-Rk4")) as smtp:
        settings = config(smtp, username="shop", password="old-password-Wd7")
        adapter = SmtpEmail(settings)
        try:
            with pytest.raises(SendFailed) as failed:
                await adapter.send(mail())
        finally:
            await adapter.aclose()

    assert not failed.value.retryable
    assert failed.value.reason.startswith(
        "the SMTP server rejected the credentials: check the email username and password (SMTP 535"
    )
    assert "old-password-Wd7" not in repr(settings) + str(failed.value) + repr(adapter)


async def test_starttls_is_used_and_the_certificate_checked(tmp_path: Path) -> None:
    server_tls, ca_file = _self_signed(tmp_path)
    with FakeSmtp(tls_context=server_tls) as smtp:
        adapter = SmtpEmail(config(smtp, security="starttls", ca_file=ca_file))
        try:
            await adapter.send(mail())
        finally:
            await adapter.aclose()

    assert smtp.delivered[0].message["Subject"] == "ยืนยันคำสั่งซื้อ #1024 ของคุณสมชาย"
    assert smtp.tls_sessions == 1


async def test_starttls_refuses_a_server_it_cannot_verify(tmp_path: Path) -> None:
    server_tls, _ = _self_signed(tmp_path)
    with FakeSmtp(tls_context=server_tls) as smtp:
        adapter = SmtpEmail(config(smtp, security="starttls"))
        try:
            with pytest.raises(SendFailed) as failed:
                await adapter.send(mail())
        finally:
            await adapter.aclose()

    assert smtp.delivered == []
    assert failed.value.retryable


def _self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the file of its (self-signed) certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "smtp.pem"
    key_file = directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
