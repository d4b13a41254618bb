"""The agent's briefing: what to know in ten seconds before answering a customer's call.

Who this is, how they like to be reached, what they bought and whether it arrived, what they
have complained about and how it was left, how they feel, what they are worth, and the one
thing to do next, so the customer does not have to tell their story again.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from c360.kernel.clock import isoformat_us, system_clock
from c360.profiles.golden import display_name, golden_values
from c360.profiles.service import get_profile
from c360.profiles.timeline import TimelineItem, timeline_page
from c360.profiles.traits import at_read, ticket_is_open

RECENT = 3
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
    action = next_action(computed, open_tickets, deliveries)
    who = {f: values.get(f) for f in WHO_FIELDS if values.get(f)}
    return Briefing(
        profile_id=profile.id,
        name=name,
        summary=_summary(name, computed, open_tickets, contact),
        who=who,
        contact=contact,
        value=value,
        recent_orders=[_order(o) for o in orders],
        deliveries=deliveries,
        open_tickets=open_tickets,
        recent_tickets=[_ticket(t) for t in tickets[:RECENT]],
        feedback=feedback,
        next_action=action,
        counts={**profile.linked, "events": profile.event_count},
    )


def next_action(
    computed: dict[str, Any], open_tickets: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> NextAction:
    """The first rule that applies, most urgent first."""
    urgent = [t for t in open_tickets if str(t.get("priority") or "").lower() in ("high", "urgent")]
    if urgent:
        t = urgent[0]
        return NextAction(
            f"Resolve ticket {t['ticket_id']} ({t.get('topic') or t.get('subject') or 'open'})",
            "an urgent ticket is still open",
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


def _summary(
    name: str | None,
    computed: dict[str, Any],
    open_tickets: list[dict[str, Any]],
    contact: dict[str, Any],
) -> str:
    parts = [name or "Unnamed customer"]
    if computed.get("value_tier") not in (None, "none"):
        parts.append(str(computed["value_tier"]).upper())
    if computed.get("order_count"):
        parts.append(f"{computed['order_count']} orders")
    if open_tickets:
        parts.append(f"{len(open_tickets)} open ticket(s)")
    sentiment = (computed.get("sentiment") or {}).get("last")
    if sentiment:
        parts.append(f"sentiment {sentiment}")
    if contact.get("preferred_channel"):
        parts.append(f"prefers {contact['preferred_channel']}")
    return " · ".join(parts)
