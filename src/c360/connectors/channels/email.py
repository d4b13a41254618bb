"""Email over SMTP (aiosmtplib), through a relay or a provider's SMTP endpoint.

Each message is a MIME message: plain text, with the HTML as an alternative when there is one,
UTF-8 throughout (a Thai or Vietnamese subject is encoded as RFC 2047 words, so it survives
any server), a ``Message-ID`` derived from the idempotency key (the same on every retry, so the
mailbox and bounce handling can tell a retry from a new message) and, when the metadata has an
``unsubscribe_url``, ``List-Unsubscribe`` (with ``List-Unsubscribe-Post`` when the
configuration says that URL takes a one-click POST, RFC 8058).

Connections are kept open and reused, up to ``max_connections`` at once; one the server closed
while idle is replaced and the message sent on the new one. A 4xx reply, a refused or dropped
connection and a timeout are retried; a 5xx reply (550 unknown mailbox, 554 rejected) is final;
535 is "credentials rejected". The provider message id is the ``Message-ID``.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from c360.activation.channels import ChannelName, Message, SendFailed, SendResult
from c360.connectors.channels.config import EmailConfig
from c360.connectors.channels.http import clip, credentials_rejected

MESSAGE_ID_NAMESPACE = uuid.UUID("5f2c8a52-3a9f-4d1e-9c55-0c3600000103")


class SmtpEmail:
    name = ChannelName.EMAIL

    def __init__(self, config: EmailConfig) -> None:
        self._config = config
        self._sender = Address(config.from_name or "", addr_spec=config.from_address)
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(config.max_connections)

    async def send(self, message: Message) -> SendResult:
        mime = self.compose(message)
        async with self._slots:
            await self._transmit(mime, message.to)
        return SendResult(str(mime["Message-ID"]))

    def compose(self, message: Message) -> EmailMessage:
        """The MIME message for ``message``; SendFailed (final) when it cannot be one, such as
        a recipient that is not an address or a subject with a line break."""
        mime = EmailMessage()
        try:
            mime["From"] = self._sender
            mime["To"] = Address(addr_spec=message.to)
            mime["Subject"] = message.subject or ""
            mime["Date"] = format_datetime(datetime.now(UTC))
            key_id = uuid.uuid5(MESSAGE_ID_NAMESPACE, message.idempotency_key)
            mime["Message-ID"] = f"<{key_id}@{self._sender.domain}>"
            unsubscribe = message.metadata.get("unsubscribe_url")
            if unsubscribe:
                mime["List-Unsubscribe"] = f"<{unsubscribe}>"
                if self._config.one_click_unsubscribe:
                    mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            mime.set_content(message.body)
            if message.html:
                mime.add_alternative(message.html, subtype="html")
        except (ValueError, TypeError) as exc:  # HeaderParseError is a ValueError
            raise SendFailed(
                clip(f"email: cannot build the message: {exc}"), retryable=False
            ) from None
        return mime

    async def _transmit(self, mime: EmailMessage, to: str) -> None:
        """Send on an idle connection (or a new one if the server closed it), then keep it."""
        client = self._idle.pop() if self._idle else None
        sent = False
        try:
            if client is not None:
                try:
                    await client.send_message(mime, recipients=[to])
                    sent = True
                except aiosmtplib.SMTPServerDisconnected:
                    client.close()
            if not sent:
                client = self._client()
                await client.connect()
                await client.send_message(mime, recipients=[to])
                sent = True
        except Exception as exc:
            raise _failed(exc) from None
        finally:
            if client is not None and not sent:
                client.close()
        assert client is not None
        self._idle.append(client)

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            cert_bundle=str(config.ca_file) if config.ca_file else None,
            timeout=config.timeout_s,
        )

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


def _failed(exc: Exception) -> SendFailed:
    """The SendFailed for what aiosmtplib raised: by the reply code where there is one."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and exc.code >= 500:
        detail = f"SMTP {exc.code} {exc.message}"
        return credentials_rejected("the SMTP server", "the email username and password", detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailed(clip(f"SMTP {exc.code}: {exc.message}"), retryable=exc.code < 500)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SendFailed(clip(f"SMTP: {exc.message}"), retryable=False)
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        # The type only: connection errors name the host and port, nothing worth storing.
        return SendFailed(
            f"SMTP: could not reach the server ({type(exc).__name__})", retryable=True
        )
    raise exc
