"""``c360 consent``: a person's consent and its proof; record a grant or a withdrawal; export
and import the proof (docs/consent.md)."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from c360.cli.common import err, load_settings, out, reported_errors, store_for
from c360.errors import InvalidInput
from c360.settings import Settings

consent_app = typer.Typer(
    help="Consent per purpose and channel, with its proof.", no_args_is_help=True
)

ProfileArg = Annotated[str, typer.Argument(help="A profile id.")]


@contextmanager
def _store(settings: Settings) -> Iterator[Engine]:
    """The store for one command, closed when it is done."""
    engine = store_for(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _actor() -> Any:
    import getpass

    from c360.privacy.audit import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}")


@consent_app.command("show")
def show_command(
    profile_id: ProfileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What the person consents to now, per purpose and channel, and the ledger behind it."""
    from c360.api.consent import proof_document
    from c360.storage.engine import reader

    settings = load_settings()
    with reported_errors(), _store(settings) as engine, reader(engine).connect() as conn:
        document = proof_document(conn, profile_id, settings.timezone)
    if as_json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    state = document["state"]
    purposes = Table(title=f"consent of {escape(document['profile_id'])}")
    purposes.add_column("purpose")
    purposes.add_column("purpose-wide")
    purposes.add_column("channels allowed")
    for name, given in state["purposes"].items():
        allowed = [c for c, ok in given["channels"].items() if ok]
        wide = ("yes" if given["granted"] else "no") if given["stated"] else "not asked"
        purposes.add_row(escape(name), wide, escape(", ".join(allowed)) or "-")
    out.print(purposes)
    subs = ", ".join(f"{c}: {s}" for c, s in state["subscriptions"].items())
    out.print(f"subscriptions: {escape(subs)}", highlight=False)
    ledger = Table(title=f"ledger ({len(document['entries'])} entries, {document['time_zone']})")
    for column in ("when (local)", "kind", "purpose", "channel", "state", "method", "source"):
        ledger.add_column(column)
    ledger.add_column("notice")
    for entry in document["entries"]:
        notice = entry["notice_version"] or ""
        if entry["notice_sha256"]:
            notice += f" sha256:{entry['notice_sha256'][:12]}"
        ledger.add_row(
            *(
                escape(str(entry[k]))
                for k in ("at_local", "kind", "purpose", "channel", "state", "method", "source")
            ),
            escape(notice.strip()),
        )
    out.print(ledger)


def _change(
    profile_id: str,
    state: str,
    purpose: str | None,
    channel: str | None,
    subscription: bool,
    method: str,
    notice_text: str | None,
    notice_file: Path | None,
    notice_version: str | None,
    evidence: str | None,
    expires_at: str | None,
    source: str | None,
) -> None:
    from c360.api.consent import record_changes
    from c360.kernel.clock import system_clock
    from c360.privacy import consent as rules
    from c360.privacy.purposes import check_purpose

    with reported_errors(), _store(load_settings()) as engine:
        if notice_file is not None:
            try:
                notice_text = notice_file.read_text("utf-8")
            except OSError as exc:
                raise InvalidInput(f"{notice_file}: cannot read it ({exc.strerror})") from None
        kind = rules.SUBSCRIPTION if subscription else rules.PURPOSE
        if subscription:
            state = rules.SUBSCRIBED if state == rules.GRANTED else rules.UNSUBSCRIBED
        data = {
            "kind": kind,
            "purpose": purpose,
            "channel": channel,
            "state": state,
            "method": method,
            "notice_text": notice_text,
            "notice_version": notice_version,
            "evidence": evidence,
            "expires_at": expires_at,
            "source": source,
        }
        now = system_clock()
        statement = rules.statement_from(
            {k: v for k, v in data.items() if v is not None},
            default_source="cli",
            default_at_us=now,
        )
        check_purpose(statement.purpose, "--purpose")
        with engine.begin() as conn:
            change = record_changes(conn, profile_id, [statement], _actor(), now_us=now)
    what = f"{statement.channel} subscription" if subscription else statement.purpose
    where = "" if subscription or statement.channel == "*" else f" on {statement.channel}"
    err.print(
        f"recorded: {escape(what)}{escape(where)} {statement.state} for "
        f"{escape(change.profile_id)}"
        + (f"; {change.cancelled} queued messages cancelled" if change.cancelled else ""),
        highlight=False,
    )


PurposeOpt = Annotated[
    str | None,
    typer.Option(help="A configured purpose (c360 consent purposes lists them)."),
]
ChannelOpt = Annotated[
    str | None, typer.Option(help="email, sms, line, zalo, push or phone (default: every)")
]
SubscriptionOpt = Annotated[
    bool,
    typer.Option("--subscription", help="The channel's marketing subscription, not a purpose."),
]
MethodOpt = Annotated[
    str, typer.Option(help="form, checkbox, double_opt_in, call_recording, api, import...")
]
NoticeOpt = Annotated[str | None, typer.Option(help="The notice text shown to the person.")]
NoticeFileOpt = Annotated[Path | None, typer.Option(help="Read the notice text from a file.")]
VersionOpt = Annotated[str | None, typer.Option(help="The notice's version.")]
EvidenceOpt = Annotated[
    str | None, typer.Option(help="Proof kept elsewhere, e.g. a call recording id.")
]
ExpiresOpt = Annotated[str | None, typer.Option(help="When it lapses (ISO 8601).")]
SourceOpt = Annotated[str | None, typer.Option(help="Where it was given (default: cli).")]


