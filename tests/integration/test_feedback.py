"""Feedback from every channel: collected from the log, analysed, prioritised, routed, moved
through its workflow, reported; over the service, the API and the CLI, on both stores."""

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.customer360 import load, process, track
from tests.factories import identify
from tests.factories import track as tracked

from c360.changes.feed import ChangeKind
from c360.feedback import report as reports
from c360.feedback import service
from c360.feedback.model import FeedbackConfig, Rule, Status, load_config
from c360.kernel.clock import system_clock
from c360.storage.tables import feedback_items, profile_changes
from c360.workers.feedback import feedback_cycle

CONFIG = FeedbackConfig()


def items(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(feedback_items).order_by(feedback_items.c.id)).all()


def feedback(user: str, text: str, event: str = "Feedback Submitted", **props: Any) -> Any:
    """A feedback event received now (the test log's clock is otherwise in the past, and
    feedback received more than a week before it is collected gets no SLA)."""
    return recent(tracked(user, event, properties={"text": text, **props}))


def recent(message: dict[str, Any]) -> dict[str, Any]:
    message["_at_us"] = system_clock()
    return message


def test_tracked_feedback_becomes_one_analysed_item_of_the_person(engine: Engine) -> None:
    person = identify("u-1", traits={"email": "mai@example.vn", "first_name": "Mai"})
    message = feedback("u-1", "Giao hàng quá chậm, tôi muốn hoàn tiền!", channel="zalo")
    track(engine, person, message, dict(message))  # a retried duplicate is stored once
    assert feedback_cycle(engine, CONFIG) == 1
    assert feedback_cycle(engine, CONFIG) == 0  # collecting again changes nothing
    [item] = items(engine)
    assert (item.language, item.sentiment, item.topic) == ("vi", "negative", "delivery")
    assert item.analysis["cues"] == ["refund"]
    assert item.channel == "zalo"
    assert item.team == "shipping"
    assert item.status == "new"
    assert item.profile_id is not None
    assert item.respond_by_us > item.received_at_us
    with engine.connect() as conn:
        kinds = conn.execute(
            select(profile_changes.c.kind, profile_changes.c.profile_id).where(
                profile_changes.c.kind == ChangeKind.FEEDBACK_RECEIVED.value
            )
        ).all()
    assert kinds == [(ChangeKind.FEEDBACK_RECEIVED.value, item.profile_id)]


def test_ratings_inferred_events_and_other_events(engine: Engine) -> None:
    track(
        engine,
        identify("u-2"),
        recent(tracked("u-2", "NPS Submitted", properties={"score": 3, "comment": "แอพเด้งตลอด"})),
        recent(tracked("u-2", "Payment Failed", properties={"amount": 990})),
        tracked("u-2", "Product Viewed"),
    )
    feedback_cycle(engine, CONFIG)
    nps, inferred = items(engine)
    assert (nps.rating, nps.rating_scale, nps.sentiment, nps.language) == (3, 10, "negative", "th")
    assert nps.topic == "website_app"
    assert (inferred.kind, inferred.topic, inferred.sentiment) == (
        "inferred",
        "billing",
        "negative",
    )
    assert inferred.team == "billing"


