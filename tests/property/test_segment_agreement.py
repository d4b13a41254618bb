"""The SQL compiler and the Python evaluator agree: for random profiles (view documents with
Thai and Vietnamese text, numbers, booleans, lists, dates, nested values and consent), random
events and memberships, random conditions using every construct and a random moment, the live
profiles SQL selects are exactly those ``evaluate`` accepts, on SQLite and on PostgreSQL.

Also: every generated condition survives both of its forms unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from c360.kernel.clock import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, from_us, to_us
from c360.segments import language as L
from c360.segments.evaluate import Facts, Moment, evaluate, shift
from c360.segments.sql import compile_condition, member_ids
from c360.segments.view import build_view
from c360.storage.sealing import event_facts, sealing_on
from c360.storage.tables import event_log, profile_events, profiles, segment_members, segments

HOUR = 3_600_000_000
DAY = 24 * HOUR

# moments at month ends, a leap day, the turn of a year, and both ends of the calendar
BASES = [
    datetime(2026, 1, 31, 12, 0, tzinfo=UTC),
    datetime(2024, 2, 29, 23, 30, tzinfo=UTC),
    datetime(2025, 12, 31, 18, 0, tzinfo=UTC),
    datetime(2025, 3, 31, 0, 0, tzinfo=UTC),
    datetime(9998, 12, 20, 0, 0, tzinfo=UTC),
    datetime(1, 3, 1, 12, 0, tzinfo=UTC),
]
ZONES = ["UTC", "Asia/Bangkok", "Asia/Ho_Chi_Minh", "America/New_York", "Pacific/Kiritimati"]

CORE = ["Hà Nội", "ha noi", "HA NOI", "Bangkok", "bangkok", "กรุงเทพฯ", "", "é", "É", "vip"]
TEXTS = [
    *CORE,
    "Đà Nẵng",
    "da nang",
    "ĐÀ NẴNG",
    "Nguyễn",
    "nguyen",
    "เชียงใหม่",
    "ศรีสุข",
    "BANGKOK",
    "Z",
    "ß",
    "ǅ",
    "10",
    "true",
    "VIP",
]
PIECES = ["", "Hà", "noi", "NỘI", "ha", "bang", "KOK", "กรุง", "ฯ", "é", "e", "vip"]
# texts no store can hold (the language refuses them; the compiler must cope all the same)
WEIRD = ["a\x00b", "\x00", "x\ud800y", "ha\x00", "Bangkok\x00"]
EVENTS = ["Order Completed", "Product Added", "order completed", "Đặt hàng", "สั่งซื้อ"]
SEGMENTS = ["vip", "churn risk", "ลูกค้าดี", "khách hàng"]
PURPOSES = ["marketing", "analytics", "การตลาด"]
CHANNELS = ["line", "email", "sms", "*"]
# what each path mostly holds: text, number, bool, list, or anything
KINDS = {
    "country": "text",
    "city": "text",
    "name": "text",
    "ltv": "number",
    "score": "number",
    "vip": "bool",
    "tags": "list",
    "address.city": "text",
    "address.zip": "any",
    "n.m.k": "any",
    "identifiers.email": "list",
    "signed_up_at": "text",
    "nothing": "any",
}
TIME_PATHS = [
    "signed_up_at",
    "birth_date",
    "last_order_at",
    "last_order_at_us",
    "address.moved_at",
    "city",
    "nothing_at",
]
PROP_KINDS = {
    "revenue": "number",
    "category": "text",
    "tags": "list",
    "n.m": "any",
    "flag": "bool",
    "nothing": "any",
}
FOLDS = [None, None, "case", "accents", "case_accents"]
OFFSETS = [0, 1, -1, HOUR, -HOUR, DAY, -DAY, 7 * DAY, -7 * DAY, 29 * DAY, -31 * DAY]
OFFSETS += [-365 * DAY, 366 * DAY, -400 * DAY]
EVENT_OFFSETS = [0, -1, -HOUR, -2 * HOUR, -DAY, -DAY - HOUR, -3 * DAY, -29 * DAY, -31 * DAY]
EVENT_OFFSETS += [-365 * DAY, -366 * DAY, HOUR]

texts = st.one_of(
    st.sampled_from(CORE),
    st.sampled_from(CORE),
    st.sampled_from(TEXTS),
    st.text(alphabet="aAàÀđĐก é", max_size=3),
)
numbers = st.one_of(
    st.integers(-3, 120),
    st.sampled_from([0, 1, 10, 100, 0.5, -1.5, 2.0, 100.25, 2**53 + 1, -(2**40)]),
)
scalars = st.one_of(texts, numbers, st.booleans())
offsets = st.one_of(st.sampled_from(OFFSETS), st.integers(-40 * DAY, 40 * DAY))
event_offsets = st.one_of(
    st.sampled_from(EVENT_OFFSETS), st.integers(-5 * DAY, HOUR), st.integers(-400 * DAY, 0)
)


def of_kind(kind: str) -> st.SearchStrategy[Any]:
    """Mostly values of ``kind``, sometimes anything."""
    typed = {
        "text": texts,
        "number": numbers,
        "bool": st.booleans(),
        "list": st.lists(st.one_of(texts, texts, scalars, st.none()), max_size=3),
        "any": scalars,
    }[kind]
    return st.one_of(typed, typed, typed, values())


# --- data -------------------------------------------------------------------------------------


def iso(at_us: int, style: int) -> str:
    moment = from_us(max(MIN_TIMESTAMP_US + 2 * DAY, min(MAX_TIMESTAMP_US - 2 * DAY, at_us)))
    if style == 0:
        return moment.date().isoformat()
    if style == 1:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if style == 2:
        return moment.astimezone(timezone(timedelta(hours=7))).isoformat(timespec="microseconds")
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


@st.composite
def times(draw: st.DrawFn, now_us: int) -> Any:
    at = now_us + draw(offsets)
    if draw(st.booleans()):
        at += draw(st.sampled_from([0, -366 * DAY * 30, 4 * 365 * DAY]))  # birthdays
    return iso(at, draw(st.integers(0, 3)))


@st.composite
def values(draw: st.DrawFn) -> Any:
    """Any value a trait may hold."""
    kind = draw(st.integers(0, 6))
    if kind <= 2:
        return draw(scalars)
    if kind == 3:
        return draw(st.lists(st.one_of(scalars, st.none()), max_size=3))
    if kind == 4:
        return draw(st.dictionaries(st.sampled_from(["city", "zip", "k"]), scalars, max_size=2))
    if kind == 5:
        return None
    return draw(st.sampled_from([[], {}, [["nested"]], 0, -0.0]))


@st.composite
def views(draw: st.DrawFn, now_us: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ["country", "city", "ltv", "vip", "tags", "name", "score"]:
        if draw(st.integers(0, 4)):
            found[key] = draw(of_kind(KINDS[key]))
    if draw(st.booleans()):
        found["signed_up_at"] = draw(times(now_us))
    if draw(st.booleans()):
        found["birth_date"] = draw(times(now_us)).split("T")[0]
    if draw(st.booleans()):
        found["last_order_at_us"] = now_us + draw(offsets)
    if draw(st.booleans()):
        address = {"city": draw(of_kind("text")), "zip": draw(scalars)}
        if draw(st.booleans()):
            address["moved_at"] = draw(times(now_us))
        found["address"] = address
    if draw(st.booleans()):
        found["n"] = {"m": {"k": draw(of_kind("any"))}}
    parts: list[dict[str, Any]] = [{}, {}, {}]
    for key, value in found.items():
        parts[draw(st.integers(0, 2))][key] = value
    identifiers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["email", "phone"]),
                st.sampled_from(["a@x.th", "A@X.TH", "b@y.vn", "vip"]),
            ),
            max_size=3,
        )
    )
    consent = draw(
        st.dictionaries(
            st.sampled_from(PURPOSES),
            st.dictionaries(st.sampled_from(CHANNELS), st.booleans(), min_size=1, max_size=3),
            min_size=draw(st.integers(0, 1)),
            max_size=3,
        )
    )
    return build_view(parts[0], parts[1], parts[2], identifiers, consent)


@dataclass(frozen=True, slots=True)
class Event:
    """What the evaluator reads of an event (as ``c360.profiles.refresh`` loads it)."""

    type: str
    name: str | None
    properties: dict[str, Any]
    at_us: int
    seq: int


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["track", "track", "page", "screen", "identify"]))
    name: Any = draw(st.sampled_from([*EVENTS[:2] * 4, *EVENTS, None, 1, ["x"]]))
    body: dict[str, Any] = {"type": kind}
    key = {"track": "event", "page": "name", "screen": "name"}.get(kind, "event")
    if draw(st.integers(0, 5)) == 0:
        key = "name" if key == "event" else "event"
    body[key] = name
    if draw(st.integers(0, 7)):
        props: dict[str, Any] = {}
        for key in ["revenue", "category", "tags", "flag"]:
            if draw(st.integers(0, 3)):
                props[key] = draw(of_kind(PROP_KINDS[key]))
        if draw(st.booleans()):
            props["n"] = {"m": draw(scalars)}
        body["properties"] = props
    else:
        body["properties"] = draw(st.sampled_from([[1, 2], "text", None]))
    return kind, body


@dataclass
class World:
    now_us: int
    tz: str
    views: dict[str, dict[str, Any]]
    merged: dict[str, Any]
    events: dict[str, list[tuple[int, str, dict[str, Any], int | None]]]
    members: dict[str, set[str]]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    base = draw(st.sampled_from(BASES))
    now_us = to_us(base) + draw(st.sampled_from([0, 0, HOUR, -DAY, 17 * HOUR + 1]))
    count = draw(st.integers(2, 6))
    ids = [f"p{i}" for i in range(count)]
    seq = 0
    events: dict[str, list[tuple[int, str, dict[str, Any], int | None]]] = {}
    for pid in [*ids, "merged"]:
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            seq += 1
            kind, body = draw(payloads())
            at: int | None = now_us + draw(event_offsets)
            if draw(st.integers(0, 12)) == 0:
                at = None
            rows.append((seq, kind, body, at))
        events[pid] = rows
    return World(
        now_us=now_us,
        tz=draw(st.sampled_from(ZONES)),
        views={pid: draw(views(now_us)) for pid in ids},
        merged=draw(views(now_us)),
        events=events,
        members={pid: set(draw(st.sets(st.sampled_from(SEGMENTS)))) for pid in [*ids, "merged"]},
    )


# --- conditions -------------------------------------------------------------------------------

spans = st.builds(
    L.Span,
    n=st.one_of(st.integers(1, 3), st.sampled_from([6, 13, 100_000])),
    unit=st.sampled_from(["minutes", "hours", "days", "weeks", "months", "years"]),
)
literals = scalars


def literal_for(kind: str) -> st.SearchStrategy[Any]:
    """A literal worth testing a value of ``kind`` with (and sometimes one of another kind)."""
    typed = {
        "text": texts,
        "number": numbers,
        "bool": st.booleans(),
        "list": texts,
        "any": scalars,
    }[kind]
    return st.one_of(typed, typed, typed, literals)


@st.composite
def compares(draw: st.DrawFn, kinds: dict[str, str]) -> L.Compare:
    path = draw(st.sampled_from(list(kinds)))
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    value = draw(literal_for(kinds[path]))
    if isinstance(value, bool) and op not in ("=", "!="):
        op = "="
    fold = draw(st.sampled_from(FOLDS)) if isinstance(value, str) else None
    return L.Compare(path=path, op=op, value=value, fold=fold)


@st.composite
def one_ofs(draw: st.DrawFn, kinds: dict[str, str]) -> L.OneOf:
    path = draw(st.sampled_from(list(kinds)))
    found = draw(st.lists(literal_for(kinds[path]), min_size=1, max_size=4))
    if draw(st.booleans()):
        found.append(draw(st.sampled_from(CORE)))
    return L.OneOf(path=path, values=tuple(found), fold=draw(st.sampled_from(FOLDS)))


@st.composite
def text_matches(draw: st.DrawFn, kinds: dict[str, str]) -> L.TextMatch:
    path = draw(st.sampled_from(list(kinds)))
    op = draw(st.sampled_from(["contains", "starts_with", "ends_with"]))
    pool = texts if kinds[path] == "list" else st.sampled_from(PIECES)
    value = draw(st.one_of(pool, pool, texts))
    return L.TextMatch(path=path, op=op, value=value, fold=draw(st.sampled_from(FOLDS)))


def value_atoms(kinds: dict[str, str]) -> list[st.SearchStrategy[Any]]:
    return [
        compares(kinds),
        one_ofs(kinds),
        st.builds(L.Exists, path=st.sampled_from(list(kinds))),
        text_matches(kinds),
    ]


wheres = st.recursive(
    st.one_of(value_atoms(PROP_KINDS)),
    lambda inner: st.one_of(
        st.builds(L.ValueAnd, of=st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(L.ValueOr, of=st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(L.ValueNot, of=inner),
    ),
    max_leaves=3,
)
event_names = st.sampled_from([*EVENTS[:2] * 4, *EVENTS, "Nobody"])


@st.composite
def time_tests(draw: st.DrawFn) -> L.TimeTest:
    path = draw(st.sampled_from(TIME_PATHS))
    op = draw(st.sampled_from(["within_last", "within_next", "before", "after"]))
    if op.startswith("within"):
        return L.TimeTest(path=path, op=op, span=draw(spans))
    base = to_us(draw(st.sampled_from(BASES))) + draw(offsets)
    return L.TimeTest(path=path, op=op, at=iso(base, draw(st.integers(0, 3))))


@st.composite
def dids(draw: st.DrawFn) -> L.Did:
    measure = draw(st.integers(0, 2))
    count = aggregate = None
    if measure == 1:
        count = L.Count(op=draw(st.sampled_from([">=", "<=", "="])), n=draw(st.integers(0, 3)))
    elif measure == 2:
        aggregate = L.Aggregate(
            fn=draw(st.sampled_from(["sum", "average", "min", "max"])),
            path=draw(st.sampled_from(["revenue", "n.m", "category"])),
            op=draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="])),
            value=draw(st.one_of(st.integers(-5, 300), st.sampled_from([0, 2.5, 0.0, 100, 12.25]))),
        )
    return L.Did(
        event=draw(event_names),
        where=draw(st.one_of(st.none(), st.none(), st.none(), wheres)),
        count=count,
        aggregate=aggregate,
        window=draw(st.none() | spans),
    )


steps = st.builds(L.Step, event=event_names, where=st.one_of(st.none(), st.none(), wheres))
sequences = st.builds(L.Sequence, first=steps, then=steps, within=spans, window=st.none() | spans)
ATOMS: list[st.SearchStrategy[Any]] = [
    dids(),
    sequences,
    st.builds(
        L.Consented,
        purpose=st.sampled_from([*PURPOSES, "none"]),
        channel=st.none() | st.sampled_from([*CHANNELS, "fax"]),
    ),
    time_tests(),
    *value_atoms(KINDS),
    st.builds(
        L.Anniversary,
        path=st.sampled_from(TIME_PATHS),
        span=st.builds(L.Span, n=st.integers(1, 52), unit=st.sampled_from(["days", "weeks"])),
    ),
    st.builds(L.InSegment, segment=st.sampled_from([*SEGMENTS, "none"])),
]
# every kind of test about as often (one_of leans to its first choice)
atoms = st.sampled_from(range(len(ATOMS))).flatmap(lambda i: ATOMS[i])
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(L.And, of=st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(L.Or, of=st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(L.Not, of=inner),
    ),
    max_leaves=5,
)


# --- the checks -------------------------------------------------------------------------------


def store(conn: Any, world: World) -> None:
    rows = [
        {"id": pid, "traits": {}, "created_seq": 0, "updated_seq": 0, "attributes": view}
        for pid, view in world.views.items()
    ]
    rows.append(
        {
            "id": "merged",
            "traits": {},
            "created_seq": 0,
            "updated_seq": 0,
            "attributes": world.merged,
            "merged_into": "p0",
        }
    )
    conn.execute(insert(profiles), [{"merged_into": None, **r} for r in rows])
    logged, owned = [], []
    for pid, items in world.events.items():
        for seq, kind, body, at in items:
            logged.append(
                {
                    "seq": seq,
                    "source_id": 1,
                    "message_id": f"m{seq}",
                    "type": kind,
                    "received_at_us": 0,
                    "timestamp_us": 0,
                    "payload": orjson.dumps(body).decode(),
                }
            )
            owned.append({"profile_id": pid, "seq": seq, "at_us": at})
    if logged:
        for row in logged:  # as the log's append keeps them beside a sealed payload
            row["facts"] = event_facts(row["type"], row["payload"]) if sealing_on() else None
        conn.execute(insert(event_log), logged)
        conn.execute(insert(profile_events), owned)
    conn.execute(
        insert(segments),
        [
            {
                "id": i + 1,
                "name": name,
                "condition": {"type": "exists", "path": "x"},
                "text": "x exists",
                "timezone": "UTC",
                "version": 1,
                "created_at_us": 0,
                "updated_at_us": 0,
            }
            for i, name in enumerate(SEGMENTS)
        ],
    )
    members = [
        {"segment_id": SEGMENTS.index(name) + 1, "profile_id": pid, "entered_at_us": 0}
        for pid, names in world.members.items()
        for name in sorted(names)
    ]
    if members:
        conn.execute(insert(segment_members), members)


def facts(world: World, pid: str) -> Facts:
    events = []
    for seq, kind, body, at in world.events[pid]:
        name = body.get("event") if kind == "track" else body.get("name")
        props = body.get("properties")
        events.append(
            Event(
                kind,
                name if isinstance(name, str) else None,
                props if isinstance(props, dict) else {},
                at if at is not None else 0,
                seq,
            )
        )
    return Facts(world.views[pid], events, frozenset(world.members[pid]))


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(world=worlds(), tests=st.lists(conditions, min_size=2, max_size=4))
def test_sql_agrees_with_evaluate(engine: Engine, world: World, tests: list[Any]) -> None:
    moment = Moment(world.now_us, ZoneInfo(world.tz))
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            store(conn, world)
            for condition in tests:
                for part in parts(condition):
                    expected = {
                        pid: evaluate(part, facts(world, pid), moment) for pid in world.views
                    }
                    if part is condition:
                        wanted = sorted(p for p, yes in expected.items() if yes)
                        assert member_ids(conn, part, moment) == wanted, L.to_text(part)
                    else:  # each answer itself: true or false, never NULL
                        answers = answers_of(conn, part, moment)
                        assert answers == expected, L.to_text(part)
                        found = sorted(p for p, yes in answers.items() if yes)
                        share = (
                            "none" if not found else "all" if len(found) == len(answers) else "some"
                        )
                        event(f"{type(part).__name__}: {share}")
        finally:
            transaction.rollback()


def answers_of(conn: Any, condition: Any, moment: Moment) -> dict[str, bool | None]:
    """The compiled condition's value for each live profile (None if SQL gave NULL)."""
    expr = compile_condition(condition, moment, conn.dialect.name, profiles.c.id)
    rows = conn.execute(select(profiles.c.id, expr).where(profiles.c.merged_into.is_(None)))
    return {pid: None if value is None else bool(value) for pid, value in rows}