@consent_app.command("grant")
def grant_command(
    profile_id: ProfileArg,
    purpose: PurposeOpt = None,
    channel: ChannelOpt = None,
    subscription: SubscriptionOpt = False,
    method: MethodOpt = "api",
    notice_text: NoticeOpt = None,
    notice_file: NoticeFileOpt = None,
    notice_version: VersionOpt = None,
    evidence: EvidenceOpt = None,
    expires_at: ExpiresOpt = None,
    source: SourceOpt = None,
) -> None:
    """Record that the person gave consent (or subscribed a channel), with its proof."""
    _change(
        profile_id,
        "granted",
        purpose,
        channel,
        subscription,
        method,
        notice_text,
        notice_file,
        notice_version,
        evidence,
        expires_at,
        source,
    )


@consent_app.command("withdraw")
def withdraw_command(
    profile_id: ProfileArg,
    purpose: PurposeOpt = None,
    channel: ChannelOpt = None,
    subscription: SubscriptionOpt = False,
    method: MethodOpt = "api",
    notice_text: NoticeOpt = None,
    notice_file: NoticeFileOpt = None,
    notice_version: VersionOpt = None,
    evidence: EvidenceOpt = None,
    source: SourceOpt = None,
) -> None:
    """Record that the person withdrew consent (or unsubscribed a channel); queued messages
    it no longer allows are cancelled now."""
    _change(
        profile_id,
        "withdrawn",
        purpose,
        channel,
        subscription,
        method,
        notice_text,
        notice_file,
        notice_version,
        evidence,
        None,
        source,
    )


@consent_app.command("purposes")
def purposes_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The configured consent purposes (C360_CONSENT_PURPOSES) with their labels, and the
    purposes statements name that are not configured, with how many entries and people."""
    from c360.privacy import consent as rules
    from c360.privacy.purposes import configured_purposes
    from c360.storage.engine import reader

    settings = load_settings()
    with reported_errors(), _store(settings) as engine, reader(engine).connect() as conn:
        found = rules.unconfigured(conn)
    configured = configured_purposes()
    if as_json:
        document = {
            "configured": [p.as_json() for p in configured],
            "unconfigured": [u.as_json() for u in found],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    table = Table(title="configured consent purposes")
    table.add_column("purpose")
    table.add_column("labels")
    for p in configured:
        labels = ", ".join(f"{k}: {v}" for k, v in p.labels.items())
        table.add_row(escape(p.name), escape(labels) or "-")
    out.print(table)
    if not found:
        out.print("no statement names a purpose that is not configured", highlight=False)
        return
    others = Table(title="stated but not configured (kept; they count once configured)")
    for column in ("purpose", "entries", "people", "sources"):
        others.add_column(column)
    for u in found:
        sources = ", ".join(f"{k} {v:,}" for k, v in u.sources.items())
        others.add_row(escape(u.purpose), f"{u.entries:,}", f"{u.profiles:,}", escape(sources))
    out.print(others)


@consent_app.command("export")
def export_command(
    profile_id: ProfileArg,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="File to write ('-': stdout).")
    ] = Path("-"),
) -> None:
    """The proof: every ledger entry with the exact notice text, in UTC and local time, as
    JSON that ``c360 consent import`` reads back."""
    from c360.api.consent import proof_document
    from c360.storage.engine import reader

    settings = load_settings()
    with reported_errors():
        with _store(settings) as engine, reader(engine).connect() as conn:
            document = proof_document(conn, profile_id, settings.timezone)
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if str(output) == "-":
            sys.stdout.write(text)
            return
        try:
            output.write_text(text, "utf-8")
        except OSError as exc:
            raise InvalidInput(f"{output}: cannot write it ({exc.strerror})") from None
    err.print(f"wrote {len(document['entries'])} entries to {escape(str(output))}")


@consent_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A proof written by c360 consent export.")],
    profile_id: Annotated[
        str | None, typer.Option("--profile", help="Import for this profile instead.")
    ] = None,
) -> None:
    """Record the entries of an exported proof (each once, however often imported)."""
    from c360.api.consent import import_proof

    with reported_errors(), _store(load_settings()) as engine:
        try:
            document = json.loads(file.read_text("utf-8"))
        except OSError as exc:
            raise InvalidInput(f"{file}: cannot read it ({exc.strerror})") from None
        except ValueError as exc:
            raise InvalidInput(f"{file}: not JSON ({exc})") from None
        with engine.begin() as conn:
            change = import_proof(conn, document, _actor(), profile_id=profile_id)
    err.print(
        f"imported {change.statements} entries for {escape(change.profile_id)}", highlight=False
    )