def test_tickets_and_feedback_records_from_files(engine: Engine, tmp_path: Path) -> None:
    load(
        engine,
        tmp_path,
        "helpdesk",
        "ticket",
        [
            {
                "id": "T-1",
                "ticket_id": "T-1",
                "email": "somchai@example.co.th",
                "subject": "เครื่องเป่าผมมีควันออกมา",
                "description": "ลูกค้าแจ้งว่าใช้แล้วมีควันและกลิ่นไหม้ อันตรายมาก",
                "status": "open",
                "channel": "phone",
                "opened_at": "2026-12-05T10:00:00+07:00",
            },
            {
                "id": "T-2",
                "ticket_id": "T-2",
                "email": "somchai@example.co.th",
                "subject": "Invoice copy",
                "description": "Customer asked for a tax invoice copy",
                "status": "closed",
                "opened_at": "2026-12-05T11:00:00+07:00",
            },
        ],
    )
    load(
        engine,
        tmp_path,
        "facebook",
        "feedback",
        [
            {
                "id": "fb-9",
                "feedback_id": "fb-9",
                "platform": "facebook",
                "text": "Love the new store in Chiang Mai, staff were so friendly!",
                "submitted_at": "2026-12-05T12:00:00+07:00",
            }
        ],
    )
    feedback_cycle(engine, CONFIG, now_us=system_clock())
    by_key = {row.origin_key: row for row in items(engine)}
    smoke = by_key["r:T-1"]
    assert "safety" in smoke.analysis["cues"]
    assert smoke.team == "service"  # the built-in rule: safety and legal go to service first
    assert smoke.level in ("P1", "P2")
    assert by_key["r:T-2"].status == "resolved"  # closed in the help desk already
    social = by_key["r:fb-9"]
    assert (social.kind, social.sentiment, social.channel) == ("indirect", "positive", "facebook")
    # the help desk closes the first ticket: its item is resolved here too
    load(
        engine,
        tmp_path,
        "helpdesk",
        "ticket",
        [
            {
                "id": "T-1",
                "ticket_id": "T-1",
                "email": "somchai@example.co.th",
                "subject": "เครื่องเป่าผมมีควันออกมา",
                "description": "ลูกค้าแจ้งว่าใช้แล้วมีควันและกลิ่นไหม้ อันตรายมาก",
                "status": "ปิดแล้ว",
                "channel": "phone",
                "opened_at": "2026-12-05T10:00:00+07:00",
            }
        ],
    )
    feedback_cycle(engine, CONFIG)
    assert {row.origin_key: row.status for row in items(engine)}["r:T-1"] == "resolved"
    assert len(items(engine)) == 3


def test_priority_rises_with_value_open_orders_and_urgency(engine: Engine) -> None:
    calm = feedback("u-3", "The colour is a bit different from the photo")
    angry = feedback("u-3", "THIRD TIME I'm writing: the parcel never arrived. I'll call my lawyer")
    track(engine, identify("u-3"), calm, angry)
    feedback_cycle(engine, CONFIG)
    low, high = items(engine)
    assert high.priority > low.priority
    assert high.factors["urgency"] == 1.0  # legal
    assert high.level in ("P1", "P2")
    assert "legal" in high.analysis["cues"] and "anger" in high.analysis["cues"]


def test_routing_rules_are_data_and_checked_in_order(engine: Engine) -> None:
    config = FeedbackConfig(
        rules=(
            Rule(team="vip-desk", level=("P1",)),
            Rule(team="vn-service", language=("vi",), topic=("service",)),
        )
    )
    track(engine, identify("u-4"), feedback("u-4", "Nhân viên thái độ kém, không trả lời"))
    feedback_cycle(engine, config)
    [item] = items(engine)
    assert item.team == "vn-service"


def test_a_topic_spike_is_detected_against_the_days_before(engine: Engine) -> None:
    day = 86_400_000_000
    now = system_clock()
    messages: list[dict[str, Any]] = [identify("u-5")]
    for back in range(1, 15):  # one billing complaint a day for two weeks
        m = feedback("u-5", "charged twice on my card")
        m["_at_us"] = now - back * day
        messages.append(m)
    track(engine, *messages)
    feedback_cycle(engine, CONFIG, now_us=now)
    with engine.connect() as conn:
        assert not service.spike_for(conn, CONFIG, "billing", now)["spike"]
    again = [feedback("u-5", "charged twice AGAIN") for _ in range(6)]
    for m in again:
        m["_at_us"] = now
    track(engine, *again)
    feedback_cycle(engine, CONFIG, now_us=now)
    with engine.connect() as conn:  # one customer writing six times is not a spike
        assert service.spike_for(conn, CONFIG, "billing", now)["count"] == 1
    today = [feedback(f"u-5{i}", "I was charged twice, fix this") for i in range(6)]
    for m in today:
        m["_at_us"] = now
    track(engine, *today)
    feedback_cycle(engine, CONFIG, now_us=now)
    with engine.connect() as conn:
        spike = service.spike_for(conn, CONFIG, "billing", now)
    assert spike["spike"] and spike["count"] == 7
    assert items(engine)[-1].factors["topic_spike"] is True


