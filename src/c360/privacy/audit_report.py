"""The affected-person report: which profiles one actor read, exported or changed in a period.

Asked after a key, an account or a laptop was compromised, to know whom to notify and what to
tell the regulator (PDPA and GDPR: within 72 hours of becoming aware of a breach). Built from
the audit log alone, plus the change feed for the segments the actor exported: an export's
entry names the segment, and who was in it at that moment is rebuilt from the feed's
``segment_entered`` / ``segment_exited`` changes up to the export's time. A segment with no
history in the feed (its changes were never recorded or were pruned) is answered with its
current members, and the report says so for that export.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, type_coerce

from c360.kernel.clock import isoformat_us, system_clock
from c360.privacy.audit import AuditQuery, iter_entries
from c360.storage.sealing import prefilter
from c360.storage.tables import (
    Json,
    privacy_requests,
    profile_changes,
    segment_members,
    segments,
)

ENTERED = "segment_entered"
EXITED = "segment_exited"

FROM_FEED = "at export time, rebuilt from the change feed"
CURRENT = "current members: the change feed holds no history of this segment"
GONE = "unknown: the segment no longer exists and the change feed holds no history of it"


@dataclass(slots=True)
class Touch:
    """What the actor did to one profile."""

    read: int = 0
    exported: int = 0
    changed: int = 0
    first_us: int | None = None
    last_us: int | None = None
    via: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)

    def add(self, how: str, at_us: int, action: str, client: str | None) -> None:
        if how == "exported":
            self.exported += 1
        elif how == "read":
            self.read += 1
        else:
            self.changed += 1
        self.first_us = at_us if self.first_us is None else min(self.first_us, at_us)
        self.last_us = at_us if self.last_us is None else max(self.last_us, at_us)
        self.via.add(action)
        if client:
            self.clients.add(client)


def _how(action: str) -> str:
    verb = action.rsplit(".", 1)[-1]
    if verb in ("export", "download"):
        return "exported"
    if verb in ("read", "search", "list", "members", "preview", "report", "stream"):
        return "read"
    return "changed"


def segment_members_at(conn: Connection, name: str, at_us: int) -> tuple[list[str], str]:
    """Who was in segment ``name`` at ``at_us``, and on what basis (see the module's doc)."""
    named = type_coerce(profile_changes.c.detail, Json)["segment"].as_string() == name
    rows = conn.execute(
        select(profile_changes.c.profile_id, profile_changes.c.kind, profile_changes.c.detail)
        .where(
            profile_changes.c.kind.in_([ENTERED, EXITED]),
            profile_changes.c.at_us <= at_us,
            prefilter(named),  # sealed at rest: every entry and exit is read, and checked here
        )
        .order_by(profile_changes.c.id)
        .execution_options(yield_per=1000)
    )
    changes = [(pid, kind) for pid, kind, detail in rows if detail.get("segment") == name]
    if changes:
        inside: dict[str, bool] = {}
        for profile_id, kind in changes:
            inside[profile_id] = kind == ENTERED
        return sorted(p for p, member in inside.items() if member), FROM_FEED
    found = conn.execute(select(segments.c.id).where(segments.c.name == name)).scalar()
    if found is None:
        return [], GONE
    current = conn.execute(
        select(segment_members.c.profile_id)
        .where(segment_members.c.segment_id == found)
        .order_by(segment_members.c.profile_id)
    ).scalars()
    return list(current), CURRENT


def _request_profile(conn: Connection, request_id: str) -> list[str]:
    """The person a data subject request (whose access export was downloaded) is about."""
    if not request_id.isdigit() or len(request_id) > 18:
        return []
    found = conn.execute(
        select(privacy_requests.c.profile_id).where(privacy_requests.c.id == int(request_id))
    ).scalar()
    return [found] if found else []


def _ok(detail: Mapping[str, Any]) -> bool:
    status = detail.get("status")
    return not isinstance(status, int) or status < 400


def affected_report(
    conn: Connection, actor: str, since_us: int, until_us: int, *, now_us: int | None = None
) -> dict[str, Any]:
    """The report as JSON: counts, every export with its basis, every profile touched with
    how, when (first and last), through which actions and from which client addresses."""
    touches: dict[str, Touch] = {}
    actions: dict[str, int] = {}
    actors: set[str] = set()
    clients: set[str] = set()
    exports: list[dict[str, Any]] = []
    entries = refused = 0
    for row in iter_entries(conn, AuditQuery(actor=actor, since_us=since_us, until_us=until_us)):
        entries += 1
        detail = row["detail"] or {}
        if not _ok(detail):
            refused += 1
            continue
        action, at_us, client = row["action"], int(row["at_us"]), row["client"]
        actions[action] = actions.get(action, 0) + 1
        actors.add(row["actor"])
        if client:
            clients.add(client)
        how = _how(action)
        ids: list[str] = []
        if row["object_type"] == "profile" and row["object_id"]:
            ids.append(row["object_id"])
        if isinstance(detail.get("profile_id"), str):
            ids.append(detail["profile_id"])
        shown = detail.get("profile_ids")
        if isinstance(shown, list):
            ids.extend(p for p in shown if isinstance(p, str))
        if row["object_type"] == "privacy_request" and how == "exported" and row["object_id"]:
            ids.extend(_request_profile(conn, row["object_id"]))
        if action == "segment.export" and row["object_id"]:
            members, basis = segment_members_at(conn, row["object_id"], at_us)
            ids.extend(members)
            exports.append(
                {
                    "audit_id": int(row["id"]),
                    "at": isoformat_us(at_us),
                    "segment": row["object_id"],
                    "profiles": len(members),
                    "membership": basis,
                    "client": client,
                }
            )
        for profile_id in dict.fromkeys(ids):
            touches.setdefault(profile_id, Touch()).add(how, at_us, action, client)
    profiles_out = [
        {
            "profile_id": pid,
            "read": t.read,
            "exported": t.exported,
            "changed": t.changed,
            "first_at": isoformat_us(t.first_us or 0),
            "last_at": isoformat_us(t.last_us or 0),
            "via": sorted(t.via),
            "clients": sorted(t.clients),
        }
        for pid, t in sorted(touches.items())
    ]
    notes = [
        "Profile ids are as they were when touched; a profile merged since answers under its "
        "surviving id (GET /api/profiles/{id}).",
        "Refused or failed requests (status 400 and above) are counted, not listed: they "
        "showed no personal data.",
    ]
    if any(e["membership"] != FROM_FEED for e in exports):
        notes.append(
            "Some exports' members could not be rebuilt for the export's time: see "
            "each export's 'membership'."
        )
    return {
        "actor": actor,
        "actors": sorted(actors),
        "since": isoformat_us(since_us),
        "until": isoformat_us(until_us),
        "generated_at": isoformat_us(now_us if now_us is not None else system_clock()),
        "entries": entries,
        "refused": refused,
        "counts": {
            "profiles": len(profiles_out),
            "read": sum(1 for p in profiles_out if p["read"]),
            "exported": sum(1 for p in profiles_out if p["exported"]),
            "changed": sum(1 for p in profiles_out if p["changed"]),
        },
        "actions": dict(sorted(actions.items())),
        "clients": sorted(clients),
        "exports": exports,
        "profiles": profiles_out,
        "notes": notes,
    }
