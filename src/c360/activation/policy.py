"""Who may be sent what, when, and on which channel: pure decisions over what the engine read.

The engine reads the person's addresses, consents, preferred channels and send history from the
store, then asks, in order:

1. :func:`choose_channel`: the first channel, in the person's order of preference and then the
   journey step's, that the person can be reached on and has consented to;
2. :func:`check_send`: whether a message may go now under the send rules for the person's
   country, the channel and the purpose, or must wait (:class:`Defer`), or must not go
   (:class:`Block`). :func:`check_label` runs the label part alone when a template is saved.

Send rules are data: a :class:`RuleBook` maps ``(country, channel, purpose)`` to a
:class:`Rule`, where country and channel may be ``"*"``. The most specific entry applies alone
(``VN/sms/marketing`` before ``VN/*/marketing`` before ``*/sms/marketing`` before
``*/*/marketing``); rules are not merged. :data:`DEFAULT_RULES` holds the built-in ones and
:func:`rules_from_config` overrides them from configuration.

Built-in rules (docs/activation-rules.md explains each):

- Vietnam, advertising SMS (Decree 91/2020/ND-CP, art. 13 and 15): 07:00-22:00 in
  Asia/Ho_Chi_Minh, at most 3 per phone number in any 24 hours, each starting with ``[QC]``
  (or ``[AD]``).
- Vietnam, advertising email (art. 13): at most 3 per address in any 24 hours.
- Everywhere else, marketing on any channel: 08:00-21:00 in the person's own time zone,
  deferred to the next opening rather than dropped. Thailand has no statutory hours or caps
  for marketing messages that c360 knows of, so the same default applies there.
- Transactional messages (receipts, one-time codes, delivery updates): no hours, no caps.

Times are epoch microseconds (``c360.kernel.clock``); windows are in seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from c360.activation.channels import ChannelName
from c360.errors import InvalidInput
from c360.kernel.clock import from_us, to_us

Purpose = Literal["marketing", "transactional"]
Action = Literal["defer", "block"]
PURPOSES: Final[tuple[str, ...]] = get_args(Purpose)
_ACTIONS: Final[tuple[str, ...]] = get_args(Action)
_US: Final = 1_000_000
_DAY_S: Final = 86_400


# --- choosing a channel ---------------------------------------------------------------------

_ADDRESS: Final = {
    ChannelName.EMAIL: "email address",
    ChannelName.SMS: "phone number",
    ChannelName.LINE: "LINE user id",
    ChannelName.ZALO: "Zalo user id",
    ChannelName.PUSH: "push token",
    ChannelName.WEBHOOK: "webhook address",
}
_LABEL: Final = {
    ChannelName.EMAIL: "email",
    ChannelName.SMS: "SMS",
    ChannelName.LINE: "LINE",
    ChannelName.ZALO: "Zalo",
    ChannelName.PUSH: "push",
    ChannelName.WEBHOOK: "webhook",
}

_LABEL_OF: Final = {channel.value: label for channel, label in _LABEL.items()}


@dataclass(frozen=True, slots=True)
class Choice:
    """Send on ``channel`` to ``address``."""

    channel: ChannelName
    address: str


@dataclass(frozen=True, slots=True)
class Skip:
    """No channel fits; ``reason`` says why for each channel tried, in order."""

    reason: str


def choose_channel(
    preferred: Sequence[ChannelName],
    reachable: Mapping[ChannelName, str],
    consented: Set[ChannelName],
    allowed: Sequence[ChannelName],
) -> Choice | Skip:
    """The person's preferred channels first, then the step's order; only ``allowed`` ones.

    ``reachable`` holds the person's address on each channel (an empty one does not count);
    ``consented`` the channels they agreed to for this message's purpose.
    """
    order = list(dict.fromkeys([c for c in preferred if c in allowed] + list(allowed)))
    if not order:
        return Skip("the step allows no channel")
    reasons = []
    for channel in order:
        address = reachable.get(channel, "")
        if not address.strip():
            reasons.append(f"no {_ADDRESS[channel]}")
        elif channel not in consented:
            reasons.append(f"no consent for {_LABEL[channel]}")
        else:
            return Choice(channel, address)
    return Skip("; ".join(reasons))


# --- send rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hours:
    """Local times sends are allowed: from ``start_s`` up to (not including) ``end_s``.

    Seconds after local midnight, ``0 <= start_s < end_s <= 86400``; a window does not cross
    midnight.
    """

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s <= _DAY_S:
            raise ValueError(f"hours must satisfy 00:00 <= start < end <= 24:00, not {self}")

    def __str__(self) -> str:
        return f"{_clock(self.start_s)}–{_clock(self.end_s)}"

    def holds(self, second_of_day: float) -> bool:
        return self.start_s <= second_of_day < self.end_s


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``max_sends`` in any ``window_s`` seconds (a rolling window)."""

    max_sends: int
    window_s: int