def test_workflow_moves_and_refuses_wrong_moves(engine: Engine) -> None:
    track(engine, identify("u-6"), feedback("u-6", "App crashes at checkout"))
    feedback_cycle(engine, CONFIG)
    [item] = items(engine)
    with engine.begin() as conn:
        with pytest.raises(Exception, match=r"from there it can go"):
            service._move(conn, item.id, Status.NOTIFIED, "t", system_clock(), {})
        service.assign(conn, item.id, assignee="nok", team=None, actor="t")
        service.start(conn, item.id, actor="t")
        service.add_note(conn, item.id, text="reproduced on Android 14", actor="t")
        row = service.resolve(conn, item.id, resolution="fixed in 4.2.1", actor="t")
        assert row.status == "resolved" and row.responded_at_us and row.resolved_at_us
        actions = [h["action"] for h in service.history(conn, item.id)]
    assert actions == ["received", "assigned", "started", "noted", "resolved"]
    with engine.connect() as conn:
        moves = conn.execute(
            select(func.count()).where(
                profile_changes.c.kind == ChangeKind.FEEDBACK_STATUS_CHANGED.value
            )
        ).scalar_one()
    assert moves == 3
    process(engine)  # the moves are on the person's timeline, as c360's own events
    from c360.profiles.timeline import timeline_page

    with engine.connect() as conn:
        page, _ = timeline_page(conn, item.profile_id, limit=50)
    changed = [i.body for i in page if i.body.get("event") == "Feedback Status Changed"]
    assert sorted(b["properties"]["status"] for b in changed) == [
        "assigned",
        "in_progress",
        "resolved",
    ]


def test_sla_breach_alerts_once(engine: Engine) -> None:
    now = system_clock()
    track(engine, identify("u-7"), feedback("u-7", "Where is my order?? still not here"))
    feedback_cycle(engine, CONFIG, now_us=now)
    later = now + 10 * 86_400_000_000
    assert service.check_slas(engine, now_us=later) == 2  # respond and resolve
    assert service.check_slas(engine, now_us=later) == 0
    [item] = items(engine)
    assert sorted(item.breached) == ["resolve", "respond"]


def test_report_counts_volume_nps_csat_and_sla(engine: Engine) -> None:
    track(
        engine,
        identify("u-8"),
        recent(tracked("u-8", "NPS Submitted", properties={"score": 10})),
        recent(tracked("u-8", "NPS Submitted", properties={"score": 9})),
        recent(
            tracked("u-8", "NPS Submitted", properties={"score": 2, "comment": "slow delivery"})
        ),
        recent(
            tracked("u-8", "Product Reviewed", properties={"rating": 5, "review_body": "great"})
        ),
        recent(
            tracked("u-8", "Product Reviewed", properties={"rating": 2, "review_body": "broken"})
        ),
    )
    now = system_clock()
    feedback_cycle(engine, CONFIG, now_us=now)
    with engine.connect() as conn:
        result = reports.build_report(conn, CONFIG, until_us=now + 1, period="week").as_json()
    assert result["totals"]["items"] == 5
    [nps] = result["nps"]
    assert (nps["promoters"], nps["detractors"], nps["nps"]) == (2, 1, 33.3)
    [csat] = result["csat"]
    assert (csat["responses"], csat["csat"], csat["average"]) == (2, 50.0, 3.5)
    assert sum(v["count"] for v in result["volume"]) == 5
    assert result["top_issues"][0]["items"] >= 1
    assert [s["level"] for s in result["sla"]] == ["P1", "P2", "P3", "P4"]


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "feedback.yml"
    path.write_text("levels: {P1: 10, P2: 50, P3: 30}\nweights: {urgency: -1}\n", "utf-8")
    with pytest.raises(Exception, match=r"levels.*fall|weights.urgency") as caught:
        load_config(path)
    assert "feedback.yml" in str(caught.value)
    path.write_text("teams: {delivery: couriers}\nspike_min: 3\n", "utf-8")
    assert load_config(path).teams["delivery"] == "couriers"