def parts(condition: Any) -> list[Any]:
    """The condition and each test in it (each is checked on its own too, so that a test
    that goes wrong cannot hide behind an ``and`` that is false anyway)."""
    found = [condition]
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, L.And | L.Or):
            stack.extend(node.of)
        elif isinstance(node, L.Not):
            stack.append(node.of)
        elif node is not condition:
            found.append(node)
    return found


@st.composite
def unstorable(draw: st.DrawFn) -> Any:
    """A test holding a text no store can hold (built without the language's checks)."""
    weird = draw(st.sampled_from(WEIRD))
    kind = draw(st.integers(0, 9))
    fold = draw(st.sampled_from(FOLDS))
    path = draw(st.sampled_from(["city", "country", "tags", "name"]))
    if kind == 0:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return L.Compare.model_construct(path=path, op=op, value=weird, fold=fold)
    if kind == 1:
        extra = draw(st.lists(literal_for("text"), max_size=2))
        return L.OneOf.model_construct(path=path, values=(weird, *extra), fold=fold)
    if kind == 2:
        op = draw(st.sampled_from(["contains", "starts_with", "ends_with"]))
        return L.TextMatch.model_construct(path=path, op=op, value=weird, fold=fold)
    if kind == 3:
        count = draw(st.none() | st.just(L.Count(op="<=", n=0)))
        return L.Did.model_construct(event=weird, count=count)
    if kind == 4:
        where = L.Compare.model_construct(path="category", op=">=", value=weird)
        return L.Did.model_construct(event=draw(st.sampled_from(EVENTS[:2])), where=where)
    if kind == 5:
        step = L.Step.model_construct(event=weird)
        other = L.Step(event=draw(st.sampled_from(EVENTS[:2])))
        first, then = (step, other) if draw(st.booleans()) else (other, step)
        return L.Sequence.model_construct(first=first, then=then, within=draw(spans))
    if kind == 6:
        return L.InSegment.model_construct(segment=weird)
    if kind == 7:
        return L.Consented.model_construct(purpose=weird)
    purpose = draw(st.sampled_from(PURPOSES))
    return L.Consented.model_construct(purpose=purpose, channel=weird)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(world=worlds(), tests=st.lists(unstorable(), min_size=4, max_size=8))