@dataclass(frozen=True, slots=True)
class Rule:
    """The send rule for one (country, channel, purpose)."""

    hours: Hours | None = None
    """Allowed local hours; None: any time."""
    zone: str | None = None
    """Read ``hours`` and local days in this IANA zone instead of the person's own."""
    outside_hours: Action = "defer"
    caps: tuple[Cap, ...] = ()
    max_per_local_day: int | None = None
    """At most this many per calendar day in the person's (or ``zone``'s) time."""
    over_cap: Action = "block"
    label_prefixes: tuple[str, ...] = ()
    """The message must start with one of these, exactly."""
    source: str = ""
    """Where the rule comes from, quoted in reasons."""


RuleKey = tuple[str, str, str]
"""(country ``"VN"`` or ``"*"``, channel ``"sms"`` or ``"*"``, purpose)."""


@dataclass(frozen=True, slots=True)
class RuleBook:
    rules: Mapping[RuleKey, Rule]

    def rule_for(self, country: str, channel: str, purpose: str) -> Rule:
        """The most specific rule for the send; a blank rule (no limits) when none matches."""
        where, via = country.upper(), str(channel)
        for key in ((where, via, purpose), (where, "*", purpose), ("*", via, purpose)):
            if key in self.rules:
                return self.rules[key]
        return self.rules.get(("*", "*", purpose), Rule())


def _book(rules: Mapping[RuleKey, Rule]) -> RuleBook:
    return RuleBook(MappingProxyType(dict(rules)))


_H: Final = 3600
# Decree 91/2020/ND-CP on combating spam messages, emails and calls, in force 1 October 2020.
# Art. 13 (principles for sending advertising messages, emails and calls): an advertiser may
# send no more than 03 advertising text messages to one phone number, and no more than 03
# advertising emails to one address, "trong vòng 24 giờ" - within 24 hours - unless otherwise
# agreed with the user; and advertising text messages only "từ 07 giờ đến 22 giờ mỗi ngày",
# from 07:00 to 22:00 each day. Summaries often say "3 a day"; the text counts any 24 hours,
# which is the stricter reading (3 at 21:00 and 3 more at 07:00 is 6 within 10 hours), so the
# cap is a rolling 24-hour window, not a calendar day. Art. 15: every advertising message
# carries a label at the very start of its content, "[QC]" or "[AD]". (Article numbers as the
# Vinanet, Zing News, LawNet and LSX Law Firm summaries quote the decree; see
# docs/activation-rules.md.)
_DECREE_91: Final = "Decree 91/2020/ND-CP"
VN_ADVERTISING_SMS: Final = Rule(
    hours=Hours(7 * _H, 22 * _H),
    zone="Asia/Ho_Chi_Minh",
    outside_hours="defer",
    caps=(Cap(3, 24 * _H),),
    over_cap="block",
    label_prefixes=("[QC]", "[AD]"),
    source=f"{_DECREE_91} art. 13, 15",
)
VN_ADVERTISING_EMAIL: Final = Rule(
    hours=Hours(8 * _H, 21 * _H),
    caps=(Cap(3, 24 * _H),),
    over_cap="block",
    source=f"{_DECREE_91} art. 13; hours: c360 default",
)
MARKETING_DEFAULT: Final = Rule(hours=Hours(8 * _H, 21 * _H), source="c360 default")
DEFAULT_RULES: Final = _book(
    {
        ("VN", ChannelName.SMS.value, "marketing"): VN_ADVERTISING_SMS,
        ("VN", ChannelName.EMAIL.value, "marketing"): VN_ADVERTISING_EMAIL,
        ("*", "*", "marketing"): MARKETING_DEFAULT,
        ("*", "*", "transactional"): Rule(source="c360 default"),
    }
)


