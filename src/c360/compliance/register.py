"""The transfer register: the record of processing activities (ROPA) a DPO files, listing
every place personal data leaves c360 for (sync destinations, change-feed webhook
subscriptions, message providers) with where it is hosted, whether that is abroad, which
fields it receives, for which purpose, and the retention policies in force.

PDPA s.28-29 and Vietnam's Law 91 allow a transfer abroad under conditions the controller must
be able to show; GDPR Art. 30 asks for this record and Art. 44+ for the safeguards. c360 knows
the facts (countries, fields, purposes); the legal basis and the safeguard of each transfer
are the controller's to decide, so the register leaves them as columns to fill in.

Entry points call :func:`configure_transfers` once with their settings; ``c360 privacy
register`` and ``GET /api/privacy/register`` call :func:`build_register`.
"""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from c360.activation.sync.service import readable_destinations
from c360.changes.subscriptions import HOME_COUNTRY, list_subscriptions
from c360.compliance import erasure
from c360.compliance.retention import load_policies
from c360.connectors.channels.config import ChannelsConfig
from c360.errors import C360Error
from c360.kernel.clock import isoformat_us, system_clock
from c360.settings import Settings

PROVIDERS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "email": ("SMTP server", None, ("golden.email", "message content")),
    "sms": ("Twilio Programmable Messaging", "US", ("golden.phone", "message content")),
    "line": ("LINE Messaging API", "JP", ("identifiers.line_user_id", "message content")),
    "zalo": ("Zalo Official Account API", "VN", ("identifiers.zalo_user_id", "message content")),
    "push": ("Firebase Cloud Messaging", "US", ("identifiers.push_token", "message content")),
    "webhook": ("signed webhooks (URL per message)", None, ("message content",)),
}
"""Per channel: the provider, the country it processes in unless the operator sets
``C360_CHANNELS__<CHANNEL>__COUNTRY`` (None: it depends on the server chosen, so it must be
set), and what each message carries to it. LINE (LY Corporation) processes in Japan, Zalo
(VNG) in Vietnam, Twilio and Firebase in the United States."""

LEGAL_BASIS_NOTE = (
    "to fill in: the legal basis (consent, contract, legal obligation, legitimate interest) "
    "and, for a transfer abroad, its safeguard (adequate country, standard contractual "
    "clauses, binding corporate rules, the person's consent)"
)
CSV_COLUMNS = (
    "kind",
    "name",
    "target",
    "country",
    "abroad",
    "fields",
    "purpose",
    "legal_basis",
    "transfer_safeguard",
    "deletes_on_erasure",
    "retention",
)


@dataclass(frozen=True, slots=True)
class TransferSettings:
    """What the register and erasure's deletions need of the operator's settings."""

    home_country: str = HOME_COUNTRY
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    retention_config: Path | None = None


_configured = TransferSettings()


def configure_transfers(settings: Settings, environ: Mapping[str, str]) -> None:
    """Entry points call this at start: the register's home country, providers and
    retention file, and the secrets erasure reaches sync destinations with
    (``C360_SYNC_SECRET_*`` in ``environ``)."""
    from c360.workers.sync import sync_secrets

    global _configured
    _configured = transfer_settings(settings)
    erasure.configure_deletions(
        erasure.DeletionAccess(
            secrets=sync_secrets(environ), allowed_hosts=settings.webhook_allowed_hosts
        )
    )


def transfer_settings(settings: Settings) -> TransferSettings:
    return TransferSettings(
        home_country=settings.home_country.upper(),
        channels=settings.channels,
        retention_config=settings.retention_config,
    )


def configured() -> TransferSettings:
    return _configured


