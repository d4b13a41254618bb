"""The agent's briefing: what to know in ten seconds before answering a customer's call.

Who this is, how they like to be reached, what they bought and whether it arrived, what they
have complained about and how it was left, how they feel, what they are worth, and the one
thing to do next, so the customer does not have to tell their story again.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, or_, select

from c360.kernel.clock import isoformat_us, system_clock
from c360.profiles.golden import display_name, golden_values
from c360.profiles.service import get_profile
from c360.profiles.timeline import TimelineItem, timeline_page
from c360.profiles.traits import at_read, ticket_is_open
from c360.storage.tables import feedback_history, feedback_items, profiles

RECENT = 3
REQUESTS = 10
NOTES = 3
OPEN_FEEDBACK = ("new", "assigned", "in_progress")
CONTACT_FIELDS = ("email", "phone", "line_user_id", "zalo_user_id")
WHO_FIELDS = ("nickname", "gender", "birth_date", "language", "company", "job_title", "country")


@dataclass(frozen=True, slots=True)
class NextAction:
    action: str
    why: str


@dataclass(slots=True)
class Briefing:
    profile_id: str
    name: str | None
    summary: str
    who: dict[str, Any]
    contact: dict[str, Any]
    value: dict[str, Any]
    recent_orders: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    open_tickets: list[dict[str, Any]]
    recent_tickets: list[dict[str, Any]]
    feedback: dict[str, Any]
    next_action: NextAction
    requests: list[dict[str, Any]] = field(default_factory=list)
    """What they told us through any channel (feedback items, open ones first), with status,
    who has it, how it was resolved and the agents' latest notes."""
    counts: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "name": self.name,
            "summary": self.summary,
            "who": self.who,
            "contact": self.contact,
            "value": self.value,
            "recent_orders": self.recent_orders,
            "deliveries": self.deliveries,
            "open_tickets": self.open_tickets,
            "recent_tickets": self.recent_tickets,
            "feedback": self.feedback,
            "requests": self.requests,
            "next_action": {"action": self.next_action.action, "why": self.next_action.why},
            "counts": self.counts,
        }


def briefing(conn: Connection, profile_id: str, now_us: int | None = None) -> Briefing:
    """The briefing of a profile (an id merged into another gives the survivor's)."""
    now = system_clock() if now_us is None else now_us
    profile = get_profile(conn, profile_id)
    values = golden_values(profile.golden)
    computed = {**profile.computed, **at_read(profile.computed, now)}
    orders = _items(conn, profile.id, "order", RECENT)
    shipments = _items(conn, profile.id, "shipment", RECENT)
    tickets = _items(conn, profile.id, "ticket", 50)
    subscriptions = _items(conn, profile.id, "subscription", 20)
    open_tickets = [_ticket(t) for t in tickets if ticket_is_open(_fields(t))]
    name = display_name(values)
    contact = {f: values.get(f) for f in CONTACT_FIELDS if values.get(f)}
    contact.update(
        {
            "preferred_channel": computed.get("preferred_channel"),
            "best_hours": computed.get("best_contact_hours"),
            "best_weekdays": computed.get("best_contact_weekdays"),
            "delivery_address": values.get("latest_delivery_address"),
            "subscriptions": [_subscription(s) for s in subscriptions],
        }
    )
    value = {
        k: computed.get(k)
        for k in (
            "value_tier",
            "lifetime_value",
            "order_count",
            "average_order_value",
            "last_purchase_at_us",
            "days_since_last_purchase",
            "favourite_categories",
            "favourite_branch",
            "rfm",
            "churn_risk",
            "churn_risk_reasons",
        )
    }
    feedback = {k: computed.get(k) for k in ("last_nps", "sentiment", "days_since_last_contact")}
    deliveries = [_shipment(s) for s in shipments]
    requests = _requests(conn, profile.id)
    action = next_action(computed, open_tickets, deliveries, requests)
    who = {f: values.get(f) for f in WHO_FIELDS if values.get(f)}
    return Briefing(
        profile_id=profile.id,
        name=name,
        summary=_summary(name, computed, open_tickets, contact, requests),
        who=who,
        contact=contact,
        value=value,
        recent_orders=[_order(o) for o in orders],
        deliveries=deliveries,
        open_tickets=open_tickets,
        recent_tickets=[_ticket(t) for t in tickets[:RECENT]],
        feedback=feedback,
        next_action=action,
        requests=requests,
        counts={**profile.linked, "events": profile.event_count},
    )


def next_action(
    computed: dict[str, Any],
    open_tickets: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    requests: list[dict[str, Any]] | None = None,
) -> NextAction:
    """The first rule that applies, most urgent first."""
    urgent = [t for t in open_tickets if str(t.get("priority") or "").lower() in ("high", "urgent")]
    if urgent:
        t = urgent[0]
        return NextAction(
            f"Resolve ticket {t['ticket_id']} ({t.get('topic') or t.get('subject') or 'open'})",
            "an urgent ticket is still open",
        )
    waiting = [r for r in requests or [] if r["status"] in OPEN_FEEDBACK]
    if waiting:
        r = waiting[0]
        return NextAction(
            f"Update them on their {r['channel']} request #{r['id']} about {r['topic']} "
            f"({r['status'].replace('_', ' ')}"
            + (f", with {r['assignee']}" if r.get("assignee") else "")
            + ")",
            f"{len(waiting)} open request(s); the latest came in {r['received_at'][:10]}",
        )
    if open_tickets:
        t = open_tickets[0]
        return NextAction(
            f"Update them on ticket {t['ticket_id']}", f"{len(open_tickets)} open ticket(s)"
        )
    failed = [d for d in deliveries if "fail" in str(d.get("status") or "").lower()]
    if failed:
        return NextAction(
            f"Rebook delivery {failed[0]['shipment_id']}", "the last delivery attempt failed"
        )
    sentiment = computed.get("sentiment") or {}
    nps = computed.get("last_nps") or {}
    if nps.get("category") == "detractor" or sentiment.get("last") == "negative":
        return NextAction(
            "Acknowledge their last feedback and apologise", "recent feedback was negative"
        )
    risk = computed.get("churn_risk")
    if isinstance(risk, int | float) and risk >= 0.6:
        return NextAction("Offer a retention incentive", f"churn risk {risk:.2f}")
    if computed.get("value_tier") in ("vip", "high"):
        return NextAction("Thank them for their loyalty", f"{computed.get('value_tier')} customer")
    categories = computed.get("favourite_categories") or []
    if categories:
        return NextAction(f"Suggest new items in {categories[0]}", "their favourite category")
    return NextAction("Ask how we can help", "no open issue on record")


