"""Closing the loop: telling the customer their feedback was resolved, through activation.

The thank-you goes through the same outbox and dispatcher as a journey's messages, so it is
sent once, retried, recorded on the person's timeline ("Email Sent", "LINE Message Sent"...)
and cancelled if the address is suppressed. Before it is queued:

- the channel is the person's preferred one when it is among ``notify.channels`` and has a
  provider, else the first of those the person can be reached on;
- consent: by default a reply to someone who wrote in goes unless they withdrew
  ``notify.consent_purpose`` on that channel; with ``require_opt_in`` only with it given (and
  the dispatcher checks again before sending);
- quiet hours: outside ``notify.hours`` in the person's time zone the message waits in the
  outbox until they open.

The item moves to ``customer_notified`` when the dispatcher reports the message sent
(:func:`c360.feedback.service.follow_notifications`).
"""

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from c360.activation import policy, templates
from c360.activation.channels import ChannelName
from c360.activation.engine import addresses_of, load_person, person_country
from c360.activation.outbox import QueuedMessage, queue
from c360.errors import InvalidInput
from c360.feedback.model import FeedbackConfig, Status
from c360.feedback.service import get_item, live_profile, record_history
from c360.kernel.clock import system_clock
from c360.storage.tables import feedback_items, suppressions


@dataclass(frozen=True, slots=True)
class Notified:
    queued: bool
    channel: str | None
    send_at_us: int | None
    reason: str
    message_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "channel": self.channel,
            "send_at_us": self.send_at_us,
            "reason": self.reason,
            "message_key": self.message_key,
        }


def message_key(item_id: int) -> str:
    return f"feedback-{item_id}-thanks"


def notify_customer(
    conn: Connection,
    config: FeedbackConfig,
    item_id: int,
    *,
    available: Set[ChannelName],
    default_tz: str,
    actor: str,
    now_us: int | None = None,
) -> Notified:
    """Queue the thank-you for a resolved item; the result says what was done and why."""
    now = system_clock() if now_us is None else now_us
    row = get_item(conn, item_id)
    if row.status != Status.RESOLVED.value:
        raise InvalidInput(
            f"feedback {item_id} is {row.status}: only a resolved item's customer is notified"
        )
    if row.message_key:
        return Notified(False, None, None, "the customer was already notified", row.message_key)
    profile_id = live_profile(conn, row.profile_id)
    if profile_id is None:
        return _skipped(conn, item_id, actor, now, "the feedback is linked to no known person")
    person = load_person(conn, profile_id, default_tz)
    if person is None:
        return _skipped(conn, item_id, actor, now, "the person's profile is gone")
    rules = config.notify
    allowed = [ChannelName(c) for c in rules.channels if c in {x.value for x in ChannelName}]
    allowed = [c for c in allowed if c in available]
    if not allowed:
        return _skipped(conn, item_id, actor, now, "none of the notify channels has a provider")
    reachable = addresses_of(person)
    blocked = _suppressed(conn, reachable)
    usable = {c: a for c, a in reachable.items() if c not in blocked}
    consent = person.view.get("c", {})
    consented = {
        c for c in allowed if _may(consent, rules.consent_purpose, c, rules.require_opt_in)
    }
    preferred = person.values.get("preferred_channel")
    choice = policy.choose_channel(
        [ChannelName(preferred)] if preferred in {c.value for c in allowed} else [],
        usable,
        consented,
        allowed,
    )
    if isinstance(choice, policy.Skip):
        reason = choice.reason + ("; suppressed: " + ", ".join(sorted(blocked)) if blocked else "")
        return _skipped(conn, item_id, actor, now, reason)
    language = row.language if row.language in rules.body else "en"
    try:
        template = templates.compile_template(
            body=rules.body[language], subject=rules.subject.get(language)
        )
        rendered = templates.render(
            template,
            {
                "profile": dict(person.values),
                "event": {
                    "name": "Feedback Resolved",
                    "feedback_id": item_id,
                    "topic": row.topic,
                    "resolution": row.resolution or "",
                },
            },
        )
    except templates.TemplateError as exc:
        return _skipped(conn, item_id, actor, now, f"the thank-you template failed: {exc}")
    book = policy.rules_from_config(
        {"*/*/transactional": {"hours": rules.hours, "source": "feedback notify hours"}},
        base=policy.RuleBook({}),
        path="feedback.notify",
    )
    verdict = policy.check_send(
        book,
        country=person_country(person.values),
        channel=choice.channel,
        purpose="transactional",
        tz=person.tz,
        now_us=now,
        history_us=(),
        body=rendered.body,
    )
    if isinstance(verdict, policy.Block):
        return _skipped(conn, item_id, actor, now, verdict.reason)
    send_at = verdict.until_us if isinstance(verdict, policy.Defer) else now
    key = message_key(item_id)
    queue(
        conn,
        QueuedMessage(
            key=key,
            journey_id=None,
            entry_id=None,
            step="feedback",
            profile_id=profile_id,
            channel=choice.channel.value,
            address=choice.address,
            purpose="transactional",
            consent=rules.consent_purpose if rules.require_opt_in else None,
            subject=rendered.subject,
            body=rendered.body,
            html=None,
        ),
        send_at,
    )
    conn.execute(
        update(feedback_items)
        .where(feedback_items.c.id == item_id)
        .values(message_key=key, updated_at_us=now)
    )
    reason = "queued" if send_at == now else f"waits for {rules.hours} local time"
    record_history(
        conn,
        item_id,
        now,
        actor,
        "notify_queued",
        row.status,
        row.status,
        {"channel": choice.channel.value, "message": key, "send_at_us": send_at},
    )
    return Notified(True, choice.channel.value, send_at, reason, key)


def _may(consent: Any, purpose: str, channel: ChannelName, opt_in: bool) -> bool:
    given = consent.get(purpose) if isinstance(consent, Mapping) else None
    if not isinstance(given, Mapping):
        return not opt_in
    said = given.get(channel.value)
    if isinstance(said, bool):
        return said
    everywhere = given.get("*")
    if isinstance(everywhere, bool):
        return everywhere
    return not opt_in


def _suppressed(conn: Connection, reachable: Mapping[ChannelName, str]) -> set[str]:
    if not reachable:
        return set()
    rows = conn.execute(
        select(suppressions.c.channel, suppressions.c.address).where(
            suppressions.c.address.in_(sorted(set(reachable.values())))
        )
    ).all()
    return {
        c.value
        for c, a in reachable.items()
        if any(r.address == a and r.channel in (c.value, "*") for r in rows)
    }


def _skipped(conn: Connection, item_id: int, actor: str, now: int, reason: str) -> Notified:
    row = get_item(conn, item_id)
    record_history(
        conn, item_id, now, actor, "notify_skipped", row.status, row.status, {"reason": reason}
    )
    return Notified(False, None, None, reason)
