"""Hostile literals in every place a condition holds text reach SQL only as bound parameters:
the compiled SQL never contains them, the parameters carry them, and running the statements on
both stores matches exactly what the Python evaluator says and harms nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, insert, inspect, select

from c360.segments import language as L
from c360.segments.evaluate import Facts, Moment, evaluate
from c360.segments.sql import compile_condition, count_members, member_ids
from c360.segments.view import build_view, fold
from c360.storage.sealing import event_facts, sealing_on
from c360.storage.tables import event_log, profile_events, profiles, segment_members, segments

NOW = 1_780_000_000_000_000
HOUR = 3_600_000_000

HOSTILE = [
    "'; DROP TABLE profiles; --",
    '" OR 1=1 --',
    "' OR '1'='1",
    "1); DELETE FROM segments; --",
    "*/ DROP TABLE profile_events; /*",
    "'||(SELECT version())||'",
    "\x00",
    "a\x00'; DROP TABLE profiles; --",
    "\\'; DROP TABLE profiles; --",
    "\\u0000",
    "x" * 1000,
    "'" * 1000,
    "\u202e') OR ('1'='1",  # right-to-left override
    "ＳＥＬＥＣＴ＊ＦＲＯＭ",  # fullwidth
    "zero\u200bwidth\u200djoin",
    "İstanbul ǅ ß ﬁ",
    "e\u0301 Hà Nội กรุงเทพฯ",
    "🙂🔥 emoji",
    "lone \ud800 surrogate",
    "{{7*7}}",
    "${7*7}",
    "__import__('os').system('id')",
    "%s %(x)s :name ? $1",
    '$."c"."x"',
    "$.v.city') = json_extract(profiles.attributes, '$",
]


def storable(text: str) -> bool:
    """Whether both stores can hold ``text`` as data."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def positions(h: str) -> Iterator[tuple[str, Any, str | None]]:
    """(where, condition, folding of the literal) for every place a condition holds text.

    Texts no store can hold are refused by the language; such conditions are built here
    without its checks, to show the compiler copes with them all the same."""

    def node(cls: Any, **fields: Any) -> Any:
        return cls(**fields) if storable(h) else cls.model_construct(**fields)

    yield "compare =", node(L.Compare, path="city", op="=", value=h), None
    yield "compare !=", node(L.Compare, path="city", op="!=", value=h), None
    folded = node(L.Compare, path="city", op="<", value=h, fold="case_accents")
    yield "compare <", folded, "case_accents"
    yield "in", node(L.OneOf, path="city", values=(h, 1, True)), None
    for op in ("contains", "starts_with", "ends_with"):
        yield op, node(L.TextMatch, path="city", op=op, value=h), None
        yield f"{op} folded", node(L.TextMatch, path="tags", op=op, value=h, fold="case"), "case"
    yield "did", node(L.Did, event=h), None
    where = node(L.Compare, path="category", op="=", value=h)
    yield "did where", node(L.Did, event="Order Completed", where=where), None
    yield "did count", node(L.Did, event=h, count=L.Count(op="<=", n=0)), None
    sum_of = L.Aggregate(fn="sum", path="revenue", op=">=", value=1)
    yield "did sum", node(L.Did, event=h, where=where, aggregate=sum_of), None
    within = L.Span(n=1, unit="months")
    step = node(L.Step, event=h)
    yield "then", node(L.Sequence, first=step, then=step, within=within), None
    contains = node(L.TextMatch, path="category", op="contains", value=h)
    then = node(L.Step, event="Order Completed", where=contains)
    yield "then where", node(L.Sequence, first=L.Step(event="A"), then=then, within=within), None
    yield "segment", node(L.InSegment, segment=h), None
    yield "purpose", node(L.Consented, purpose=h), None
    yield "channel", node(L.Consented, purpose="marketing", channel=h), None
    yield "purpose via", node(L.Consented, purpose=h, channel=h), None


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    name: str | None
    properties: dict[str, Any]
    at_us: int
    seq: int