def test_texts_no_store_can_hold(engine: Engine, world: World, tests: list[Any]) -> None:
    """A literal with a NUL or a lone surrogate is never sent to the store (neither can bind
    it) and still gets Python's answer: nothing stored equals it, orderings hold."""
    moment = Moment(world.now_us, ZoneInfo(world.tz))
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            store(conn, world)
            for condition in tests:
                expected = {
                    pid: evaluate(condition, facts(world, pid), moment) for pid in world.views
                }
                assert answers_of(conn, condition, moment) == expected, repr(condition)
        finally:
            transaction.rollback()


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(condition=conditions)
def test_both_forms_round_trip(condition: Any) -> None:
    assert L.parse(L.to_text(condition)) == condition
    assert L.from_json(to_json_round(condition)) == condition


def to_json_round(condition: Any) -> Any:
    """The JSON form written out and read back (stdlib json: literals may hold what no store
    can, such as lone surrogates)."""
    return json.loads(json.dumps(L.to_json(condition)))


MONTH_STARTS = [
    datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2023, 1, 31, tzinfo=UTC),
    datetime(2024, 2, 29, 12, tzinfo=UTC),
    datetime(2023, 12, 31, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1900, 3, 31, tzinfo=UTC),
    datetime(1, 1, 31, 0, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 11, 30, tzinfo=UTC),
    datetime(9998, 12, 31, 23, tzinfo=UTC),
]


