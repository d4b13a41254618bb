"""Personalisation: what to show a person now, on each placement of a web page or app.

Rules are data in the store (``personalization_rules``): a name, a placement
(``home_banner``), a condition in the segment language (``in segment "vip"``, ``did "Product
Viewed" in last 1 day``, ``country = "TH"``), a priority, the content to show (title, body,
image, url, offer code, any Thai or Vietnamese text) and an optional window of time it is
active in. For a person, per placement, the active rule of highest priority whose condition
holds wins (ties: the rule's name); a placement where none holds shows nothing (``null``).

Conditions read what segments read (``c360.segments.evaluate``): the profile's
``attributes`` document, its tracked events (read only when an active rule tests events) and
the segments it is in now, at the current moment in the rule's own time zone.

A person who withdrew consent to personalisation (a ``personalization`` purpose set to false,
e.g. ``context.consent.categoryPreferences: {"personalization": false}``) gets what an
unknown visitor gets: rules evaluated with no data about them and products popular overall.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, or_, select, update

from c360.activation.engine import load_person
from c360.activation.recommend import (
    ANONYMOUS,
    DEFAULT_SETTINGS,
    ModelState,
    Person,
    Recommendation,
    RecommendSettings,
    load_purchases,
    recommend,
    segments_of,
)
from c360.errors import Conflict, InvalidInput, NotFound
from c360.identity.decisions import live_profile_id
from c360.identity.features import NODE_ANONYMOUS, NODE_USER
from c360.kernel.clock import isoformat_us, system_clock, to_us
from c360.profiles.service import identifier_lookup_keys
from c360.segments import language as L
from c360.segments.evaluate import Facts, Moment, evaluate
from c360.segments.membership import zone
from c360.segments.service import check_purposes
from c360.storage.tables import (
    identity_keys,
    identity_nodes,
    personalization_rules,
    profiles,
    segments,
)

PLACEMENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
PLACEMENT_RULE = "1-60 lower-case letters, digits and _ . -, starting with a letter or digit"
_NAME = re.compile(r"^[\w][\w .:-]{0,99}$")
MAX_CONTENT_BYTES = 16_384
CONSENT_PURPOSES = ("personalization", "personalisation")
_EMPTY_VIEW: Mapping[str, Any] = {"v": {}, "t": {}, "d": {}, "c": {}}


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """A rule as a caller gives it."""

    placement: str
    condition: Any
    content: Mapping[str, Any]
    priority: int = 0
    timezone: str | None = None
    """IANA zone the condition's dates and the active times without an offset are read in
    (None: the server's default)."""
    description: str | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    placement: str
    condition: Any
    text: str
    timezone: str
    priority: int
    content: dict[str, Any]
    description: str | None
    active_from_us: int | None
    active_until_us: int | None
    version: int
    created_at_us: int
    updated_at_us: int

    def active_at(self, now_us: int) -> bool:
        return (self.active_from_us is None or self.active_from_us <= now_us) and (
            self.active_until_us is None or now_us < self.active_until_us
        )

    @property
    def uses_events(self) -> bool:
        return any(isinstance(n, L.Did | L.Sequence) for n in L.walk(self.condition))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "placement": self.placement,
            "condition": self.text,
            "condition_json": L.to_json(self.condition),
            "timezone": self.timezone,
            "priority": self.priority,
            "content": self.content,
            "description": self.description,
            "active_from": _iso(self.active_from_us),
            "active_until": _iso(self.active_until_us),
            "version": self.version,
            "created_at": isoformat_us(self.created_at_us),
            "updated_at": isoformat_us(self.updated_at_us),
        }


def _iso(us: int | None) -> str | None:
    return None if us is None else isoformat_us(us)


# --- rules: checking and storing -------------------------------------------------------------