def default_rules() -> RuleBook:
    """The built-in rules (a factory, for dataclass defaults)."""
    return DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class Allow:
    """The message may go now."""


@dataclass(frozen=True, slots=True)
class Defer:
    """Not now; ask again at ``until_us``, the first moment the rules allow."""

    until_us: int
    reason: str


@dataclass(frozen=True, slots=True)
class Block:
    """The message must not go; ``reason`` is short and safe to store and show."""

    reason: str


def check_label(
    rulebook: RuleBook, *, country: str, channel: str, purpose: Purpose, text: str
) -> Allow | Block:
    """Whether ``text`` starts with the label the rules require (saving a template, sending).

    A template body starting with ``{{`` cannot be checked before it renders and is blocked:
    write the label as literal text.
    """
    rule = rulebook.rule_for(country, channel, purpose)
    return _label(rule, country, channel, text)


def _label(rule: Rule, country: str, channel: str, text: str) -> Allow | Block:
    if not rule.label_prefixes:
        return Allow()
    if unicodedata.normalize("NFC", text).startswith(rule.label_prefixes):
        return Allow()
    labels = " or ".join(rule.label_prefixes)
    return Block(
        f"{_LABEL_OF.get(str(channel), str(channel))} advertising in {country.upper()} "
        f"must start with {labels}{_cite(rule)}"
    )


def check_send(
    rulebook: RuleBook,
    *,
    country: str,
    channel: str,
    purpose: Purpose,
    tz: ZoneInfo,
    now_us: int,
    history_us: Sequence[int],
    body: str,
) -> Allow | Defer | Block:
    """Whether one message may go to one person now.

    ``tz`` is the person's time zone; ``history_us`` the times of earlier sends to them on
    this channel for this purpose (the engine chooses what counts; every entry counts, even
    one a little after ``now_us``); ``body`` the rendered text, for the label. A missing
    label or a rule set to ``block`` gives Block; otherwise the first allowed time gives Defer.
    """
    rule = rulebook.rule_for(country, channel, purpose)
    label = _label(rule, country, channel, body)
    if isinstance(label, Block):
        return label
    zone = _zone(rule.zone) if rule.zone else tz
    capped = _over_caps(rule, zone, now_us, history_us)
    closed = _closed(rule, zone, now_us)
    if capped and rule.over_cap == "block":
        return Block("; ".join(capped) + _cite(rule))
    if closed and rule.outside_hours == "block":
        return Block(closed + _cite(rule))
    if not capped and not closed:
        return Allow()
    until = _earliest(rule, zone, now_us, history_us)
    if until is None:
        return Block("no time within a year satisfies the send rules" + _cite(rule))
    return Defer(until, "; ".join([*capped, *([closed] if closed else [])]) + _cite(rule))


def _cite(rule: Rule) -> str:
    return f" ({rule.source})" if rule.source else ""


def _over_caps(rule: Rule, zone: ZoneInfo, at_us: int, history_us: Sequence[int]) -> list[str]:
    reasons = []
    for cap in rule.caps:
        if _cap_free_at(cap, at_us, history_us) is not None:
            reasons.append(
                f"{cap.max_sends} sent in the last {_span(cap.window_s)} already; "
                f"at most {cap.max_sends} per {_span(cap.window_s)}"
            )
    day_limit = rule.max_per_local_day
    if day_limit is not None and _day_free_at(day_limit, zone, at_us, history_us) is not None:
        reasons.append(f"{day_limit} sent today in {zone.key} already; at most {day_limit} a day")
    return reasons


def _closed(rule: Rule, zone: ZoneInfo, at_us: int) -> str | None:
    if rule.hours is None or rule.hours.holds(_second_of_day(at_us, zone)):
        return None
    local = from_us(at_us).astimezone(zone)
    return f"sends only {rule.hours} in {zone.key}, and it is {local:%H:%M:%S} there"


def _cap_free_at(cap: Cap, at_us: int, history_us: Sequence[int]) -> int | None:
    """None when a send at ``at_us`` fits the cap, else the first moment one would."""
    window_us = cap.window_s * _US
    recent = sorted(h for h in history_us if h > at_us - window_us)
    if len(recent) < cap.max_sends:
        return None
    # A send stops counting once the window has passed it; enough must leave to make room.
    return recent[len(recent) - cap.max_sends] + window_us