def test_sequence_months_follow_the_calendar(engine: Engine) -> None:
    """``then ... within N months`` ends where ``evaluate.shift`` says: days clipped to the
    month's end, the time of day kept, years past 9999 approximated the same way."""
    for at in MONTH_STARTS:
        for within in ["1 month", "13 months", "1 year", "4 years", "100000 years"]:
            condition = L.parse(f'did "A" then "B" within {within}')
            assert isinstance(condition, L.Sequence)
            start = to_us(at)
            end = shift(start, condition.within, 1)
            cases = {"on": end, "after": end + 1, "before": end - 1}
            now = end + 1
            world = World(
                now_us=now,
                tz="UTC",
                views={pid: build_view({}, {}, {}, [], {}) for pid in cases},
                merged={},
                events={
                    pid: [
                        (2 * i + 1, "track", {"event": "A"}, start),
                        (2 * i + 2, "track", {"event": "B"}, b_at),
                    ]
                    for i, (pid, b_at) in enumerate(cases.items())
                },
                members={pid: set() for pid in cases},
            )
            world.events["merged"] = []
            world.members["merged"] = set()
            moment = Moment(now, ZoneInfo("UTC"))
            with engine.connect() as conn:
                transaction = conn.begin()
                try:
                    store(conn, world)
                    expected = sorted(
                        p for p in cases if evaluate(condition, facts(world, p), moment)
                    )
                    assert expected == ["before", "on"]
                    assert member_ids(conn, condition, moment) == expected, (at, within)
                finally:
                    transaction.rollback()
