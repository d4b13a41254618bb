"""Feedback that customers email to the brand's mailbox, into the event log.

Mail is read from ``.eml`` files or an IMAP folder and each mail becomes two tracked messages on
a source, like any SDK would send them: an ``identify`` naming the sender (one per sender: its
message id is the address, so the log keeps the first) and a ``Feedback Submitted`` track event
holding what the customer wrote, without the quoted history and the signature. Identity then
links the sender's address to the person other sources know, and feedback analysis reads the
events from the log.

Mail is messy: headers encoded in RFC 2047 in Thai and Vietnamese charsets, labels naming
charsets Python does not know (``windows-874``), 8-bit headers, bodies in no declared charset.
Everything decodes with replacement characters rather than failing; a mail without a sender
address cannot be filed under anyone and goes to the quarantine with its raw bytes.

Nothing here logs a body, an address or a password: counts only.
"""

import codecs
import email.errors
import email.header
import email.utils
import hashlib
import logging
import re
import socket
import ssl as ssl_module
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any

import charset_normalizer
import orjson
from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import (  # type: ignore[import-untyped]
    IMAPClientAbortError,
    LoginError,
)
from sqlalchemy import Connection, Engine, select

from c360.errors import C360Error, InvalidInput, UpstreamError
from c360.eventlog.model import LogRow, RejectRow
from c360.eventlog.service import append, ensure_source
from c360.kernel.clock import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, isoformat_us, system_clock, to_us
from c360.privacy.suppression import screen_events
from c360.storage.dialect import upsert_many
from c360.storage.tables import event_log, import_cursors, rejects

log = logging.getLogger(__name__)

FEEDBACK_EVENT = "Feedback Submitted"
UNREADABLE_MAIL = "unreadable_mail"
BATCH_SIZE = 200
"""Mails per transaction: a crash loses at most one batch's work, never stores half a mail."""
_FETCH_SIZE = 50
"""UIDs per IMAP FETCH: bounded memory on a mailbox holding years of mail."""
_CURSOR_COLUMN = "uid"
_MAX_MESSAGE_ID_CHARS = 250


@dataclass(frozen=True, slots=True)
class RawMail:
    """One mail as read: its IMAP UID (None from a file), raw bytes, and where it was read."""

    uid: int | None
    data: bytes
    location: str


@dataclass(frozen=True, slots=True)
class MailImport:
    """What an import did: every mail read is accepted, a duplicate or quarantined."""

    read: int = 0
    accepted: int = 0
    """New ``Feedback Submitted`` events stored."""
    duplicates: int = 0
    """Mails whose event the source already had (read before, or twice in one run)."""
    quarantined: int = 0
    """Unreadable mails (each kept in the quarantine once, however often it is read)."""
    last_uid: int | None = None
    """The highest IMAP UID read (None for files)."""


class UnreadableMail(InvalidInput):
    """A mail that cannot become feedback (no sender address)."""

    def __init__(self, message: str, reason: str = UNREADABLE_MAIL) -> None:
        super().__init__(message)
        self.reason = reason


class MailboxLoginFailed(UpstreamError):
    """The IMAP server refused the user name and password."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# --- reading mail ----------------------------------------------------------------------------


def read_eml(paths: Iterable[Path]) -> Iterator[RawMail]:
    """The mails in ``.eml`` files; a directory stands for its ``*.eml`` files, sorted."""
    for path in paths:
        files = sorted(p for p in path.glob("*.eml") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise InvalidInput(
                    f"cannot read mail file {file}: {exc.strerror or type(exc).__name__}"
                ) from None
            yield RawMail(None, data, str(file))


def read_imap(
    host: str,
    port: int,
    username: str,
    password: str,
    folder: str = "INBOX",
    *,
    ssl: bool = True,
    after_uid: int = 0,
    timeout_s: float = 30,
) -> Iterator[RawMail]:
    """The mails of an IMAP folder with a UID above ``after_uid``, oldest first.

    The folder is opened read-only and bodies are fetched with ``BODY.PEEK``, so reading
    feedback marks nothing as seen in the brand's mailbox."""
    with _ImapFolder(host, port, username, password, folder, ssl=ssl, timeout_s=timeout_s) as box:
        yield from box.mails(after_uid)