def _day_free_at(limit: int, zone: ZoneInfo, at_us: int, history_us: Sequence[int]) -> int | None:
    today = from_us(at_us).astimezone(zone).date()
    sent = sum(1 for h in history_us if from_us(h).astimezone(zone).date() == today)
    if sent < limit:
        return None
    return _first_instant(today + timedelta(days=1), 0, zone)


def _earliest(rule: Rule, zone: ZoneInfo, now_us: int, history_us: Sequence[int]) -> int | None:
    """The first moment from ``now_us`` at which every cap has room and the hours are open."""
    at = now_us
    horizon = now_us + 366 * _DAY_S * _US
    while at <= horizon:
        waits = [_cap_free_at(cap, at, history_us) for cap in rule.caps]
        if rule.max_per_local_day is not None:
            waits.append(_day_free_at(rule.max_per_local_day, zone, at, history_us))
        later = max([at, *(w for w in waits if w is not None)])
        if rule.hours is not None:
            later = _next_open(rule.hours, zone, later)
        if later == at:
            return at
        at = later
    return None


def _second_of_day(at_us: int, zone: ZoneInfo) -> float:
    local = from_us(at_us).astimezone(zone)
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / _US


def _next_open(hours: Hours, zone: ZoneInfo, at_us: int) -> int:
    if hours.holds(_second_of_day(at_us, zone)):
        return at_us
    local = from_us(at_us).astimezone(zone)
    day = local.date()
    if _second_of_day(at_us, zone) >= hours.start_s:
        day += timedelta(days=1)
    return _first_instant(day, hours.start_s, zone)


def _first_instant(day: date, second_of_day: int, zone: ZoneInfo) -> int:
    """The first moment the clocks in ``zone`` show ``second_of_day`` or later on ``day``.

    A wall time that happens twice (clocks going back) is its first occurrence; one that never
    happens (clocks going forward over it) is the moment the clocks jump past it.
    """
    wall = datetime.combine(day, time()) + timedelta(seconds=second_of_day)
    early = to_us(wall.replace(tzinfo=zone, fold=0))
    if from_us(early).astimezone(zone).replace(tzinfo=None) == wall:
        return early
    # In a gap fold=0 lands after the jump and fold=1 before it: find the jump between them.
    lo, hi = to_us(wall.replace(tzinfo=zone, fold=1)), early
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if from_us(mid).astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _span(seconds: int) -> str:
    if seconds % 86_400 == 0 and seconds > 86_400 * 2:
        return f"{seconds // 86_400} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- rules from configuration ---------------------------------------------------------------

_FIELDS: Final = (
    "hours",
    "zone",
    "outside_hours",
    "caps",
    "max_per_local_day",
    "over_cap",
    "label_prefixes",
    "source",
)
_KEY: Final = re.compile(r"^(\*|[A-Z]{2})/([a-z*]+)/([a-z]+)$")
_HOURS: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
_WINDOW: Final = re.compile(r"^\s*(\d+)\s*(s|min|m|h|d)\s*$")
_WINDOW_UNITS: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400}


def rules_from_config(
    config: Mapping[str, Any], *, base: RuleBook = DEFAULT_RULES, path: str = "send_rules"
) -> RuleBook:
    """``base`` with the rules in ``config`` laid over it; InvalidInput names every bad key.

    ``config`` maps ``"COUNTRY/channel/purpose"`` (country and channel may be ``*``) to the
    fields to set: ``hours`` ("07:00-22:00" or null), ``zone``, ``outside_hours`` and
    ``over_cap`` ("defer" or "block"), ``caps`` ([{"max": 3, "window": "24h"}]),
    ``max_per_local_day``, ``label_prefixes`` and ``source``. Fields not given keep the
    value of the rule already at that key (or a blank rule); null instead of a mapping removes
    the key, so the next less specific rule applies.
    """
    problems: list[str] = []
    rules = dict(base.rules)
    if not isinstance(config, Mapping):
        raise InvalidInput(f"{path}: expected a mapping of 'COUNTRY/channel/purpose' to rules")
    for raw_key, fields in config.items():
        where = f"{path}.{raw_key}"
        key = _rule_key(raw_key, where, problems)
        if key is None:
            continue
        if fields is None:
            rules.pop(key, None)
            continue
        if not isinstance(fields, Mapping):
            problems.append(f"{where}: expected a mapping of rule fields or null")
            continue
        rule = _rule(rules.get(key, Rule()), fields, where, problems)
        if rule is not None:
            rules[key] = rule
    if problems:
        raise InvalidInput("invalid send rules: " + "; ".join(problems))
    return _book(rules)