def check_rule_name(name: str) -> str:
    # combining marks (Thai vowel signs, decomposed Vietnamese accents) belong to letters
    plain = "".join(c for c in name if not unicodedata.category(c).startswith("M"))
    if not _NAME.match(plain) or len(name) > 100 or plain[:1] != name[:1]:
        raise InvalidInput(
            f"rule name {name!r} is not allowed: 1-100 letters, digits, spaces and _ . : -, "
            "starting with a letter or digit"
        )
    return name


def check_placement(placement: str) -> str:
    if not PLACEMENT.match(placement):
        raise InvalidInput(f"placement {placement!r} is not allowed: {PLACEMENT_RULE}")
    return placement


def _texts(data: Any) -> Iterable[str]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _check_storable(what: str, data: Any) -> None:
    """Texts the stores cannot hold: NUL (PostgreSQL) and lone surrogates (both)."""
    for value in _texts(data):
        if "\x00" in value:
            raise InvalidInput(f"{what} may not hold a NUL character (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{what} may not hold a lone surrogate ({value!r})") from None


def _instant(moment: datetime | None, tz: str) -> int | None:
    if moment is None:
        return None
    return to_us(moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(tz)))


def _checked_row(conn: Connection, name: str, draft: RuleDraft, default_tz: str) -> dict[str, Any]:
    check_rule_name(name)
    check_placement(draft.placement)
    tz = draft.timezone or default_tz
    zone(tz)
    _check_storable("a rule's condition", L.to_json(draft.condition))
    _check_storable("a rule's content", draft.content)
    content = dict(draft.content)
    if len(orjson.dumps(content)) > MAX_CONTENT_BYTES:
        raise InvalidInput(f"a rule's content is larger than {MAX_CONTENT_BYTES:,} bytes of JSON")
    used = L.segments_named(draft.condition)
    if used:
        known = set(
            conn.execute(select(segments.c.name).where(segments.c.name.in_(sorted(used))))
            .scalars()
            .all()
        )
        missing = sorted(used - known)
        if missing:
            raise InvalidInput(f"rule {name!r} uses segment {missing[0]!r}, which does not exist")
    check_purposes(draft.condition)
    start, end = _instant(draft.active_from, tz), _instant(draft.active_until, tz)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("active_until must be later than active_from")
    return {
        "placement": draft.placement,
        "condition": L.to_json(draft.condition),
        "text": L.to_text(draft.condition),
        "timezone": tz,
        "priority": draft.priority,
        "content": content,
        "description": draft.description,
        "active_from_us": start,
        "active_until_us": end,
    }


def create_rule(
    conn: Connection,
    name: str,
    draft: RuleDraft,
    *,
    default_tz: str = "UTC",
    now_us: int | None = None,
) -> Rule:
    """Save a new rule; :class:`~c360.errors.Conflict` when the name is taken."""
    row = _checked_row(conn, name, draft, default_tz)
    if conn.execute(
        select(personalization_rules.c.id).where(personalization_rules.c.name == name)
    ).first():
        raise Conflict(f"a rule named {name!r} exists: change it with PUT, or delete it first")
    now = system_clock() if now_us is None else now_us
    conn.execute(
        insert(personalization_rules).values(
            name=name, version=1, created_at_us=now, updated_at_us=now, **row
        )
    )
    return get_rule(conn, name)


def replace_rule(
    conn: Connection,
    name: str,
    draft: RuleDraft,
    *,
    default_tz: str = "UTC",
    now_us: int | None = None,
) -> Rule:
    """Replace a rule's placement, condition, content, priority and times."""
    current = get_rule(conn, name)
    row = _checked_row(conn, name, draft, default_tz)
    now = system_clock() if now_us is None else now_us
    conn.execute(
        update(personalization_rules)
        .where(personalization_rules.c.id == current.id)
        .values(version=current.version + 1, updated_at_us=now, **row)
    )
    return get_rule(conn, name)