class _ImapFolder:
    """A logged-in, read-only IMAP folder; library errors become c360 errors."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        folder: str,
        *,
        ssl: bool,
        timeout_s: float,
    ) -> None:
        self._host, self._port, self._username = host, port, username
        self._password, self._folder = password, folder
        self._ssl, self._timeout_s = ssl, timeout_s
        self._client: Any = None
        self.uidvalidity: int | None = None

    @property
    def where(self) -> str:
        return f"IMAP folder {self._folder!r} of {self._username!r} at {self._host}:{self._port}"

    def __enter__(self) -> "_ImapFolder":
        try:
            self._client = IMAPClient(
                self._host, port=self._port, ssl=self._ssl, timeout=self._timeout_s
            )
            self._client.login(self._username, self._password)
            selected = self._client.select_folder(self._folder, readonly=True)
        except Exception as exc:
            self._close()
            raise self._error(exc, "opening") from None
        value = selected.get(b"UIDVALIDITY")
        self.uidvalidity = int(value) if value is not None else None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    def mails(self, after_uid: int) -> Iterator[RawMail]:
        try:
            found = self._client.search(["UID", f"{after_uid + 1}:*"])
        except Exception as exc:
            raise self._error(exc, "searching") from None
        # "N:*" always matches the newest mail, even when its UID is below N
        uids = sorted(int(uid) for uid in found if int(uid) > after_uid)
        for start in range(0, len(uids), _FETCH_SIZE):
            chunk = uids[start : start + _FETCH_SIZE]
            try:
                fetched = self._client.fetch(chunk, ["BODY.PEEK[]"])
            except Exception as exc:
                raise self._error(exc, "fetching mail from") from None
            for uid in chunk:
                item = fetched.get(uid)
                data = item.get(b"BODY[]") if item is not None else None
                if data is None:  # expunged between SEARCH and FETCH
                    continue
                yield RawMail(
                    uid,
                    bytes(data),
                    f"imap://{self._username}@{self._host}/{self._folder};UID={uid}",
                )

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the session is over either way
            try:
                client.shutdown()
            except Exception:
                log.debug("closing the IMAP connection failed")

    def _error(self, exc: Exception, doing: str) -> C360Error:
        said = self._scrub(str(exc))
        if isinstance(exc, LoginError):
            return MailboxLoginFailed(
                f"the IMAP server refused the login to {self.where} ({said}): check the user "
                "name and password"
            )
        if isinstance(exc, socket.timeout | TimeoutError):
            return UpstreamError(
                f"{doing} {self.where} timed out after {self._timeout_s}s", retryable=True
            )
        if isinstance(exc, ssl_module.SSLError):
            return UpstreamError(
                f"TLS with {self._host}:{self._port} failed ({type(exc).__name__}: {said}): "
                "does the server speak IMAP over TLS on this port? (ssl=False for plain IMAP)",
                retryable=False,
            )
        if isinstance(exc, IMAPClientAbortError):
            return UpstreamError(
                f"{doing} {self.where} failed: the connection broke ({said}); run the import "
                "again to go on from the last mail stored",
                retryable=True,
            )
        if isinstance(exc, OSError):
            return UpstreamError(
                f"cannot reach {self._host}:{self._port} for {self.where} "
                f"({type(exc).__name__}: {said})",
                retryable=True,
            )
        return UpstreamError(
            f"{doing} {self.where} failed ({type(exc).__name__}: {said})", retryable=False
        )

    def _scrub(self, text: str) -> str:
        """Server replies are quoted in errors; make sure none echoes the password."""
        text = text.removeprefix("b'").removesuffix("'")
        return text.replace(self._password, "***") if self._password else text


# --- one mail, two messages ------------------------------------------------------------------


def mail_messages(raw: RawMail, received_at_us: int) -> list[dict[str, Any]]:
    """The ``identify`` of the sender and the ``Feedback Submitted`` track of one mail."""
    try:
        return _messages(raw, received_at_us)
    except UnreadableMail:
        raise
    except Exception as exc:  # a parser bug on hostile input must not stop the import
        raise UnreadableMail(
            f"{raw.location}: the mail could not be parsed ({type(exc).__name__}); it is kept "
            "in the quarantine with its raw bytes"
        ) from None


def _messages(raw: RawMail, received_at_us: int) -> list[dict[str, Any]]:
    mail = BytesParser(policy=default_policy).parsebytes(raw.data)
    headers = _raw_headers(mail)
    senders = _addresses(headers.get("from"))
    if not senders:
        raise UnreadableMail(
            f"{raw.location}: the mail has no From address, so it cannot be filed under a "
            "person; forward it again with its original sender"
        )
    name, sender = senders[0]
    key = sender.lower()
    at_us = _mail_time(headers.get("date"), received_at_us)
    timestamp = isoformat_us(at_us)
    anonymous_id = f"email:{key}"
    traits: dict[str, Any] = {"email": sender}
    if name:
        traits["name"] = name
    body_part = mail.get_body(preferencelist=("plain", "html"))
    properties = {
        "channel": "email",
        "subject": _header_text(headers["subject"]) if "subject" in headers else None,
        "text": _body_text(body_part),
        "from": sender,
        "to": [address for _, address in _addresses(headers.get("to"))],
        "in_reply_to": _message_id_value(headers.get("in-reply-to")),
        "attachments": _attachment_names(mail, body_part),
        "language_hint": _plain(headers.get("content-language", "")).strip() or None,
    }
    message_id = _message_id_value(headers.get("message-id"))
    if message_id is None:
        message_id = "sha256:" + hashlib.sha256(raw.data).hexdigest()
    return [
        {
            "type": "identify",
            "messageId": f"mail-id:{key}",
            "anonymousId": anonymous_id,
            "traits": traits,
            "timestamp": timestamp,
        },
        {
            "type": "track",
            "event": FEEDBACK_EVENT,
            "messageId": f"mail:{message_id}",
            "anonymousId": anonymous_id,
            "timestamp": timestamp,
            "properties": properties,
        },
    ]


def _raw_headers(mail: Message) -> dict[str, str]:
    """The first value of each top-level header as sent, unfolded (lower-case names).

    Read raw rather than through the policy's header objects: those give up on charsets
    Python does not know and on 8-bit bytes; ``_header_text`` decodes them leniently."""
    found: dict[str, str] = {}
    for name, value in mail.raw_items():
        key = name.lower()
        if key not in found:
            found[key] = str(value).replace("\r", "").replace("\n", "")
    return found


def _addresses(raw: str | None) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox in an address header."""
    if not raw:
        return []
    out = []
    for name, address in email.utils.getaddresses([raw]):
        address = _plain(address).strip()
        if "@" in address and len(address) <= 254 and address.isprintable() and " " not in address:
            out.append((_header_text(name).strip(), address))
    return out