def _items(conn: Connection, profile_id: str, kind: str, limit: int) -> list[TimelineItem]:
    items, _next = timeline_page(conn, profile_id, limit=limit, kinds=frozenset({kind}))
    return [i for i in items if i.kind == kind]


def _fields(item: TimelineItem) -> dict[str, Any]:
    fields: dict[str, Any] = item.body.get("fields") or {}
    return fields


def _ticket(item: TimelineItem) -> dict[str, Any]:
    f = _fields(item)
    return {
        "ticket_id": f.get("ticket_id") or item.body.get("record_id"),
        "topic": f.get("topic"),
        "subject": f.get("subject"),
        "status": f.get("status"),
        "priority": f.get("priority"),
        "channel": f.get("channel"),
        "opened_at": isoformat_us(item.at_us),
        "agent": f.get("agent"),
        "last_note": f.get("notes") or f.get("description"),
        "source": item.source,
    }


def _order(item: TimelineItem) -> dict[str, Any]:
    f = _fields(item)
    return {
        "order_id": f.get("order_id") or item.body.get("record_id"),
        "at": isoformat_us(item.at_us),
        "total": f.get("total"),
        "status": f.get("status"),
        "store": f.get("store"),
        "channel": f.get("channel"),
        "lines": [
            {
                "product": line.get("product_name") or line.get("sku"),
                "quantity": line.get("quantity"),
            }
            for line in item.body.get("lines", [])
        ],
        "source": item.source,
    }


def _shipment(item: TimelineItem) -> dict[str, Any]:
    f = _fields(item)
    return {
        "shipment_id": f.get("shipment_id") or item.body.get("record_id"),
        "order_id": f.get("order_id"),
        "status": f.get("status"),
        "carrier": f.get("carrier"),
        "scheduled_at": f.get("scheduled_at"),
        "delivered_at": f.get("delivered_at"),
        "preferred_time": f.get("preferred_time"),
    }


def _subscription(item: TimelineItem) -> dict[str, Any]:
    f = _fields(item)
    return {
        "list": f.get("list_name"),
        "channel": f.get("channel"),
        "status": f.get("status"),
        "source": item.source,
    }


def _requests(conn: Connection, profile_id: str) -> list[dict[str, Any]]:
    """The profile's feedback items (also those filed under profiles merged into it), open
    ones first, newest first, with the latest notes."""
    merged = select(profiles.c.id).where(profiles.c.merged_into == profile_id)
    open_first = case((feedback_items.c.status.in_(OPEN_FEEDBACK), 0), else_=1)
    rows = conn.execute(
        select(feedback_items)
        .where(
            or_(feedback_items.c.profile_id == profile_id, feedback_items.c.profile_id.in_(merged))
        )
        .order_by(open_first, feedback_items.c.received_at_us.desc(), feedback_items.c.id.desc())
        .limit(REQUESTS)
    ).all()
    out = []
    for row in rows:
        notes = conn.execute(
            select(feedback_history.c.at_us, feedback_history.c.actor, feedback_history.c.detail)
            .where(feedback_history.c.feedback_id == row.id, feedback_history.c.action == "noted")
            .order_by(feedback_history.c.id.desc())
            .limit(NOTES)
        ).all()
        text = " — ".join(t for t in (row.subject, row.text) if t)
        out.append(
            {
                "id": row.id,
                "received_at": isoformat_us(row.received_at_us),
                "channel": row.channel,
                "text": text[:300] if text else None,
                "topic": row.topic,
                "sentiment": row.sentiment,
                "level": row.level,
                "status": row.status,
                "team": row.team,
                "assignee": row.assignee,
                "resolution": row.resolution,
                "notes": [
                    {"at": isoformat_us(n.at_us), "by": n.actor, "text": n.detail.get("text")}
                    for n in notes
                ],
            }
        )
    return out


def _summary(
    name: str | None,
    computed: dict[str, Any],
    open_tickets: list[dict[str, Any]],
    contact: dict[str, Any],
    requests: list[dict[str, Any]] | None = None,
) -> str:
    parts = [name or "Unnamed customer"]
    if computed.get("value_tier") not in (None, "none"):
        parts.append(str(computed["value_tier"]).upper())
    if computed.get("order_count"):
        parts.append(f"{computed['order_count']} orders")
    if open_tickets:
        parts.append(f"{len(open_tickets)} open ticket(s)")
    waiting = [r for r in requests or [] if r["status"] in OPEN_FEEDBACK]
    if waiting:
        parts.append(f"{len(waiting)} open request(s)")
    sentiment = (computed.get("sentiment") or {}).get("last")
    if sentiment:
        parts.append(f"sentiment {sentiment}")
    if contact.get("preferred_channel"):
        parts.append(f"prefers {contact['preferred_channel']}")
    return " · ".join(parts)