def delete_rule(conn: Connection, name: str) -> None:
    deleted = conn.execute(
        delete(personalization_rules).where(personalization_rules.c.name == name)
    ).rowcount
    if not deleted:
        raise NotFound(f"no rule named {name!r}")


def get_rule(conn: Connection, name: str) -> Rule:
    row = conn.execute(
        select(*personalization_rules.c).where(personalization_rules.c.name == name)
    ).first()
    if row is None:
        raise NotFound(f"no rule named {name!r}")
    return _rule(row)


def list_rules(conn: Connection, placement: str | None = None) -> list[Rule]:
    """Every rule (of one placement), by placement, then highest priority, then name."""
    query = select(*personalization_rules.c).order_by(
        personalization_rules.c.placement,
        personalization_rules.c.priority.desc(),
        personalization_rules.c.name,
    )
    if placement is not None:
        query = query.where(personalization_rules.c.placement == placement)
    return [_rule(row) for row in conn.execute(query)]


def active_rules(conn: Connection, now_us: int, placements: Sequence[str] = ()) -> list[Rule]:
    """Rules active at ``now_us`` (on ``placements``, when given), in the order they win."""
    rules = personalization_rules.c
    query = (
        select(*personalization_rules.c)
        .where(
            or_(rules.active_from_us.is_(None), rules.active_from_us <= now_us),
            or_(rules.active_until_us.is_(None), rules.active_until_us > now_us),
        )
        .order_by(rules.placement, rules.priority.desc(), rules.name)
    )
    if placements:
        query = query.where(rules.placement.in_(sorted(set(placements))))
    return [_rule(row) for row in conn.execute(query)]


_parsed: dict[bytes, Any] = {}


def _condition(data: Any) -> Any:
    """A stored condition, parsed once per distinct condition."""
    key = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    found = _parsed.get(key)
    if found is None:
        if len(_parsed) > 1024:
            _parsed.clear()
        found = _parsed[key] = L.from_json(data)
    return found


def _rule(row: Any) -> Rule:
    return Rule(
        id=int(row.id),
        name=row.name,
        placement=row.placement,
        condition=_condition(row.condition),
        text=row.text,
        timezone=row.timezone,
        priority=int(row.priority),
        content=dict(row.content or {}),
        description=row.description,
        active_from_us=row.active_from_us,
        active_until_us=row.active_until_us,
        version=int(row.version),
        created_at_us=int(row.created_at_us),
        updated_at_us=int(row.updated_at_us),
    )


# --- choosing (pure) -------------------------------------------------------------------------


def choose(
    rules: Sequence[Rule], facts: Facts, now_us: int, placements: Sequence[str] = ()
) -> dict[str, Rule | None]:
    """Per placement (``placements``, else every placement of ``rules``), the active rule of
    highest priority (ties: by name) whose condition holds for ``facts``; None if none."""
    wanted = list(dict.fromkeys(placements)) or sorted({r.placement for r in rules})
    chosen: dict[str, Rule | None] = dict.fromkeys(wanted)
    ordered = sorted(rules, key=lambda r: (r.placement, -r.priority, r.name))
    for rule in ordered:
        if rule.placement not in chosen or chosen[rule.placement] is not None:
            continue
        if not rule.active_at(now_us):
            continue
        if evaluate(rule.condition, facts, Moment(now_us, zone(rule.timezone))):
            chosen[rule.placement] = rule
    return chosen


def allows_personalization(view: Mapping[str, Any]) -> bool:
    """False when the person's newest statement withdrew consent to personalisation."""
    consent = view.get("c")
    if not isinstance(consent, Mapping):
        return True
    for purpose in CONSENT_PURPOSES:
        given = consent.get(purpose)
        if isinstance(given, Mapping) and given.get("*") is False:
            return False
    return True