def test_api_lists_shows_assigns_and_resolves(database_url: str, engine: Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient
    from tests.conftest import make_keys

    from c360.api.app import build_app
    from c360.settings import Settings

    track(engine, identify("u-9"), feedback("u-9", "Rude staff at the Siam branch"))
    feedback_cycle(engine, CONFIG)
    _, admin = make_keys(database_url)
    app = build_app(Settings(database_url=database_url), engine, run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {admin}"}
        page = client.get("/api/feedback?status=open", headers=auth).json()
        [item] = page["items"]
        assert item["topic"] == "service" and item["sentiment"] == "negative"
        assigned = client.post(
            f"/api/feedback/{item['id']}/assign", json={"assignee": "ploy"}, headers=auth
        )
        assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
        bad = client.post(f"/api/feedback/{item['id']}/resolve", json={}, headers=auth)
        assert bad.status_code == 422
        done = client.post(
            f"/api/feedback/{item['id']}/resolve",
            json={"resolution": "Spoke to the branch manager"},
            headers=auth,
        )
        assert done.json()["item"]["status"] == "resolved" and done.json()["notify"] is None
        shown = client.get(f"/api/feedback/{item['id']}", headers=auth).json()
        assert [h["action"] for h in shown["history"]] == ["received", "assigned", "resolved"]
        mine = client.get(f"/api/feedback?status=all&profile_id={item['profile_id']}", headers=auth)
        assert mine.status_code in (200, 422)
        assert client.get("/api/feedback/999999", headers=auth).status_code == 404
        assert client.get("/api/feedback", headers={}).status_code == 401
        report = client.get("/api/feedback/report?period=week", headers=auth)
        assert report.status_code == 200 and report.json()["totals"]["items"] == 1


def test_cli_lists_and_resolves(tmp_path: Path) -> None:
    """As an operator runs it: each command a new process, on SQLite (what the commands call
    is tested on both stores above)."""
    from tests.cli import c360

    from c360.storage import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = open_store(url)
    track(engine, identify("u-10"), feedback("u-10", "ส่งของช้ามาก รอมาสองอาทิตย์แล้ว"))
    engine.dispose()
    collected = c360(url, "feedback", "collect")
    assert collected.returncode == 0, collected.stderr
    assert "1 new feedback" in collected.stdout
    listed = c360(url, "feedback", "list", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["language"], row["topic"], row["sentiment"]) == ("th", "delivery", "negative")
    wrong = c360(url, "feedback", "resolve", str(row["id"]), "--resolution", " ")
    assert wrong.returncode == 2 and "say how it was resolved" in wrong.stderr
    done = c360(
        url, "feedback", "resolve", str(row["id"]), "--resolution", "re-sent", "--actor", "nok"
    )
    assert done.returncode == 0 and "resolved" in done.stdout
    shown = c360(url, "feedback", "show", str(row["id"]), "--json")
    assert [h["action"] for h in json.loads(shown.stdout)["history"]] == ["received", "resolved"]


def test_cli_reads_a_mailbox_folder_into_feedback(tmp_path: Path) -> None:
    from tests.cli import c360

    url = f"sqlite:///{tmp_path / 'mail.db'}"
    mails = tmp_path / "inbox"
    mails.mkdir()
    (mails / "1.eml").write_text(
        "From: Ploy <ploy@example.co.th>\r\nTo: care@shop.example\r\n"
        "Subject: =?utf-8?b?4Liq4LmI4LiH4LiC4Lit4LiH4LiK4LmJ4Liy?=\r\n"
        "Message-ID: <m1@example.co.th>\r\nDate: Sat, 05 Dec 2026 09:00:00 +0700\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "สั่งของไปสองอาทิตย์แล้ว ยังไม่ได้รับเลยค่ะ\r\n",
        "utf-8",
    )
    (mails / "2.eml").write_text("Subject: no sender\r\n\r\nhello\r\n", "utf-8")
    read = c360(url, "feedback", "mailbox", str(mails))
    assert read.returncode == 0, read.stderr
    assert "read 2 mail(s): 1 new feedback, 0 already imported, 1 quarantined" in read.stdout
    again = c360(url, "feedback", "mailbox", str(mails))
    assert "0 new feedback, 1 already imported" in again.stdout
    from tests.customer360 import process

    from c360.storage import open_store

    engine = open_store(url)
    process(engine)
    feedback_cycle(engine, CONFIG)
    [item] = items(engine)
    engine.dispose()
    assert (item.channel, item.language, item.topic) == ("email", "th", "delivery")
