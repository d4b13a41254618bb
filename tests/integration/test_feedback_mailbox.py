"""Feedback emailed to the brand: .eml files and a real IMAP server (pymap) into the log, and
identity filing the mail under the person other sources know."""

import base64
import quopri
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]
from sqlalchemy import Engine, func, select, update
from tests import factories
from tests.conftest import free_port

from c360.errors import C360Error
from c360.eventlog.service import append, ensure_source, list_quarantine
from c360.feedback.mailbox import (
    FEEDBACK_EVENT,
    MailImport,
    RawMail,
    UnreadableMail,
    import_imap,
    import_mail,
    mail_messages,
    read_eml,
    read_imap,
)
from c360.profiles.service import find_by_identifier, profile_events_page
from c360.storage.tables import event_log, import_cursors
from c360.workers.processor import process_available

RECEIVED_US = 1_795_000_000_000_000  # 2026-11-18T11:06:40Z, when the tests "received" mail

# --- building mail ---------------------------------------------------------------------------


def encoded_word(text: str, charset: str) -> str:
    """RFC 2047 B-encoding of ``text`` in ``charset``."""
    data = cp1258(text) if charset == "windows-1258" else text.encode(charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def cp1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 writes it: a letter with its shape (â, ơ...) and a combining
    tone mark, since the code page has no room for every precomposed letter."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            letter = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (letter + "".join(c for c in parts if c in tones)).encode("cp1258")
    return out


def mail(headers: dict[str, str], body: bytes, content_type: str = "text/plain; charset=utf-8",
         encoding: str = "8bit") -> bytes:  # fmt: skip
    lines = [f"{name}: {value}" for name, value in headers.items()]
    lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    lines += [f"Content-Transfer-Encoding: {encoding}"]
    # UTF-8, not ASCII: mail programs do send raw 8-bit headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


THAI_TEXT = "สินค้ามาถึงช้ากว่ากำหนดสามวัน กล่องบุบด้วยครับ"
VIET_TEXT = "Sản phẩm rất tốt, nhưng giao hàng hơi chậm. Cảm ơn shop!"


def thai_mail(charset: str = "tis-620") -> bytes:
    body = THAI_TEXT + "\r\n\r\nเมื่อ จ. 23 พ.ย. 2569 เวลา 09:00 Brand <care@brand.co.th> เขียนว่า:"
    body += "\r\n> ขอบคุณที่สั่งซื้อสินค้ากับเรา\r\n\r\n-- \r\nสมชาย ใจดี\r\nโทร 081-234-5678\r\n"
    return mail(
        {
            "From": f"{encoded_word('สมชาย ใจดี', 'tis-620')} <Somchai@Shop-Mail.co.th>",
            "To": "Care <care@brand.co.th>",
            "Subject": encoded_word("ร้องเรียน: สินค้าล่าช้า", "tis-620"),
            "Date": "Mon, 23 Nov 2026 10:30:00 +0700",
            "Message-ID": "<th-001@shop-mail.co.th>",
            "In-Reply-To": "<order-778@brand.co.th>",
            "Content-Language": "th",
        },
        body.encode("cp874"),
        f"text/plain; charset={charset}",
    )


def viet_mail(charset: str) -> bytes:
    text = VIET_TEXT + "\n\nVào Th 2, 23 thg 11, 2026 vào lúc 10:00 Brand <care@brand.vn> đã viết:"
    text += "\n> Cảm ơn bạn đã mua hàng\n"
    data = cp1258(text) if charset == "windows-1258" else text.encode("utf-8")
    return mail(
        {
            "From": f"{encoded_word('Nguyễn Văn An', charset)} <an.nguyen@hopthu.vn>",
            "To": f"cskh@brand.vn, {encoded_word('Quản lý', charset)} <quanly@brand.vn>",
            "Subject": encoded_word("Góp ý về dịch vụ giao hàng", charset),
            "Date": "Tue, 24 Nov 2026 08:15:00 +0700",
            "Message-ID": f"<vi-{charset}@hopthu.vn>",
            "Content-Language": "vi",
        },
        quopri.encodestring(data),
        f"text/plain; charset={charset}",
        "quoted-printable",
    )


def html_mail() -> bytes:
    html = (
        "<html><head><title>Feedback</title><style>p {color: red}</style></head><body>"
        "<p>I love the new&nbsp;app &amp; the\n   checkout is <b>much</b> faster.</p>"
        "<div>One request: dark mode, please.<br>Thanks!</div>"
        '<div class="gmail_quote"><div>On Mon, Nov 23, 2026 at 9:00 AM Brand '
        "&lt;care@brand.co&gt; wrote:<br></div><blockquote>Tell us what you think</blockquote>"
        "</div></body></html>"
    )
    return mail(
        {
            "From": "Alice Walker <alice.walker@fanmail.co.uk>",
            "To": "care@brand.co",
            "Subject": "App feedback",
            "Date": "Mon, 23 Nov 2026 12:00:00 +0000",
            "Message-ID": "<en-html@fanmail.co.uk>",
        },
        html.encode(),
        "text/html; charset=utf-8",
    )


def mail_with_attachment() -> bytes:
    return (
        b"From: Wilaiwan <wilaiwan@inbox.co.th>\r\n"
        b"To: care@brand.co.th\r\n"
        b"Subject: =?utf-8?b?4Liq4Li04LiZ4LiE4LmJ4Liy4LmA4Liq4Li14Lii4Lir4Liy4Lii?=\r\n"
        b"Date: Wed, 25 Nov 2026 14:00:00 +0700\r\n"
        b"Message-ID: <att-1@inbox.co.th>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b"--outer\r\n"
        b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "แนบรูปสินค้าที่เสียหายมาให้ค่ะ\r\n".encode()
        + b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n"
        b"--alt--\r\n"
        b"--outer\r\nContent-Type: image/jpeg\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E0%B8%A3%E0%B8%B9%E0%B8%9B.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n"
        b"--outer\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="receipt-778.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        b"--outer--\r\n"
    )


def mail_without_message_id() -> bytes:
    return mail(
        {
            "From": "bich.tran@hopthu.vn",
            "Subject": "Hỏi về bảo hành",
            "Date": "not a date at all",
        },
        "Sản phẩm bảo hành bao lâu ạ?\r\n".encode(),
    )


def unreadable_mail() -> bytes:
    return b"Subject: no sender here\r\n\r\nThis came through a broken form relay.\r\n"


def track_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    [track] = [m for m in messages if m["type"] == "track"]
    return track


def parsed(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    identify, track = mail_messages(RawMail(None, data, "test.eml"), RECEIVED_US)
    return identify, track


# --- parsing (no store) ----------------------------------------------------------------------


def test_thai_mail_in_tis620_reads_subject_name_and_text() -> None:
    identify, track = parsed(thai_mail())
    assert identify == {
        "type": "identify",
        "messageId": "mail-id:somchai@shop-mail.co.th",
        "anonymousId": "email:somchai@shop-mail.co.th",
        "traits": {"email": "Somchai@Shop-Mail.co.th", "name": "สมชาย ใจดี"},
        "timestamp": "2026-11-23T03:30:00.000000Z",
    }
    assert track["type"] == "track"
    assert track["event"] == FEEDBACK_EVENT
    assert track["messageId"] == "mail:th-001@shop-mail.co.th"
    assert track["anonymousId"] == "email:somchai@shop-mail.co.th"
    assert track["timestamp"] == "2026-11-23T03:30:00.000000Z"
    assert track["properties"] == {
        "channel": "email",
        "subject": "ร้องเรียน: สินค้าล่าช้า",
        "text": THAI_TEXT,
        "from": "Somchai@Shop-Mail.co.th",
        "to": ["care@brand.co.th"],
        "in_reply_to": "order-778@brand.co.th",
        "attachments": [],
        "language_hint": "th",
    }


@pytest.mark.parametrize("label", ["cp874", "windows-874", "iso-8859-11"])
def test_thai_mail_under_other_thai_charset_labels_reads_the_same(label: str) -> None:
    _, track = parsed(thai_mail(label))
    assert track["properties"]["text"] == THAI_TEXT


def test_vietnamese_mail_reads_the_same_in_utf8_and_windows_1258() -> None:
    texts = []
    for charset in ("utf-8", "windows-1258"):
        identify, track = parsed(viet_mail(charset))
        assert identify["traits"] == {"email": "an.nguyen@hopthu.vn", "name": "Nguyễn Văn An"}
        assert track["properties"]["subject"] == "Góp ý về dịch vụ giao hàng"
        assert track["properties"]["to"] == ["cskh@brand.vn", "quanly@brand.vn"]
        assert track["properties"]["language_hint"] == "vi"
        texts.append(track["properties"]["text"])
    # Windows-1258 writes tones as combining marks; the text is stored composed (NFC)
    assert texts == [VIET_TEXT, VIET_TEXT]


def test_html_only_mail_becomes_text_without_tags_styles_or_quoted_history() -> None:
    identify, track = parsed(html_mail())
    assert identify["traits"] == {"email": "alice.walker@fanmail.co.uk", "name": "Alice Walker"}
    assert track["properties"]["text"] == (
        "I love the new app & the checkout is much faster.\n\n"
        "One request: dark mode, please.\nThanks!"
    )


def test_multipart_mail_reads_its_text_part_and_names_its_attachments() -> None:
    _, track = parsed(mail_with_attachment())
    assert track["properties"]["subject"] == "สินค้าเสียหาย"
    assert track["properties"]["text"] == "แนบรูปสินค้าที่เสียหายมาให้ค่ะ"
    assert track["properties"]["attachments"] == ["รูป.jpg", "receipt-778.pdf"]


def test_quoted_replies_and_signatures_are_removed_in_english_thai_and_vietnamese() -> None:
    body = (
        "The refund has still not arrived.\n"
        "Please check order 778.\n"
        "\n"
        "On Mon, 23 Nov 2026 at 09:00, Brand Care <care@brand.co>\n"
        "wrote:\n"
        "> We have refunded your order.\n"
        ">> Earlier message\n"
        "\n"
        "-- \n"
        "Somchai\n"
        "Sent from my phone\n"
    )
    _, track = parsed(mail({"From": "somchai@shop-mail.co.th"}, body.encode()))
    assert track["properties"]["text"] == (
        "The refund has still not arrived.\nPlease check order 778."
    )
    _, thai = parsed(thai_mail())
    _, viet = parsed(viet_mail("utf-8"))
    assert "เขียนว่า" not in thai["properties"]["text"]
    assert "081-234-5678" not in thai["properties"]["text"]  # the signature
    assert "đã viết" not in viet["properties"]["text"]
    assert "Cảm ơn bạn đã mua hàng" not in viet["properties"]["text"]


def test_broken_charsets_decode_with_replacement_and_never_fail() -> None:
    data = (
        b"From: =?x-klingon?Q?Kor?= <kor@fanmail.co.uk>\r\n"
        b"Subject: =?utf-8?b?4Lij4Li54L?= \xe0\xb8\xaa 8-bit\r\n"
        b"Message-ID: <broken-1@fanmail.co.uk>\r\n"
        b"Content-Type: text/plain; charset=klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64 at all\xff\xfe\r\n"
    )
    identify, track = parsed(data)
    assert identify["traits"]["email"] == "kor@fanmail.co.uk"
    assert isinstance(track["properties"]["subject"], str)
    assert isinstance(track["properties"]["text"], str)
    orjson.dumps(track)  # storable: no lone surrogates
    utf8_labelled = mail({"From": "x@fanmail.co.uk"}, "ขอบคุณ".encode("cp874"))
    assert "\ufffd" in parsed(utf8_labelled)[1]["properties"]["text"]


def test_mail_without_message_id_gets_an_id_from_its_bytes_and_the_receipt_time() -> None:
    data = mail_without_message_id()
    first = track_of(mail_messages(RawMail(None, data, "a.eml"), RECEIVED_US))
    again = track_of(mail_messages(RawMail(None, data, "b.eml"), RECEIVED_US + 5_000_000))
    assert first["messageId"] == again["messageId"]
    assert first["messageId"].startswith("mail:sha256:")
    assert len(first["messageId"]) == len("mail:sha256:") + 64
    assert first["timestamp"] == "2026-11-18T11:06:40.000000Z"  # the Date was unparsable


def test_mail_without_sender_is_refused_with_a_reason() -> None:
    with pytest.raises(UnreadableMail) as caught:
        mail_messages(RawMail(None, unreadable_mail(), "relay/17.eml"), RECEIVED_US)
    assert caught.value.reason == "unreadable_mail"
    assert "relay/17.eml" in str(caught.value)
    assert "no From address" in str(caught.value)


def test_a_directory_reads_as_its_eml_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.eml").write_bytes(b"B")
    (tmp_path / "a.eml").write_bytes(b"A")
    (tmp_path / "notes.txt").write_bytes(b"not mail")
    single = tmp_path / "single.msg"
    single.write_bytes(b"S")
    read = list(read_eml([tmp_path, single]))
    assert [(m.uid, m.data, Path(m.location).name) for m in read] == [
        (None, b"A", "a.eml"),
        (None, b"B", "b.eml"),
        (None, b"S", "single.msg"),
    ]


# --- importing into the log (SQLite and PostgreSQL) ------------------------------------------


def write_mailbox(directory: Path) -> Path:
    directory.mkdir()
    mails = {
        "01-thai.eml": thai_mail(),
        "02-viet-utf8.eml": viet_mail("utf-8"),
        "03-viet-1258.eml": viet_mail("windows-1258"),
        "04-html.eml": html_mail(),
        "05-attachment.eml": mail_with_attachment(),
        "06-no-message-id.eml": mail_without_message_id(),
        "07-unreadable.eml": unreadable_mail(),
    }
    for name, data in mails.items():
        (directory / name).write_bytes(data)
    return directory


def log_entries(engine: Engine, source: str) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        source_id = ensure_source(conn, source).id
        rows = conn.execute(
            select(event_log.c.type, event_log.c.message_id, event_log.c.payload)
            .where(event_log.c.source_id == source_id)
            .order_by(event_log.c.seq)
        ).all()
    return [(kind, message_id, orjson.loads(payload)) for kind, message_id, payload in rows]


def test_importing_a_mail_folder_stores_identify_and_feedback_and_quarantines_the_unreadable(
    engine: Engine, tmp_path: Path
) -> None:
    folder = write_mailbox(tmp_path / "mail")
    result = import_mail(engine, "brand-mailbox", read_eml([folder]))
    assert result == MailImport(read=7, accepted=6, duplicates=0, quarantined=1, last_uid=None)
    entries = log_entries(engine, "brand-mailbox")
    tracks = [e for e in entries if e[0] == "track"]
    identifies = [e for e in entries if e[0] == "identify"]
    assert len(tracks) == 6
    assert all(p["event"] == FEEDBACK_EVENT for _, _, p in tracks)
    # one identify per sender: both Vietnamese mails are from An
    assert sorted(m for _, m, _ in identifies) == [
        "mail-id:alice.walker@fanmail.co.uk",
        "mail-id:an.nguyen@hopthu.vn",
        "mail-id:bich.tran@hopthu.vn",
        "mail-id:somchai@shop-mail.co.th",
        "mail-id:wilaiwan@inbox.co.th",
    ]
    thai = next(p for _, m, p in tracks if m == "mail:th-001@shop-mail.co.th")
    assert thai["properties"]["text"] == THAI_TEXT
    with engine.connect() as conn:
        source_id = ensure_source(conn, "brand-mailbox").id
        [reject] = list_quarantine(conn, source_id=source_id, reason="unreadable_mail")
        timestamps = dict(
            conn.execute(
                select(event_log.c.message_id, event_log.c.timestamp_us).where(
                    event_log.c.message_id == "mail:th-001@shop-mail.co.th"
                )
            ).all()
        )
    assert "no From address" in str(reject["detail"])
    assert str(reject["origin"]).endswith("07-unreadable.eml")
    payload = reject["payload"]
    assert isinstance(payload, bytes | memoryview)
    assert bytes(payload) == unreadable_mail()
    assert reject["stage"] == "import"
    assert timestamps["mail:th-001@shop-mail.co.th"] == 1_795_404_600_000_000  # the Date header


def test_importing_the_same_mail_again_stores_nothing_new(engine: Engine, tmp_path: Path) -> None:
    folder = write_mailbox(tmp_path / "mail")
    import_mail(engine, "brand-mailbox", read_eml([folder]))
    before = log_entries(engine, "brand-mailbox")
    again = import_mail(engine, "brand-mailbox", read_eml([folder]))
    assert again == MailImport(read=7, accepted=0, duplicates=6, quarantined=1, last_uid=None)
    assert log_entries(engine, "brand-mailbox") == before
    with engine.connect() as conn:
        source_id = ensure_source(conn, "brand-mailbox").id
        # the same unreadable bytes are one problem, quarantined once
        assert len(list_quarantine(conn, source_id=source_id)) == 1


def test_a_mail_without_message_id_imported_twice_is_stored_once(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "forwarded.eml"
    path.write_bytes(mail_without_message_id())
    first = import_mail(engine, "brand-mailbox", read_eml([path]))
    second = import_mail(engine, "brand-mailbox", read_eml([path]))
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (second.accepted, second.duplicates) == (0, 1)
    [(_, message_id, _)] = [e for e in log_entries(engine, "brand-mailbox") if e[0] == "track"]
    assert message_id.startswith("mail:sha256:")


def test_hostile_headers_are_stored_safely(engine: Engine) -> None:
    huge_id = "<" + "x" * 5000 + "@spam.example>"
    mails = [
        RawMail(None, mail({"From": "a@fanmail.co.uk", "Message-ID": huge_id}, b"one"), "1"),
        RawMail(None, b"From: b@fanmail.co.uk\r\nMessage-ID: <nul\x00id@x>\r\n\r\ntwo", "2"),
        RawMail(None, b"From: c\x00d@fanmail.co.uk\r\n\r\nthree", "3"),
        RawMail(None, b"\xff\xfe\x00\x00" * 100, "4"),
    ]
    result = import_mail(engine, "brand-mailbox", mails)
    assert (result.accepted, result.quarantined) == (2, 2)
    ids = [m for kind, m, _ in log_entries(engine, "brand-mailbox") if kind == "track"]
    assert ids[0].startswith("mail:sha256:") and len(ids[0]) < 100
    assert ids[1] == "mail:nulid@x"


def test_a_large_import_commits_in_batches_and_reports_progress(engine: Engine) -> None:
    mails = [
        RawMail(
            None,
            mail(
                {"From": f"customer{n % 40}@fanmail.co.uk", "Message-ID": f"<bulk-{n}@x>"},
                f"feedback {n}".encode(),
            ),
            f"bulk-{n}.eml",
        )
        for n in range(450)
    ]
    seen: list[int] = []
    result = import_mail(engine, "bulk-mailbox", mails, progress=lambda t: seen.append(t.read))
    assert seen == [200, 400, 450]
    assert (result.accepted, result.duplicates) == (450, 0)
    entries = log_entries(engine, "bulk-mailbox")
    assert sum(1 for e in entries if e[0] == "identify") == 40


# --- identity: the mail is filed under the person other sources know ------------------------


def log_tracked(engine: Engine, source: str, *messages: dict[str, Any]) -> None:
    with engine.begin() as conn:
        source_id = ensure_source(conn, source).id
        append(
            conn,
            [factories.log_row(source_id, m, RECEIVED_US) for m in messages],
            [],
        )


def test_feedback_mail_is_filed_under_the_profile_of_the_person_with_that_email(
    engine: Engine, tmp_path: Path
) -> None:
    log_tracked(
        engine,
        "web",
        {
            "type": "identify",
            "messageId": "web-identify-1",
            "userId": "u-somchai",
            "traits": {"name": "สมชาย ใจดี", "email": "somchai@shop-mail.co.th"},
            "timestamp": "2026-11-01T10:00:00Z",
        },
    )
    path = tmp_path / "complaint.eml"
    path.write_bytes(thai_mail())
    import_mail(engine, "brand-mailbox", read_eml([path]))
    while process_available(engine, 1000):
        pass
    with engine.connect() as conn:
        person = find_by_identifier(conn, "user_id", "u-somchai")
        events = profile_events_page(conn, person.id, 50, None)
        by_mail = find_by_identifier(conn, "email", "SOMCHAI@shop-mail.co.th")
    filed = {(kind, message_id, source) for _, message_id, kind, _, _, _, source in events}
    assert ("track", "mail:th-001@shop-mail.co.th", "brand-mailbox") in filed
    assert ("identify", "mail-id:somchai@shop-mail.co.th", "brand-mailbox") in filed
    assert by_mail.id == person.id
    feedback = next(e for e in events if e[1] == "mail:th-001@shop-mail.co.th")
    assert orjson.loads(feedback[5])["properties"]["text"] == THAI_TEXT


# --- IMAP against a real server (pymap) ------------------------------------------------------

IMAP_USER = "care@brand.co.th"
IMAP_PASSWORD = "Mailbox-Pass-7731"


@dataclass
class ImapServer:
    host: str
    port: int


def _pymap_command() -> list[str] | None:
    script = Path(sys.executable).parent / "pymap"
    if script.exists():
        return [str(script)]
    found = shutil.which("pymap")
    return [found] if found else None


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ImapServer]:
    """A pymap IMAP server (in-memory mailboxes) on loopback, with one user."""
    command = _pymap_command()
    if command is None:
        pytest.skip("pymap is not installed: pip install 'pymap>=0.36' (in the dev extra)")
    port = free_port()
    log_path = tmp_path / "pymap.log"
    arguments = [*command, "--host", "127.0.0.1", "--port", str(port), "dict"]
    arguments += ["--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            arguments,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"pymap exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pymap did not start in 20 s") from None
                time.sleep(0.1)
        yield ImapServer("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def deliver(server: ImapServer, *mails: bytes) -> None:
    """Put mail in the user's INBOX, as the mail server would on delivery."""
    with IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as client:
        client.login(IMAP_USER, IMAP_PASSWORD)
        for data in mails:
            client.append("INBOX", data)
        client.logout()


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def run_imap_import(
    engine: Engine, server: ImapServer, password: str = IMAP_PASSWORD
) -> MailImport:
    return import_imap(
        engine, "brand-imap", server.host, server.port, IMAP_USER, password, "INBOX", False
    )


def test_imap_import_reads_only_mail_that_arrived_since_the_last_run(
    engine: Engine, imap_server: ImapServer
) -> None:
    deliver(imap_server, thai_mail(), html_mail())
    first = run_imap_import(engine, imap_server)
    assert (first.read, first.accepted, first.duplicates, first.quarantined) == (2, 2, 0, 0)
    assert first.last_uid is not None
    deliver(imap_server, viet_mail("utf-8"))
    second = run_imap_import(engine, imap_server)
    assert (second.read, second.accepted, second.duplicates) == (1, 1, 0)
    assert second.last_uid is not None and second.last_uid > first.last_uid
    third = run_imap_import(engine, imap_server)
    assert (third.read, third.accepted) == (0, 0)
    tracks = [m for kind, m, _ in log_entries(engine, "brand-imap") if kind == "track"]
    assert tracks == [
        "mail:th-001@shop-mail.co.th",
        "mail:en-html@fanmail.co.uk",
        "mail:vi-utf-8@hopthu.vn",
    ]
    with engine.connect() as conn:
        [(location, column, value)] = conn.execute(
            select(import_cursors.c.location, import_cursors.c.column_name, import_cursors.c.value)
        ).all()
    assert location == f"imap://{IMAP_USER}@127.0.0.1/INBOX"
    assert column == "uid"
    assert orjson.loads(value)["uid"] == second.last_uid


def test_imap_import_starts_over_when_the_folder_uidvalidity_changes(
    engine: Engine, imap_server: ImapServer
) -> None:
    deliver(imap_server, thai_mail(), html_mail())
    run_imap_import(engine, imap_server)
    with engine.begin() as conn:
        stored = orjson.loads(conn.execute(select(import_cursors.c.value)).scalar_one())
        stored["uidvalidity"] = int(stored["uidvalidity"]) + 1  # as after a server rebuild
        conn.execute(update(import_cursors).values(value=orjson.dumps(stored).decode()))
    again = run_imap_import(engine, imap_server)
    assert (again.read, again.accepted, again.duplicates) == (2, 0, 2)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(event_log)).scalar_one()
    assert count == 4  # two identifies, two feedback events: nothing stored twice


def test_imap_with_a_wrong_password_fails_clearly_without_showing_it(
    engine: Engine, imap_server: ImapServer
) -> None:
    wrong = "Wrong-Secret-4242"
    with pytest.raises(C360Error) as caught:
        run_imap_import(engine, imap_server, password=wrong)
    message = str(caught.value)
    assert "refused the login" in message
    assert IMAP_USER in message
    assert wrong not in message and IMAP_PASSWORD not in message
    assert getattr(caught.value, "retryable", None) is False
    with pytest.raises(C360Error) as direct:
        list(read_imap(imap_server.host, imap_server.port, IMAP_USER, wrong, ssl=False))
    assert wrong not in str(direct.value)


def test_read_imap_yields_raw_mail_with_uids_after_the_one_given(
    imap_server: ImapServer,
) -> None:
    deliver(imap_server, thai_mail(), html_mail(), viet_mail("utf-8"))
    everything = list(
        read_imap(imap_server.host, imap_server.port, IMAP_USER, IMAP_PASSWORD, ssl=False)
    )
    # IMAP keeps mail with CRLF line ends
    sent = [thai_mail(), html_mail(), viet_mail("utf-8")]
    assert [m.data for m in everything] == [crlf(data) for data in sent]
    uids = [m.uid for m in everything if m.uid is not None]
    assert len(uids) == 3 and uids == sorted(uids)
    after = list(
        read_imap(
            imap_server.host,
            imap_server.port,
            IMAP_USER,
            IMAP_PASSWORD,
            ssl=False,
            after_uid=everything[-1].uid or 0,
        )
    )
    assert after == []


def test_an_unreachable_imap_server_is_a_retryable_upstream_error(engine: Engine) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(C360Error) as caught:
        run_imap_import(engine, ImapServer("127.0.0.1", port))
    assert getattr(caught.value, "retryable", None) is True
    assert f"127.0.0.1:{port}" in str(caught.value)
