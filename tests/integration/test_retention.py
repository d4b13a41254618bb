"""Retention (RELIABILITY-TESTS P8): policies per kind of data applied by a job with an
injected clock, on both stores. Purged events leave no row older than the retention, the
identities they carried survive, and ``c360 rebuild`` gives the same profiles afterwards."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, insert, select
from tests.customer360 import load, track
from tests.factories import message_id
from typer.testing import CliRunner

from c360.compliance.retention import (
    RetentionReport,
    apply_retention,
    list_runs,
    load_policies,
    parse_duration,
    parse_policies,
)
from c360.errors import InvalidInput
from c360.eventlog.service import last_seq
from c360.kernel.clock import system_clock, to_us
from c360.profiles.refresh import refresh_profiles
from c360.storage.engine import create_engine_for
from c360.storage.tables import (
    audit_log,
    consent_ledger,
    event_log,
    feedback_items,
    identity_nodes,
    messages,
    profile_changes,
    profile_events,
    profiles,
    record_identifiers,
    rejects,
    retention_runs,
    source_records,
    sources,
    subscriptions,
)
from c360.workers.rebuild import rebuild
from c360.workers.retention import LEASE_S, RetentionLoop, claim_run, next_run_us

DAY = 86_400_000_000
SECOND = 1_000_000
NOW = to_us(datetime(2027, 6, 1, tzinfo=UTC))
OLD = NOW - 500 * DAY
NEW = NOW - 10 * DAY

POLICIES = parse_policies(
    {
        "policies": [
            {
                "name": "raw web events",
                "events": {"sources": ["web", "app"], "types": ["page", "screen", "track"]},
                "keep": "13 months",
            },
            {"name": "app messages", "events": {"sources": ["app"]}, "keep": "13 months"},
        ]
    }
)
CUTOFF = to_us(datetime(2026, 5, 1, tzinfo=UTC))


def message(kind: str, at_us: int, **fields: Any) -> dict[str, Any]:
    body = {"type": kind, "messageId": message_id(), "_at_us": at_us, **fields}
    if kind in ("page", "screen"):
        body.setdefault("name", "Home")
        body.setdefault(
            "context", {"ip": "203.0.113.9", "userAgent": "Mozilla/5.0", "page": {"path": "/"}}
        )
    if kind == "track":
        body.setdefault("event", "Product Viewed")
        body.setdefault("properties", {"sku": "TH-001", "price": 1290})
    return body


def history(engine: Engine) -> None:
    """A visitor who signs in on the web, web users seen only long ago, an app user who
    changed email and aliased a device, and a point-of-sale source no policy covers."""
    track(
        engine,
        message("identify", OLD, userId="u-1", traits={"email": "mai@example.vn", "name": "Mai"}),
        message("page", OLD + 1, anonymousId="a-1"),
        message("page", OLD + 2, anonymousId="a-1"),
        message("page", OLD + 3, anonymousId="a-1"),
        message("track", OLD + 4, anonymousId="a-1", userId="u-1", event="Signed In"),
        message("page", OLD + 5, userId="u-1"),
        message("page", OLD + 6, userId="u-1"),
        message("page", NEW, userId="u-1", name="Checkout"),
        message("page", OLD + 7, userId="u-2"),
        message("page", OLD + 8, userId="u-2"),
        message("page", OLD + 9, userId="u-2"),
        # a device linked to a user between their first and last old pages: only the link
        # keeps the track message (as identity)
        message("page", OLD + 10, userId="u-4"),
        message("page", OLD + 11, anonymousId="a-2"),
        message("track", OLD + 12, anonymousId="a-2", userId="u-4"),
        message("page", OLD + 13, anonymousId="a-2"),
        message("page", OLD + 14, userId="u-4"),
        source="web",
    )
    track(
        engine,
        message(
            "identify", OLD, userId="u-3", traits={"email": "an@example.vn", "phone": "0912345678"}
        ),
        message("identify", OLD + 1, userId="u-3", traits={"email": "an.nguyen@example.vn"}),
        message("identify", OLD + 1, userId="u-3", traits={"name": "Nguyễn Văn An"}),
        message("alias", OLD + 2, userId="u-3", previousId="dev-9"),
        *(message("screen", OLD + 3 + i, userId="u-3") for i in range(4)),
        message("screen", NEW, userId="u-3", name="Cart"),
        source="app",
    )
    track(engine, message("track", OLD, userId="u-1", event="Order Completed"), source="pos")


def log_rows(engine: Engine) -> dict[int, tuple[Any, ...]]:
    with engine.connect() as conn:
        return {r.seq: tuple(r) for r in conn.execute(select(event_log))}


def source_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar_one())


def state(engine: Engine, now_us: int) -> dict[str, Any]:
    """What the profiles are, with computed traits as of ``now_us`` on both sides."""
    with engine.begin() as conn:
        live = sorted(
            conn.execute(select(profiles.c.id).where(profiles.c.merged_into.is_(None))).scalars()
        )
        refresh_profiles(conn, live, last_seq(conn), now_us=now_us)
        found = {
            r.id: (r.traits, r.golden, r.computed, r.identifier_set, r.attributes)
            for r in conn.execute(select(profiles).where(profiles.c.merged_into.is_(None)))
        }
        nodes = {
            (r.source_id, r.node_type, r.node_key): (
                r.profile_id,
                r.identifiers,
                r.traits,
                r.first_seq,
                r.last_seq,
                r.at_us,
            )
            for r in conn.execute(select(identity_nodes))
        }
        filed = sorted(
            (r.profile_id, r.seq, r.at_us)
            for r in conn.execute(
                select(profile_events.c.profile_id, profile_events.c.seq, profile_events.c.at_us)
            )
        )
    return {"profiles": found, "nodes": nodes, "filed": filed}


def test_p8_no_event_older_than_retention_survives_and_newer_ones_are_untouched(
    engine: Engine,
) -> None:
    history(engine)
    before = log_rows(engine)
    report = apply_retention(engine, POLICIES, now_us=NOW)
    after = log_rows(engine)
    web, app, pos = (source_id(engine, n) for n in ("web", "app", "pos"))

    # P8: 0 rows the policies cover older than the retention (+ 1 day)
    covered = (event_log.c.source_id == app) | (
        (event_log.c.source_id == web) & event_log.c.type.in_(["page", "screen", "track"])
    )
    with engine.connect() as conn:
        old = conn.execute(
            select(func.count())
            .select_from(event_log)
            .where(covered, event_log.c.timestamp_us < CUTOFF - DAY)
        ).scalar_one()
    assert old == 0
    # the report lists what went per source: the pages and screens nothing else needs
    web_pages, app_messages = report.outcomes
    assert web_pages.cutoff_us == CUTOFF
    assert web_pages.by_source == {"web": 4, "app": 2}
    assert report.by_source() == {"app": 2, "web": 4}
    assert app_messages.removed == 0 and app_messages.kept_as_identity == 4
    assert len(before) - len(after) == 6
    # newer messages, the web identify no policy covers, and the pos source: byte for byte
    for seq, row in before.items():
        if row[7] >= CUTOFF or row[1] == pos or (row[1] == web and row[3] == "identify"):
            assert after[seq] == row
    # what is kept of an old page is the identity it carried, stamped with the run's time
    stripped = [r for s, r in after.items() if r != before[s]]
    assert {r[3] for r in stripped} == {"identify", "alias"}
    assert all(r[7] == NOW for r in stripped)
    assert not any("203.0.113.9" in r[8] or "Mozilla" in r[8] for r in stripped)
    assert not any(r[7] < CUTOFF and "203.0.113.9" in r[8] for r in after.values())
    # the run is recorded, and audited
    with engine.connect() as conn:
        [run] = conn.execute(select(retention_runs)).all()
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "retention.run")).one()
    assert run.dry_run == 0 and run.report["by_source"] == {"app": 2, "web": 4}
    assert report.run_id == run.id
    assert entry.actor == "system" and entry.detail["removed"]["raw web events"] == 6


def test_after_a_purge_rebuild_gives_the_same_profiles(engine: Engine) -> None:
    history(engine)
    original = state(engine, NOW)
    apply_retention(engine, POLICIES, now_us=NOW)
    purged = state(engine, NOW)
    # identities survive the purge: same profiles (ids too), identifiers and tracked traits
    assert set(purged["profiles"]) == set(original["profiles"])
    for pid, (traits, golden, _computed, ids, _view) in original["profiles"].items():
        assert purged["profiles"][pid][0] == traits
        assert purged["profiles"][pid][1] == golden
        assert purged["profiles"][pid][3] == ids
    assert {k: v[:3] for k, v in purged["nodes"].items()} == {
        k: v[:3] for k, v in original["nodes"].items()
    }
    assert "email:an@example.vn" in next(
        ids for _t, _g, _c, ids, _v in purged["profiles"].values() if "user_id:u-3" in ids
    )
    rebuild(engine)
    assert state(engine, NOW) == purged


def test_messages_the_consent_ledger_cites_are_kept_whole(engine: Engine) -> None:
    consent = {"consent": {"categoryPreferences": {"marketing": True}}}
    track(
        engine,
        message("page", OLD, userId="u-5"),
        message("page", OLD + 1, userId="u-5", context=consent),
        message("page", OLD + 2, userId="u-5"),
        message("page", OLD + 3, userId="u-5"),
        source="web",
    )
    with engine.connect() as conn:
        [cited] = conn.execute(select(consent_ledger.c.seq)).scalars().all()
    proof = log_rows(engine)[cited]
    report = apply_retention(engine, POLICIES, now_us=NOW)
    assert report.outcomes[0].kept_as_consent_proof == 1
    assert report.outcomes[0].by_source == {"web": 1}
    assert log_rows(engine)[cited] == proof
    with engine.connect() as conn:
        assert conn.execute(select(consent_ledger.c.seq)).scalars().all() == [cited]


def test_a_dry_run_changes_nothing_and_counts_what_a_run_removes(engine: Engine) -> None:
    history(engine)
    rows, derived = log_rows(engine), state(engine, NOW)
    with engine.connect() as conn:
        audited = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    dry = apply_retention(engine, POLICIES, now_us=NOW, dry_run=True)
    assert log_rows(engine) == rows
    assert state(engine, NOW) == derived
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(retention_runs)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == audited
    assert dry.run_id is None
    real = apply_retention(engine, POLICIES, now_us=NOW)
    assert _counts(dry) == _counts(real) and real.removed == 6


def _counts(report: RetentionReport) -> list[tuple[str, int, dict[str, int], int]]:
    return [(o.policy.name, o.removed, o.by_source, o.kept_as_identity) for o in report.outcomes]


def test_running_again_is_idempotent_and_a_later_run_keeps_the_promise(engine: Engine) -> None:
    history(engine)
    apply_retention(engine, POLICIES, now_us=NOW)
    rows = log_rows(engine)
    again = apply_retention(engine, POLICIES, now_us=NOW)
    assert again.removed == 0 and sum(o.kept_as_identity for o in again.outcomes) == 0
    assert log_rows(engine) == rows
    # a year and a half later the recent messages are old too: still nothing past retention
    later = NOW + 550 * DAY
    report = apply_retention(engine, POLICIES, now_us=later)
    assert report.removed > 0
    cutoff = POLICIES[0].keep.cutoff_us(later)
    with engine.connect() as conn:
        old = conn.execute(
            select(func.count())
            .select_from(event_log)
            .where(
                event_log.c.source_id.in_([source_id(engine, "web"), source_id(engine, "app")]),
                event_log.c.timestamp_us < cutoff - DAY,
                event_log.c.type != "identify",
                event_log.c.type != "alias",
            )
        ).scalar_one()
    assert old == 0
    purged = state(engine, later)
    rebuild(engine)
    assert state(engine, later) == purged


def test_a_record_kind_policy_removes_old_records_with_their_identity(
    engine: Engine, tmp_path: Path
) -> None:
    contact = {"id": "c-1", "first_name": "สมชาย", "last_name": "ใจดี"}
    load(engine, tmp_path, "crm", "contact", [{**contact, "email": "somchai@example.co.th"}])
    ticket = {"subject": "Invoice copy", "description": "a tax invoice copy", "status": "closed"}
    load(
        engine,
        tmp_path,
        "helpdesk",
        "ticket",
        [
            {"id": "T-1", "ticket_id": "T-1", "email": "somchai@example.co.th", **ticket},
            {"id": "T-2", "ticket_id": "T-2", "email": "bich.tran@example.vn", **ticket},
        ],
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(profiles)).scalar_one() == 2
    now = system_clock() + 6 * 365 * DAY
    tickets = parse_policies(
        {"policies": [{"name": "tickets", "records": {"kinds": ["ticket"]}, "keep": "5 years"}]}
    )
    report = apply_retention(engine, tickets, now_us=now)
    assert report.outcomes[0].by_source == {"helpdesk": 2}
    helpdesk = source_id(engine, "helpdesk")
    with engine.connect() as conn:
        for table in (event_log, source_records, record_identifiers, identity_nodes):
            left = conn.execute(
                select(func.count()).select_from(table).where(table.c.source_id == helpdesk)
            ).scalar_one()
            assert left == 0, table.name
        live = conn.execute(select(profiles).where(profiles.c.merged_into.is_(None))).all()
    # Somchai keeps the CRM contact; the person only a ticket knew is gone
    [somchai] = live
    assert "email:somchai@example.co.th" in somchai.identifier_set
    assert "bich.tran@example.vn" not in str(somchai.identifier_set)
    purged = state(engine, now)
    rebuild(engine)
    assert state(engine, now) == purged


def test_quarantine_and_finished_messages_go_by_age_queued_ones_stay(engine: Engine) -> None:
    history(engine)
    web = source_id(engine, "web")
    common = {"reason": "bad_json", "detail": "x", "message_id": None, "payload": b"{"}
    body = {"address": "mai@example.vn", "purpose": "marketing", "body": "hi", "attempts": 0}
    with engine.begin() as conn:
        conn.execute(
            insert(rejects),
            [
                {"source_id": web, "received_at_us": OLD, **common},
                {"source_id": web, "received_at_us": NEW, **common},
            ],
        )
        conn.execute(
            insert(messages),
            [
                {
                    "key": f"m-{status}",
                    "profile_id": "p",
                    "channel": "email",
                    "status": status,
                    "created_at_us": OLD,
                    "updated_at_us": OLD,
                    **body,
                }
                for status in ("delivered", "failed", "queued")
            ],
        )
    policies = parse_policies(
        {
            "policies": [
                {"name": "quarantine", "quarantine": True, "keep": "90 days"},
                {"name": "sent messages", "messages": True, "keep": "2 years"},
                {"name": "outbox", "messages": True, "keep": "1 year"},
            ]
        }
    )
    report = apply_retention(engine, policies, now_us=NOW)
    assert [o.by_source for o in report.outcomes] == [{"web": 1}, {}, {"outbox:email": 2}]
    with engine.connect() as conn:
        assert conn.execute(select(rejects.c.received_at_us)).scalars().all() == [NEW]
        assert conn.execute(select(messages.c.status)).scalars().all() == ["queued"]


def test_change_feed_and_closed_feedback_go_by_age_but_never_past_a_subscriber(
    engine: Engine,
) -> None:
    history(engine)
    web = source_id(engine, "web")
    with engine.begin() as conn:
        ids = conn.execute(select(profile_changes.c.id).order_by(profile_changes.c.id)).scalars()
        ids = list(ids)
        assert len(ids) >= 4
        conn.execute(
            insert(subscriptions).values(
                url="https://hooks.example/c360",
                kinds=[],
                secret="s",
                created_at_us=OLD,
                cursor=ids[1],
                attempts=0,
            )
        )
        item = {
            "source_id": web,
            "seq": 1,
            "kind": "direct",
            "channel": "web",
            "received_at_us": OLD,
            "language": "en",
            "sentiment": "negative",
            "sentiment_score": -0.5,
            "topic": "delivery",
            "analysis": {},
            "priority": 1,
            "level": "P3",
            "factors": {},
            "team": "service",
            "breached": [],
            "updated_at_us": OLD,
        }
        conn.execute(
            insert(feedback_items),
            [
                {**item, "origin_key": "e:1", "status": "resolved"},
                {**item, "origin_key": "e:2", "status": "in_progress"},
            ],
        )
    policies = parse_policies(
        {
            "policies": [
                {"name": "change feed", "changes": True, "keep": "30 days"},
                {"name": "feedback", "feedback": True, "keep": "1 year"},
            ]
        }
    )
    report = apply_retention(engine, policies, now_us=NOW)
    assert [o.removed for o in report.outcomes] == [2, 1]
    with engine.connect() as conn:
        left = conn.execute(select(profile_changes.c.id).order_by(profile_changes.c.id)).scalars()
        assert list(left) == ids[2:]  # the subscriber has not taken these yet
        status = conn.execute(select(feedback_items.c.status)).scalars().all()
        assert status == ["in_progress"]


def test_policies_are_validated_with_messages_naming_the_policy(tmp_path: Path) -> None:
    assert str(parse_duration("13 months")) == "13 months"
    assert parse_duration("1 y").cutoff_us(NOW) == to_us(datetime(2026, 6, 1, tzinfo=UTC))
    leap = to_us(datetime(2028, 3, 31, tzinfo=UTC))
    assert parse_duration("1 month").cutoff_us(leap) == to_us(datetime(2028, 2, 29, tzinfo=UTC))
    cases = {
        "13 moons": "not a duration",
        "0 days": "keep at least 1 day",
    }
    for keep, expected in cases.items():
        body = {"policies": [{"name": "web", "events": {"sources": ["web"]}, "keep": keep}]}
        with pytest.raises(InvalidInput, match=f"policies.1 \\(web\\).keep: .*{expected}"):
            parse_policies(body)
    with pytest.raises(InvalidInput, match=r"exactly one kind of data.*events, records"):
        parse_policies(
            {"policies": [{"name": "two", "events": {}, "records": {"kinds": ["x"]}, "keep": "1d"}]}
        )
    with pytest.raises(InvalidInput, match=r"exactly one kind of data.*none"):
        parse_policies({"policies": [{"name": "nothing", "keep": "1 day"}]})
    with pytest.raises(InvalidInput, match="two policies are called 'q'"):
        parse_policies(
            {
                "policies": [
                    {"name": "q", "quarantine": True, "keep": "1 day"},
                    {"name": "q", "quarantine": True, "keep": "2 days"},
                ]
            }
        )
    with pytest.raises(InvalidInput, match=r"events.typo: Extra inputs"):
        parse_policies({"policies": [{"name": "e", "events": {"typo": ["web"]}, "keep": "1 day"}]})
    with pytest.raises(InvalidInput, match="keep: Field required"):
        parse_policies({"policies": [{"name": "e", "messages": True}]})
    bad = tmp_path / "retention.yml"
    bad.write_text("policies: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidInput, match="is not valid YAML"):
        load_policies(bad)
    assert load_policies(None) == []


def test_the_daily_loop_runs_when_due(engine: Engine) -> None:
    history(engine)
    clock = [NOW]
    loop = RetentionLoop(
        engine,
        lambda now, run_id: apply_retention(engine, POLICIES, now_us=now, run_id=run_id),
        clock=lambda: clock[0],
    )
    assert loop.run_if_due()  # never ran: due now
    assert not loop.run_if_due()
    clock[0] += DAY - 1
    assert not loop.run_if_due()
    clock[0] += 1
    assert loop.run_if_due() and loop.runs == 2
    with engine.connect() as conn:
        runs = list_runs(conn)
    assert [r["started_at_us"] for r in runs] == [NOW + DAY, NOW]
    assert all(r["finished_at_us"] is not None and r["report"]["policies"] for r in runs)


def test_one_run_a_day_whichever_process_claims_it(database_url: str, engine: Engine) -> None:
    """Every process runs the loop: the claim lets one of them start the day's run; a run
    whose process died (never finished) is taken for dead after the lease."""
    other = create_engine_for(database_url)  # a second process's pool
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            claims = list(pool.map(lambda e: claim_run(e, NOW, every_s=86_400.0), [engine, other]))
        assert sorted(c is None for c in claims) == [False, True], claims
        # the winner died mid-run: nobody may start another until the lease has passed
        assert claim_run(other, NOW + 60 * SECOND, every_s=86_400.0) is None
        assert next_run_us(engine, 86_400.0) == NOW + int(LEASE_S * SECOND)
        taken_over = claim_run(other, NOW + int(LEASE_S * SECOND), every_s=86_400.0)
        assert taken_over is not None
        apply_retention(other, POLICIES, now_us=NOW + int(LEASE_S * SECOND), run_id=taken_over)
        # finished: the next is a day after it started
        assert next_run_us(engine, 86_400.0) == NOW + int(LEASE_S * SECOND) + DAY
    finally:
        other.dispose()


def test_cli_show_run_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.cli.main import app

    monkeypatch.setenv("C360_DATABASE_URL", f"sqlite:///{tmp_path / 'c360.db'}")
    monkeypatch.delenv("C360_RETENTION_CONFIG", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["retention", "show"])
    assert result.exit_code == 0, result.output
    assert "no retention policies configured" in result.output
    assert "nothing is purged" in result.output
    config = tmp_path / "retention.yml"
    config.write_text(
        yaml.safe_dump(
            {"policies": [{"name": "quarantine", "quarantine": True, "keep": "90 days"}]}
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("C360_RETENTION_CONFIG", str(config))
    result = runner.invoke(app, ["retention", "show"])
    assert result.exit_code == 0, result.output
    assert "quarantine" in result.output and "90 days" in result.output
    result = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert result.exit_code == 0 and "nothing was changed" in result.output
    result = runner.invoke(app, ["retention", "run"])
    assert result.exit_code == 0 and "run 1: 0 removed" in result.output, result.output
    result = runner.invoke(app, ["retention", "runs", "--json"])
    assert result.exit_code == 0 and '"id": 1' in result.output
    config.write_text("policies:\n  - name: x\n    keep: 3 fortnights\n", encoding="utf-8")
    result = runner.invoke(app, ["retention", "run"])
    assert result.exit_code == 2 and "not a duration" in result.output