def _message_id_value(raw: str | None) -> str | None:
    """A Message-ID (or In-Reply-To) without angle brackets and folding whitespace."""
    if raw is None:
        return None
    value = "".join(ch for ch in _plain(raw) if ch.isprintable() and not ch.isspace())
    first = value.split("><")[0] if value.startswith("<") else value
    first = first.strip("<>")
    if len(first) > _MAX_MESSAGE_ID_CHARS:  # a key, not a payload: keep the index small
        return "sha256:" + hashlib.sha256(first.encode("utf-8", "replace")).hexdigest()
    return first or None


def _mail_time(raw: str | None, received_at_us: int) -> int:
    """The Date header in epoch microseconds; the time received when missing or unusable."""
    if not raw:
        return received_at_us
    try:
        moment = email.utils.parsedate_to_datetime(_plain(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return received_at_us
    if moment.tzinfo is None:  # "-0000": the zone is unknown, RFC 5322 says treat as UTC
        moment = moment.replace(tzinfo=UTC)
    at_us = to_us(moment.astimezone(UTC))
    return at_us if MIN_TIMESTAMP_US <= at_us <= MAX_TIMESTAMP_US else received_at_us


def _attachment_names(mail: EmailMessage, body_part: Message | None) -> list[str]:
    names = []
    for part in mail.walk():
        if part.is_multipart() or part is body_part:
            continue
        try:
            filename = part.get_filename()
        except Exception:  # a malformed parameter: the name is lost, not the mail
            filename = None
        if filename:
            names.append(_header_text(str(filename)))
    return names


# --- decoding text ---------------------------------------------------------------------------

_CHARSET_ALIASES = {
    # Thai mail labelled TIS-620 or ISO-8859-11 is usually Windows-874, a superset.
    "tis-620": "cp874",
    "tis620": "cp874",
    "iso-8859-11": "cp874",
    "iso8859-11": "cp874",
    "windows-874": "cp874",
    "x-windows-874": "cp874",
    "ms874": "cp874",
    # As browsers do (WHATWG): Latin-1 labels mean Windows-1252, ASCII often hides UTF-8.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "x-cp1258": "cp1258",
}
_GUESSES = ["utf_8", "cp874", "cp1258", "cp1252"]


def _codec(charset: str | None) -> str | None:
    """The Python codec for a charset label, or None for a missing or unknown one."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def _decode(data: bytes, charset: str | None) -> str:
    """Text of bytes in a declared charset, or in a guessed one when the label is missing or
    unknown; undecodable bytes become U+FFFD."""
    codec = _codec(charset)
    if codec is not None:
        return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    damaged = data.decode("utf-8", "replace")
    bad = damaged.count("\ufffd")
    if sum(1 for ch in damaged if ch > "\x7f" and ch != "\ufffd") >= 3 * bad:
        return damaged  # mostly valid UTF-8: cut or damaged, not another charset
    # Guessing among every charset makes CJK of four Latin bytes; these are what mail to a
    # brand in Thailand or Vietnam comes in when it does not say.
    best = charset_normalizer.from_bytes(data, cp_isolation=_GUESSES).best()
    return str(best) if best is not None else damaged


def _plain(text: str) -> str:
    """Header text as Python holds it (8-bit bytes as surrogates) made printable."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return _decode(text.encode("utf-8", "surrogateescape"), None)


def _header_text(raw: str) -> str:
    """A header value with RFC 2047 encoded words decoded, in NFC (Windows-1258 writes
    Vietnamese tones as combining marks)."""
    try:
        pieces = email.header.decode_header(raw)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        pieces = [(raw, None)]
    out = []
    for value, charset in pieces:
        if isinstance(value, str):
            out.append(_plain(value))
        else:
            out.append(_decode(value, charset))
    return _clean("".join(out))


def _clean(text: str) -> str:
    """NFC, with no lone surrogates left (they cannot be stored as JSON)."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return unicodedata.normalize("NFC", text)


def _body_text(part: Message | None) -> str:
    """What the customer wrote: the text part (or the HTML one as text), without quoted
    history and signature."""
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text = _decode(data, part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_text(text)
    return own_words(_clean(text.replace("\r\n", "\n").replace("\r", "\n")))


class _HtmlText(HTMLParser):
    """Visible text of HTML; quoted mail (``blockquote``), scripts and styles left out."""

    _SKIP = frozenset({"script", "style", "head", "title", "blockquote", "template"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "table",
            "ul",
            "ol",
            "hr",
            "pre",
            "section",
            "article",
            "header",
            "footer",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Text of an HTML mail body, a line per block, spaces collapsed as a browser would."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    # Source line breaks are spaces in HTML; the block tags added the real line breaks.
    flat = "".join(p if p == "\n" else p.replace("\n", " ") for p in parser.parts)
    return "\n".join(" ".join(line.split()) for line in flat.split("\n"))


# "On <date>, <name> wrote:" in English, Thai and Vietnamese (Gmail, Apple Mail, Outlook).
_REPLY_HEADER = re.compile(
    r"^(?:On\s.*\swrote:|เมื่อ.*เขียนว่า\s*:|Vào\s.*đã\s+viết\s*:)$",
    re.IGNORECASE | re.DOTALL,
)
_REPLY_HEADER_START = re.compile(r"^(?:On|เมื่อ|Vào)\s", re.IGNORECASE)
_FORWARDED_HISTORY = ("-----original message-----", "----- original message -----")


def own_words(text: str) -> str:
    """Plain text without quoted reply history (``>`` lines and the line introducing them,
    an Outlook original message) and without a ``-- `` signature."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if line.rstrip() == "--" or stripped.lower() in _FORWARDED_HISTORY:
            break  # a signature, or Outlook's quoted original: nothing of theirs follows
        if stripped.startswith(">"):
            index += 1
            continue
        if _REPLY_HEADER.match(stripped):
            index += 1
            continue
        # a reply header wrapped onto two lines by the sender's mail program
        if (
            _REPLY_HEADER_START.match(stripped)
            and index + 1 < len(lines)
            and _REPLY_HEADER.match(f"{stripped} {lines[index + 1].strip()}")
            and (index + 2 >= len(lines) or lines[index + 2].strip().startswith(">"))
        ):
            index += 2
            continue
        kept.append(line.rstrip())
        index += 1
    out: list[str] = []
    for line in kept:  # at most one blank line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# --- importing -------------------------------------------------------------------------------

Progress = Callable[[MailImport], None]
_AfterBatch = Callable[[Connection, int, int | None], None]


def import_mail(
    engine: Engine, source: str, mails: Iterable[RawMail], *, progress: Progress | None = None
) -> MailImport:
    """Append each mail's messages to the log of ``source`` (a mail already stored is stored
    once), quarantining unreadable mail; ``progress`` is told the totals after each batch."""
    return _import(engine, source, mails, progress, None)


def _import(
    engine: Engine,
    source: str,
    mails: Iterable[RawMail],
    progress: Progress | None,
    after_batch: _AfterBatch | None,
) -> MailImport:
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
    totals = MailImport()
    batch: list[RawMail] = []
    for mail in mails:
        batch.append(mail)
        if len(batch) >= BATCH_SIZE:
            totals = _store_batch(engine, source_id, batch, totals, after_batch)
            batch = []
            if progress is not None:
                progress(totals)
    if batch:
        totals = _store_batch(engine, source_id, batch, totals, after_batch)
        if progress is not None:
            progress(totals)
    log.info(
        "mail import into %s: %d read, %d accepted, %d duplicates, %d quarantined",
        source,
        totals.read,
        totals.accepted,
        totals.duplicates,
        totals.quarantined,
    )
    return totals


def _store_batch(
    engine: Engine,
    source_id: int,
    batch: Sequence[RawMail],
    totals: MailImport,
    after_batch: _AfterBatch | None,
) -> MailImport:
    now = system_clock()
    parsed: list[tuple[RawMail, list[dict[str, Any]]]] = []
    unreadable: list[tuple[RawMail, UnreadableMail]] = []
    for mail in batch:
        try:
            parsed.append((mail, mail_messages(mail, now)))
        except UnreadableMail as exc:
            unreadable.append((mail, exc))
    uids = [m.uid for m in batch if m.uid is not None]
    last_uid = max(
        [*uids, *([totals.last_uid] if totals.last_uid is not None else [])], default=None
    )
    with engine.begin() as conn:
        wanted = [str(b["messageId"]) for _, bodies in parsed for b in bodies]
        stored = _stored_message_ids(conn, source_id, wanted)
        rows: list[LogRow] = []
        accepted = duplicates = 0
        for _mail, bodies in parsed:
            for body in bodies:
                message_id = str(body["messageId"])
                is_new = message_id not in stored
                if body["type"] == "track":
                    accepted += is_new
                    duplicates += not is_new
                if is_new:
                    stored.add(message_id)
                    rows.append(_log_row(source_id, body, now))
        # mail from an erased person is counted, not stored (c360.privacy.suppression)
        append(conn, *screen_events(conn, rows, _new_rejects(conn, source_id, unreadable, now)))
        if after_batch is not None:
            after_batch(conn, source_id, last_uid)
    return replace(
        totals,
        read=totals.read + len(batch),
        accepted=totals.accepted + accepted,
        duplicates=totals.duplicates + duplicates,
        quarantined=totals.quarantined + len(unreadable),
        last_uid=last_uid,
    )


def _log_row(source_id: int, body: dict[str, Any], now_us: int) -> LogRow:
    at_us = to_us(datetime.fromisoformat(str(body["timestamp"])))
    return {
        "source_id": source_id,
        "message_id": str(body["messageId"]),
        "type": str(body["type"]),
        "received_at_us": now_us,
        "sent_at_us": None,
        "original_timestamp_us": at_us,
        "timestamp_us": at_us,
        "payload": orjson.dumps(body).decode(),
    }


def _stored_message_ids(conn: Connection, source_id: int, message_ids: list[str]) -> set[str]:
    unique = list(dict.fromkeys(message_ids))
    if not unique:
        return set()
    found = conn.execute(
        select(event_log.c.message_id).where(
            event_log.c.source_id == source_id, event_log.c.message_id.in_(unique)
        )
    )
    return set(found.scalars())


def _new_rejects(
    conn: Connection,
    source_id: int,
    unreadable: list[tuple[RawMail, UnreadableMail]],
    now_us: int,
) -> list[RejectRow]:
    """Quarantine rows for unreadable mails not already waiting in the quarantine (the same
    bytes read again are the same problem, not a new one)."""
    if not unreadable:
        return []
    keyed = {
        "mail:sha256:" + hashlib.sha256(mail.data).hexdigest(): (mail, exc)
        for mail, exc in unreadable
    }
    waiting = set(
        conn.execute(
            select(rejects.c.message_id).where(
                rejects.c.source_id == source_id,
                rejects.c.reason == UNREADABLE_MAIL,
                rejects.c.resolved_at_us.is_(None),
                rejects.c.message_id.in_(list(keyed)),
            )
        ).scalars()
    )
    return [
        RejectRow(
            source_id=source_id,
            received_at_us=now_us,
            reason=exc.reason,
            detail=str(exc),
            message_id=key,
            payload=mail.data,
            stage="import",
            origin=mail.location,
        )
        for key, (mail, exc) in keyed.items()
        if key not in waiting
    ]


def import_imap(
    engine: Engine,
    source: str,
    host: str,
    port: int,
    username: str,
    password: str,
    folder: str = "INBOX",
    ssl: bool = True,
    *,
    timeout_s: float = 30,
    progress: Progress | None = None,
) -> MailImport:
    """Import the mail of an IMAP folder that arrived since the last run of this source.

    The last UID read is kept per (source, ``imap://user@host/folder``) with the folder's
    UIDVALIDITY, in each batch's transaction; when the server renumbers the folder (a new
    UIDVALIDITY) the import starts again from the first mail: the stable message ids keep
    what was stored from being stored twice."""
    location = f"imap://{username}@{host}/{folder}"
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
        cursor = _read_cursor(conn, source_id, location)
    with _ImapFolder(host, port, username, password, folder, ssl=ssl, timeout_s=timeout_s) as box:
        after_uid = 0
        if cursor is not None and cursor.get("uidvalidity") == box.uidvalidity:
            after_uid = int(cursor.get("uid") or 0)

        def remember(conn: Connection, source_id: int, last_uid: int | None) -> None:
            if last_uid is None:
                return
            value = {"uidvalidity": box.uidvalidity, "uid": last_uid}
            upsert_many(
                conn,
                import_cursors,
                [
                    {
                        "source_id": source_id,
                        "location": location,
                        "column_name": _CURSOR_COLUMN,
                        "value": orjson.dumps(value).decode(),
                        "updated_at_us": system_clock(),
                    }
                ],
            )

        return _import(engine, source, box.mails(after_uid), progress, remember)


def _read_cursor(conn: Connection, source_id: int, location: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(import_cursors.c.value).where(
            import_cursors.c.source_id == source_id,
            import_cursors.c.location == location,
            import_cursors.c.column_name == _CURSOR_COLUMN,
        )
    ).first()
    if row is None:
        return None
    try:
        value = orjson.loads(row[0])
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


__all__ = [
    "FEEDBACK_EVENT",
    "UNREADABLE_MAIL",
    "MailImport",
    "MailboxLoginFailed",
    "RawMail",
    "UnreadableMail",
    "html_text",
    "import_imap",
    "import_mail",
    "mail_messages",
    "own_words",
    "read_eml",
    "read_imap",
]