# --- deciding --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What to show one person now."""

    profile_id: str | None
    at_us: int
    personalized: bool
    chosen: Mapping[str, Rule | None]
    recommendations: list[Recommendation] = field(default_factory=list)

    def as_json(self, *, public: bool = False) -> dict[str, Any]:
        """The answer of the API; ``public`` (a web page's) holds content and products only:
        no profile id, rule names, or reasons that could tell what the person did."""
        placements: dict[str, Any] = {}
        for placement, rule in self.chosen.items():
            if rule is None:
                placements[placement] = None
            elif public:
                placements[placement] = {"content": rule.content}
            else:
                placements[placement] = {
                    "rule": rule.name,
                    "priority": rule.priority,
                    "content": rule.content,
                }
        items = [r.as_json(public=public) for r in self.recommendations]
        if public:
            return {"placements": placements, "recommendations": items}
        return {
            "profile_id": self.profile_id,
            "at": isoformat_us(self.at_us),
            "personalized": self.personalized,
            "placements": placements,
            "recommendations": items,
        }


def personalize(
    conn: Connection,
    profile_id: str | None,
    placements: Sequence[str] = (),
    *,
    limit: int = 4,
    default_tz: str = "UTC",
    now_us: int | None = None,
    settings: RecommendSettings = DEFAULT_SETTINGS,
    state: ModelState | None = None,
) -> Decision:
    """What to show ``profile_id`` (None: an unknown visitor) now: per placement the winning
    content, and its ``limit`` top recommendations. An unknown id is
    :class:`~c360.errors.NotFound`; an id merged into another answers for the survivor."""
    for placement in placements:
        check_placement(placement)
    now = system_clock() if now_us is None else now_us
    rules = active_rules(conn, now, placements)
    live = None if profile_id is None else live_profile_id(conn, profile_id)
    facts = Facts(_EMPTY_VIEW)
    person = ANONYMOUS
    personalized = False
    if live is not None:
        view = conn.execute(select(profiles.c.attributes).where(profiles.c.id == live)).scalar()
        view = view or _EMPTY_VIEW
        personalized = allows_personalization(view)
        if personalized:
            memberships = segments_of(conn, [live]).get(live, [])
            facts = _facts(conn, live, view, memberships, rules, default_tz)
            if limit:
                person = Person(load_purchases(conn, [live]).get(live, {}), memberships)
    chosen = choose(rules, facts, now, placements)
    recommended = (
        recommend(conn, {"": person}, limit, now_us=now, settings=settings, state=state)[""]
        if limit
        else []
    )
    return Decision(live, now, personalized, chosen, recommended)


def _facts(
    conn: Connection,
    profile_id: str,
    view: Mapping[str, Any],
    memberships: Sequence[tuple[int, str]],
    rules: Sequence[Rule],
    tz: str,
) -> Facts:
    """What the rules read about the person: their events only when a rule tests events."""
    if any(rule.uses_events for rule in rules):
        found = load_person(conn, profile_id, tz)
        if found is not None:
            return found.facts()
    return Facts(view, (), frozenset(name for _, name in memberships))


def find_visitor(conn: Connection, user_id: str | None, anonymous_id: str | None) -> str | None:
    """The live profile a tracked ``userId`` (first) or ``anonymousId`` belongs to, if any."""
    for node_type, value in ((NODE_USER, user_id), (NODE_ANONYMOUS, anonymous_id)):
        if not value:
            continue
        row = conn.execute(
            select(identity_nodes.c.profile_id)
            .select_from(
                identity_keys.join(identity_nodes, identity_nodes.c.id == identity_keys.c.node_id)
            )
            .where(
                identity_keys.c.key.in_(identifier_lookup_keys(conn, node_type, value)),
                identity_keys.c.role == 0,
                identity_nodes.c.profile_id.is_not(None),
            )
            .order_by(identity_nodes.c.at_us.desc(), identity_nodes.c.id)
            .limit(1)
        ).first()
        if row is not None:
            try:
                return live_profile_id(conn, row[0])
            except NotFound:
                continue
    return None