def fill(engine: Engine) -> dict[str, Facts]:
    """One profile per storable hostile text, holding it everywhere a condition can look."""
    facts: dict[str, Facts] = {}
    rows, logged, owned, named, members = [], [], [], [], []
    for i, h in enumerate(t for t in HOSTILE if storable(t)):
        pid = f"p{i:02d}"
        view = build_view(
            {"city": h, "tags": [h.upper(), 1]},
            {},
            {},
            [("email", h)],
            {h: {"*": True, h: False}, "marketing": {h: True}},
        )
        events = []
        for j, (kind, body) in enumerate(
            [
                ("track", {"event": h, "properties": {"category": h, "revenue": 2}}),
                ("page", {"name": "Order Completed", "properties": {"category": f"<{h}>"}}),
                ("track", {"event": "A"}),
                # a NUL escape PostgreSQL's jsonb refuses: the query must still run
                ("track", {"event": "bad\x00name", "properties": {"category": "a\x00b"}}),
            ]
        ):
            seq = 10 * i + j + 1
            at = NOW - (4 - j) * HOUR
            logged.append(
                {
                    "seq": seq,
                    "source_id": 1,
                    "message_id": f"m{seq}",
                    "type": kind,
                    "received_at_us": at,
                    "timestamp_us": at,
                    "payload": orjson.dumps({"type": kind, **body}).decode(),
                }
            )
            owned.append({"profile_id": pid, "seq": seq, "at_us": at})
            props = body.get("properties")
            name = body.get("event") if kind == "track" else body.get("name")
            events.append(Event(kind, name, props if isinstance(props, dict) else {}, at, seq))
        member_of: frozenset[str] = frozenset()
        if len(h) <= 200:
            named.append(
                {
                    "id": i + 1,
                    "name": h,
                    "condition": {"type": "exists", "path": "x"},
                    "text": "x exists",
                    "timezone": "UTC",
                    "version": 1,
                    "created_at_us": 0,
                    "updated_at_us": 0,
                }
            )
            members.append({"segment_id": i + 1, "profile_id": pid, "entered_at_us": 0})
            member_of = frozenset([h])
        rows.append(
            {"id": pid, "traits": {}, "created_seq": 0, "updated_seq": 0, "attributes": view}
        )
        facts[pid] = Facts(view, events, member_of)
    with engine.begin() as conn:
        conn.execute(insert(profiles), rows)
        for row in logged:  # as the log's append keeps them beside a sealed payload
            row["facts"] = event_facts(row["type"], row["payload"]) if sealing_on() else None
        conn.execute(insert(event_log), logged)
        conn.execute(insert(profile_events), owned)
        conn.execute(insert(segments), named)
        conn.execute(insert(segment_members), members)
    return facts


def flat(values: Any) -> Iterator[Any]:
    if isinstance(values, list | tuple):
        for value in values:
            yield from flat(value)
    else:
        yield values


def carried(params: dict[str, Any], wanted: str) -> bool:
    found = list(flat(list(params.values())))
    return wanted in found or wanted.encode() in found


def test_hostile_literals_are_only_ever_parameters(engine: Engine) -> None:
    facts = fill(engine)
    moment = Moment(NOW)
    dialect = engine.dialect.name
    tables = sorted(inspect(engine).get_table_names())
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(profiles)).scalar_one()
    checked = 0
    for h in HOSTILE:
        if not storable(h):  # the language refuses it before any SQL is made...
            with pytest.raises(ValidationError, match="NUL characters or lone surrogates"):
                L.Compare(path="city", op="=", value=h)
        # ...and the compiler copes all the same (positions() builds it without the checks)
        for where, condition, how in positions(h):
            expr = compile_condition(condition, moment, dialect, profiles.c.id)
            statement = select(profiles.c.id).where(profiles.c.merged_into.is_(None), expr)
            compiled = statement.compile(dialect=engine.dialect)
            assert h not in str(compiled), (where, h)
            if storable(h):
                wanted = fold(h, how)
                assert carried(compiled.params, wanted), (where, h)
            else:  # a text no store can hold is never sent: the answer is known without it
                for value in flat(list(compiled.params.values())):
                    assert not (isinstance(value, str) and not storable(value)), (where, h)
            with engine.connect() as conn:
                found = member_ids(conn, condition, moment)
                assert count_members(conn, condition, moment) == len(found)
            expected = sorted(p for p, f in facts.items() if evaluate(condition, f, moment))
            assert found == expected, (where, h)
            checked += 1
    assert checked == len(HOSTILE) * len(list(positions("x")))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(profiles)).scalar_one() == before
        assert conn.execute(select(func.count()).select_from(segments)).scalar_one() > 0
    assert sorted(inspect(engine).get_table_names()) == tables


def test_the_hostile_data_is_found_where_it_is(engine: Engine) -> None:
    """The checks above are not vacuous: equality on a hostile text finds its profile."""
    facts = fill(engine)
    moment = Moment(NOW)
    with engine.connect() as conn:
        for h in HOSTILE[:6]:
            for make in CONDITIONS:
                found = member_ids(conn, make(h), moment)
                assert len(found) == 1, (make, h)
                assert evaluate(make(h), facts[found[0]], moment)


CONDITIONS: list[Callable[[str], Any]] = [
    lambda h: L.Compare(path="city", op="=", value=h),
    lambda h: L.TextMatch(path="tags", op="contains", value=h.lower(), fold="case"),
    lambda h: L.Did(event=h, where=L.Compare(path="category", op="=", value=h)),
    lambda h: L.InSegment(segment=h),
    lambda h: L.Consented(purpose=h),
    lambda h: L.And(
        of=(
            L.Consented(purpose="marketing", channel=h),
            L.Not(of=L.Consented(purpose=h, channel=h)),
        )
    ),
]


@pytest.mark.parametrize(
    "path", ["x'; DROP TABLE profiles; --", 'a"b', "a.", "1a", "{{7*7}}", "and"]
)
def test_hostile_names_are_refused(path: str) -> None:
    with pytest.raises(ValidationError):
        L.Compare(path=path, op="=", value=1)
    with pytest.raises(L.ConditionError):
        L.from_json({"type": "exists", "path": path})