def _rule_key(raw: object, where: str, problems: list[str]) -> RuleKey | None:
    match = _KEY.match(raw) if isinstance(raw, str) else None
    channels = {c.value for c in ChannelName} | {"*"}
    if match is None or match[2] not in channels or match[3] not in PURPOSES:
        problems.append(
            f"{where}: expected 'COUNTRY/channel/purpose' with COUNTRY two capital letters or *, "
            f"channel one of {', '.join(sorted(channels))}, purpose {' or '.join(PURPOSES)}"
        )
        return None
    return match[1], match[2], match[3]


def _rule(start: Rule, fields: Mapping[str, Any], where: str, problems: list[str]) -> Rule | None:
    before = len(problems)
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        at = f"{where}.{name}"
        if name not in _FIELDS:
            problems.append(f"{at}: unknown field; known: {', '.join(_FIELDS)}")
        elif name == "hours":
            changes[name] = None if value is None else _hours(value, at, problems)
        elif name == "zone":
            changes[name] = None if value is None else _zone_name(value, at, problems)
        elif name in ("outside_hours", "over_cap"):
            if value not in _ACTIONS:
                problems.append(f"{at}: expected 'defer' or 'block', got {value!r}")
            changes[name] = value
        elif name == "caps":
            changes[name] = _caps(value, at, problems)
        elif name == "max_per_local_day":
            if value is not None and not _count(value):
                problems.append(f"{at}: expected a whole number of at least 1 or null")
            changes[name] = value
        elif name == "label_prefixes":
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, str) and v for v in value
            ):
                problems.append(f"{at}: expected a list of non-empty texts, such as ['[QC]']")
                value = ()
            changes[name] = tuple(unicodedata.normalize("NFC", v) for v in value)
        elif name == "source":
            if not isinstance(value, str):
                problems.append(f"{at}: expected text")
            changes[name] = value
    return replace(start, **changes) if len(problems) == before else None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _hours(value: object, at: str, problems: list[str]) -> Hours | None:
    match = _HOURS.match(value) if isinstance(value, str) else None
    if match is not None:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if m1 < 60 and m2 < 60 and 0 <= start < end <= _DAY_S:
            return Hours(start, end)
    problems.append(
        f"{at}: expected 'HH:MM-HH:MM' within one day (start before end, end up to 24:00), "
        f"got {value!r}"
    )
    return None


def _zone_name(value: object, at: str, problems: list[str]) -> str | None:
    try:
        if isinstance(value, str):
            _zone(value)
            return value
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    problems.append(f"{at}: expected an IANA time zone such as 'Asia/Ho_Chi_Minh', got {value!r}")
    return None


def _caps(value: object, at: str, problems: list[str]) -> tuple[Cap, ...]:
    if not isinstance(value, list | tuple):
        problems.append(f"{at}: expected a list such as [{{'max': 3, 'window': '24h'}}]")
        return ()
    caps = []
    for i, item in enumerate(value):
        here = f"{at}[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"max", "window"}:
            problems.append(f"{here}: expected {{'max': N, 'window': '24h'}}")
            continue
        window = _window(item["window"])
        if not _count(item["max"]):
            problems.append(f"{here}.max: expected a whole number of at least 1")
        if window is None:
            problems.append(
                f"{here}.window: expected seconds or text such as '30min', '24h', '7d', "
                f"got {item['window']!r}"
            )
        elif _count(item["max"]):
            caps.append(Cap(item["max"], window))
    return tuple(caps)


def _window(value: object) -> int | None:
    if isinstance(value, int) and _count(value):
        return value
    match = _WINDOW.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) < 1:
        return None
    return int(match[1]) * _WINDOW_UNITS[match[2]]