def build_register(conn: Connection, config: TransferSettings | None = None) -> dict[str, Any]:
    """The register as one JSON document: every active destination, subscription and message
    provider, the retention policies, and the problems a DPO must resolve (a country not
    stated, a transfer abroad without a field allow-list, a retention file that fails)."""
    config = config or _configured
    home = config.home_country.upper()
    entries: list[dict[str, Any]] = []
    problems: list[str] = []

    destinations, unreadable = readable_destinations(conn)
    for d in destinations:
        if not d.enabled:
            continue
        fields = [r.path for r in d.rules if r.owner.value != "app"]
        entries.append(
            _entry(
                home,
                kind=f"sync destination ({d.kind})",
                name=d.name,
                target=_host(d.target) if d.rest is not None else d.target,
                country=d.country,
                fields=fields,
                purpose=d.config.get("consent_purpose"),
                deletes=d.deletes,
            )
        )
    problems += [f"sync destination {i}: its configuration cannot be read" for i in unreadable]

    for s in list_subscriptions(conn):
        entries.append(
            _entry(
                home,
                kind="webhook subscription",
                name=f"subscription {s.id}",
                target=_host(s.url),
                country=s.country,
                fields=list(s.fields) if s.fields is not None else None,
                purpose=s.consent_purpose,
                deletes=True,  # the profile_erased change tells the receiver
            )
        )

    for channel, (provider, default_country, carried) in PROVIDERS.items():
        settings = getattr(config.channels, channel)
        if settings is None:
            continue
        country = settings.country.upper() if settings.country else default_country
        entries.append(
            _entry(
                home,
                kind="message provider",
                name=f"{channel}: {provider}",
                target=_provider_host(settings),
                country=country,
                fields=list(carried),
                purpose="messages journeys send, each under its journey's consent purpose",
                deletes=False,
            )
        )

    for e in entries:
        where = f"{e['kind']} {e['name']}"
        if e["country"] is None:
            problems.append(f"{where}: no country stated (the register cannot say if abroad)")
        elif e["abroad"] and e["fields"] is None:
            problems.append(f"{where}: a transfer abroad without a field allow-list")

    retention: list[dict[str, Any]] = []
    try:
        retention = [p.as_json() for p in load_policies(config.retention_config)]
    except C360Error as exc:
        problems.append(f"retention: {exc}")
    if config.retention_config is None:
        problems.append("retention: no policies configured (C360_RETENTION_CONFIG)")

    return {
        "title": "Record of processing activities: where personal data goes",
        "generated_at": isoformat_us(system_clock()),
        "home_country": home,
        "transfers": entries,
        "transfers_abroad": sum(1 for e in entries if e["abroad"]),
        "retention": retention,
        "problems": problems,
        "legal_basis_note": LEGAL_BASIS_NOTE,
    }


def register_csv(register: Mapping[str, Any]) -> str:
    """The register as CSV, one row per transfer and per retention policy (a spreadsheet the
    DPO fills in the legal basis of)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in register["transfers"]:
        writer.writerow(
            {
                **{k: e.get(k) for k in CSV_COLUMNS},
                "country": e["country"] or "",
                "abroad": "" if e["abroad"] is None else ("yes" if e["abroad"] else "no"),
                "fields": "every field" if e["fields"] is None else "; ".join(e["fields"]),
                "purpose": e["purpose"] or "",
                "deletes_on_erasure": "yes" if e["deletes_on_erasure"] else "no",
                "retention": "",
            }
        )
    for p in register["retention"]:
        what = [f"{k} {', '.join(p[k])}" for k in ("kinds", "sources", "types", "names") if p[k]]
        writer.writerow(
            {
                "kind": "retention policy",
                "name": p["name"],
                "fields": "; ".join([p["target"], *what]),
                "retention": p["keep"],
            }
        )
    return buffer.getvalue()


def _entry(
    home: str,
    *,
    kind: str,
    name: str,
    target: str,
    country: str | None,
    fields: list[str] | None,
    purpose: str | None,
    deletes: bool,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "target": target,
        "country": country,
        "abroad": None if country is None else country != home,
        "fields": fields,
        "purpose": purpose,
        "legal_basis": "",
        "transfer_safeguard": "",
        "deletes_on_erasure": deletes,
    }


def _host(url: str) -> str:
    """Scheme, host and port: paths can hold tokens, and the register is shared."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _provider_host(settings: Any) -> str:
    base = getattr(settings, "base_url", None)
    if base:
        return _host(str(base))
    host = getattr(settings, "host", None)
    return f"smtp://{host}:{settings.port}" if host else "the URL each message names"
