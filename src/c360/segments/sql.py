"""Segment conditions as SQL: one boolean expression over a profile row, for SQLite and
PostgreSQL, with exactly the semantics of :mod:`c360.segments.evaluate` (its docstring is the
contract; ``tests/property/test_segment_agreement.py`` checks both agree).

The expression reads the outer row's ``profiles.attributes`` (the view document of
:mod:`c360.segments.view`), the profile's events (``profile_events`` joined to ``event_log``,
correlated on the profile id) and its memberships (``segment_members`` joined to ``segments``
by name). Every literal of the condition (texts, numbers, names, JSON paths, event and segment
names) and every constant reaches the database as a bound parameter; nothing the condition
holds is ever written into the SQL text. Times (window starts, date literals, anniversary days)
are computed in Python with the evaluator's own helpers and bound.

Logic is two-valued: every test is a non-NULL boolean (CASE ... ELSE false), so ``not`` turns
any answer around as in Python.

Where the stores cannot hold what Python can, the compiler keeps the answer Python would give
for the data the stores can hold:

- A literal with a NUL character or a lone surrogate (the language refuses them; a condition
  built without its checks may still hold one) can be bound on neither store and never equals
  stored text: equality and text matching are false, ``!=`` true for present values, and
  orderings compare against the nearest bindable text (the same answers).
- An event payload with a ``\\u0000`` escape cannot be read as ``jsonb``: on PostgreSQL such
  escapes read as U+FFFD (a payload never stops the query). SQLite's JSON functions cut text at
  a NUL. Texts with NUL characters are therefore not compared as Python compares them.
- On PostgreSQL, JSON numbers beyond +-2**53 compared with a literal of the other kind (int
  with float) may differ from Python's exact comparison: ``jsonb`` does not keep whether a
  number was written as a float. SQLite's ``sum`` of integers beyond +-2**63 fails (integer
  overflow); sums of floats may differ in the last bits (the order of addition differs).
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    and_,
    case,
    cast,
    collate,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from c360.kernel.clock import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US
from c360.segments import language as L
from c360.segments.evaluate import EVENT_KINDS, Moment, anniversary_days, instant, shift
from c360.segments.view import fold, fold_pairs
from c360.storage.tables import event_log, profile_events, profiles, segment_members, segments

__all__ = ["compile_condition", "count_members", "member_ids"]

Expr = ColumnElement[Any]

_DAY_US = 86_400_000_000
_INT64 = (-(2**63), 2**63 - 1)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# a \u0000 escape in JSON text (not an escaped backslash followed by "u0000")
_NUL_ESCAPE = r"\u0000"
_NUL_PATTERN = r"(?<!\\)((?:\\\\)*)\\u0000"
_NUL_REPLACEMENT = r"\1\\ufffd"


def compile_condition(
    condition: Any,
    moment: Moment,
    dialect: str,
    profile_id: ColumnElement[Any],
    attributes: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """``condition`` as a boolean SQL expression about the outer query's profile row.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``; ``profile_id`` is the outer row's profile
    id column and ``attributes`` its view document (both default to the ``profiles`` table's,
    so the outer query is e.g. ``select(profiles.c.id).where(expr)``)."""
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"segment conditions compile for sqlite or postgresql, not {dialect!r}")
    compiler = _Compiler(
        moment,
        dialect == "postgresql",
        profile_id,
        profiles.c.attributes if attributes is None else attributes,
    )
    return compiler.condition(condition)


def count_members(conn: Connection, condition: Any, moment: Moment) -> int:
    """How many live profiles meet ``condition`` at ``moment``."""
    expr = compile_condition(condition, moment, conn.dialect.name, profiles.c.id)
    query = select(func.count()).select_from(profiles).where(profiles.c.merged_into.is_(None), expr)
    return int(conn.execute(query).scalar_one())


def member_ids(
    conn: Connection, condition: Any, moment: Moment, limit: int | None = None
) -> list[str]:
    """The ids of live profiles meeting ``condition`` at ``moment``, in id order."""
    expr = compile_condition(condition, moment, conn.dialect.name, profiles.c.id)
    query = (
        select(profiles.c.id).where(profiles.c.merged_into.is_(None), expr).order_by(profiles.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [str(pid) for pid in conn.execute(query).scalars()]


# --- bound values ---------------------------------------------------------------------------


def _text(value: str) -> Expr:
    return literal(value, Text)


def _int(value: int) -> Expr:
    return literal(value, BigInteger)


def _clamp(value: int) -> int:
    return max(_INT64[0], min(_INT64[1], value))


def _bindable(value: str) -> bool:
    """Whether both stores can hold ``value`` (no NUL, no lone surrogate)."""
    return not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value)


def _nearest(value: str) -> str:
    """For a text that cannot be stored: the smallest storable text above every storable text
    below ``value`` (so ``s < value`` iff ``s < _nearest(value)`` for storable ``s``)."""
    for i, char in enumerate(value):
        if char == "\x00":
            return value[:i] + "\x01"
        if "\ud800" <= char <= "\udfff":
            return value[:i] + "\ue000"
    return value


def _cmp(left: Any, op: str, right: Any) -> Expr:
    result: Expr = _OPS[op](left, right)
    return result


def _per_profile(query: Select[Any]) -> Select[Any]:
    """``query`` run for each profile row: ``OFFSET`` keeps PostgreSQL from turning the
    ``EXISTS`` into a join over every profile's events, which it may drive from ``event_log``
    (it cannot estimate the JSON tests) and pay a scan of ``profile_events`` per event."""
    return query.offset(0)


def _never_null(expr: Expr) -> Expr:
    return func.coalesce(expr, false())


# --- JSON elements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Elem:
    """A JSON value in SQL: its kind (the store's type name, 'missing' when absent), the value
    itself (SQLite: as json_extract gives it; PostgreSQL: jsonb) and its text."""

    kind: Expr
    raw: Expr
    text: Expr
    doc: Expr | None = None  # SQLite: the document and path, for json_each
    path: Expr | None = None


class _Compiler:
    def __init__(self, moment: Moment, pg: bool, profile_id: Expr, attributes: Expr):
        self.moment = moment
        self.pg = pg
        self.profile_id = profile_id
        self.attributes = attributes
        self.now = _clamp(moment.now_us)

    # --- reading JSON ---------------------------------------------------------------------

    def at_path(self, doc: Expr, keys: list[str]) -> _Elem:
        if self.pg:
            args = [_text(k) for k in keys]
            raw = func.jsonb_extract_path(doc, *args, type_=JSONB)
            text = func.jsonb_extract_path_text(doc, *[_text(k) for k in keys], type_=Text)
            kind = func.coalesce(func.jsonb_typeof(raw), _text("missing"))
            return _Elem(kind, raw, text)
        for key in keys:
            if '"' in key:  # names never hold one (language._NAME); keep paths unambiguous
                raise L.ConditionError(f"{key!r} cannot be used as a JSON key")
        path = _text("$" + "".join(f'."{k}"' for k in keys))
        value = func.json_extract(doc, path)
        kind = func.coalesce(func.json_type(doc, path), _text("missing"))
        return _Elem(kind, value, value, doc, path)

    def present(self, e: _Elem) -> Expr:
        return e.kind.not_in([_text("missing"), _text("null")])

    def is_text(self, e: _Elem) -> Expr:
        return e.kind == _text("string" if self.pg else "text")

    def is_number(self, e: _Elem) -> Expr:
        if self.pg:
            return e.kind == _text("number")
        return e.kind.in_([_text("integer"), _text("real")])

    def is_array(self, e: _Elem) -> Expr:
        return e.kind == _text("array")

    def is_bool(self, e: _Elem, value: bool) -> Expr:
        word = "true" if value else "false"
        if self.pg:
            return and_(e.kind == _text("boolean"), e.text == _text(word))
        return e.kind == _text(word)

    def number(self, e: _Elem, as_float: bool) -> Expr:
        if self.pg:
            return cast(e.raw, Float if as_float else Numeric)
        return e.raw

    def fold(self, text: Expr, how: str | None) -> Expr:
        if how is None:
            return text
        if self.pg:
            source, target = fold_pairs(how)
            return func.translate(text, _text(source), _text(target), type_=Text)
        return func.c360_fold(text, _text(how), type_=Text)

    def ordered_text(self, text: Expr) -> Expr:
        return collate(text, "C") if self.pg else text

    def elements(self, e: _Elem) -> tuple[FromClause, _Elem]:
        """The elements of an array (use under ``is_array``)."""
        if self.pg:
            empty = literal([], JSONB)
            items = func.jsonb_array_elements(
                case((self.is_array(e), e.raw), else_=empty)
            ).table_valued("value")
            value = items.c.value
            text = value.op("#>>", return_type=Text)(literal([], ARRAY(Text)))
            return items, _Elem(
                func.coalesce(func.jsonb_typeof(value), _text("missing")), value, text
            )
        assert e.doc is not None and e.path is not None
        rows = func.json_each(e.doc, e.path).table_valued("type", "value")
        return rows, _Elem(rows.c.type, rows.c.value, rows.c.value)

    # --- numbers --------------------------------------------------------------------------

    def number_test(self, get: Callable[[bool], Expr], op: str, value: int | float) -> Expr:
        """``number op value`` for a number in SQL (``get(as_float)``), exactly as Python."""
        if isinstance(value, float):
            return _cmp(get(True), op, literal(value, Float))
        if self.pg:
            return _cmp(get(False), op, literal(value, Numeric))
        if _INT64[0] <= value <= _INT64[1]:
            return _cmp(get(False), op, _int(value))
        # SQLite holds numbers as int64 or double: compare with the doubles around the value
        try:
            near = float(value)
        except OverflowError:
            near = math.copysign(math.inf, value)
        if math.isfinite(near) and int(near) == value:
            return _cmp(get(True), op, literal(near, Float))
        if math.isinf(near) and value > 0:
            below, above = sys.float_info.max, math.inf
        elif math.isinf(near):
            below, above = -math.inf, -sys.float_info.max
        elif int(near) < value:
            below, above = near, math.nextafter(near, math.inf)
        else:
            below, above = math.nextafter(near, -math.inf), near
        if op == "=":
            return false()
        if op == "!=":
            return true()
        if op in ("<", "<="):
            return get(True) <= literal(below, Float)
        return get(True) >= literal(above, Float)

    # --- value tests (traits and event properties) -----------------------------------------

    def value_test(self, node: Any, doc: Expr, prefix: list[str]) -> Expr:
        if isinstance(node, L.ValueAnd | L.And):
            return and_(*(self.value_test(n, doc, prefix) for n in node.of))
        if isinstance(node, L.ValueOr | L.Or):
            return or_(*(self.value_test(n, doc, prefix) for n in node.of))
        if isinstance(node, L.ValueNot | L.Not):
            return not_(self.value_test(node.of, doc, prefix))
        e = self.at_path(doc, [*prefix, *node.path.split(".")])
        if isinstance(node, L.Exists):
            return self.present(e)
        if isinstance(node, L.Compare):
            if node.op == "=":
                return self.same(e, node.value, node.fold)
            if node.op == "!=":
                return case(
                    (self.present(e), not_(self.same(e, node.value, node.fold))), else_=false()
                )
            return self.ordered(e, node.op, node.value, node.fold)
        if isinstance(node, L.OneOf):
            return self.one_of(e, node.values, node.fold)
        if isinstance(node, L.TextMatch):
            return self.text_match(e, node.op, node.value, node.fold)
        raise TypeError(f"not a value test: {type(node).__name__}")

    def same(self, e: _Elem, value: Any, how: str | None) -> Expr:
        if isinstance(value, bool):
            return self.is_bool(e, value)
        if isinstance(value, int | float):
            test = self.number_test(lambda f: self.number(e, f), "=", value)
            return case((self.is_number(e), test), else_=false())
        wanted = fold(value, how)
        if not _bindable(wanted):
            return false()
        return case((self.is_text(e), self.fold(e.text, how) == _text(wanted)), else_=false())

    def ordered(self, e: _Elem, op: str, value: Any, how: str | None) -> Expr:
        if isinstance(value, bool):
            return false()
        if isinstance(value, int | float):
            test = self.number_test(lambda f: self.number(e, f), op, value)
            return case((self.is_number(e), test), else_=false())
        wanted = fold(value, how)
        if not _bindable(wanted):
            wanted = _nearest(wanted)
            op = "<" if op in ("<", "<=") else ">="
        left = self.ordered_text(self.fold(e.text, how))
        return case((self.is_text(e), _cmp(left, op, _text(wanted))), else_=false())

    def one_of(self, e: _Elem, values: tuple[Any, ...], how: str | None) -> Expr:
        tests: list[Expr] = []
        flags = sorted({v for v in values if isinstance(v, bool)})
        tests += [self.is_bool(e, flag) for flag in flags]
        texts = sorted({fold(v, how) for v in values if isinstance(v, str)})
        texts = [t for t in texts if _bindable(t)]
        if texts:
            folded = self.fold(e.text, how)
            tests.append(
                case((self.is_text(e), folded.in_([_text(t) for t in texts])), else_=false())
            )
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers:
            tests.append(
                case(
                    (
                        self.is_number(e),
                        or_(
                            *(
                                self.number_test(lambda f: self.number(e, f), "=", n)
                                for n in numbers
                            )
                        ),
                    ),
                    else_=false(),
                )
            )
        return or_(*tests) if tests else false()

    def text_match(self, e: _Elem, op: str, value: str, how: str | None) -> Expr:
        wanted = fold(value, how)
        if not _bindable(wanted):
            return false()
        text = self.fold(e.text, how)
        if op == "contains":
            found = func.strpos(text, _text(wanted)) if self.pg else func.instr(text, _text(wanted))
            items, item = self.elements(e)
            listed = exists(
                select(_int(1))
                .select_from(items)
                .where(self.is_text(item), self.fold(item.text, how) == _text(wanted))
            )
            return case(
                (self.is_array(e), listed),
                (self.is_text(e), found > _int(0)),
                else_=false(),
            )
        if op == "starts_with":
            first = func.strpos(text, _text(wanted)) if self.pg else func.instr(text, _text(wanted))
            return case((self.is_text(e), first == _int(1)), else_=false())
        if wanted == "":
            return self.is_text(e)
        if self.pg:
            tail = func.right(text, literal(len(wanted), Integer))
            return case((self.is_text(e), tail == _text(wanted)), else_=false())
        # bytes, not characters: SQLite's character functions stop at a NUL
        data = wanted.encode("utf-8")
        tail = func.substr(cast(text, LargeBinary), _int(-len(data)))
        # (substr gives NULL, not an empty blob, for an empty text)
        same = _never_null(tail == literal(data, LargeBinary))
        return case((self.is_text(e), same), else_=false())

    # --- the condition --------------------------------------------------------------------

    def condition(self, node: Any) -> Expr:
        if isinstance(node, L.And):
            return and_(*(self.condition(n) for n in node.of))
        if isinstance(node, L.Or):
            return or_(*(self.condition(n) for n in node.of))
        if isinstance(node, L.Not):
            return not_(self.condition(node.of))
        if isinstance(node, L.Compare | L.OneOf | L.Exists | L.TextMatch):
            return self.value_test(node, self.attributes, ["v"])
        if isinstance(node, L.TimeTest):
            return self.time_test(node)
        if isinstance(node, L.Anniversary):
            e = self.at_path(self.attributes, ["d", node.path])
            days = anniversary_days(self.moment.now_us, node.span, self.moment.tz)
            return case((self.is_text(e), e.text.in_([_text(d) for d in days])), else_=false())
        if isinstance(node, L.Did):
            return self.did(node)
        if isinstance(node, L.Sequence):
            return self.sequence(node)
        if isinstance(node, L.InSegment):
            return self.in_segment(node.segment)
        if isinstance(node, L.Consented):
            return self.consented(node.purpose, node.channel)
        raise TypeError(f"not a condition: {type(node).__name__}")

    def time_test(self, node: L.TimeTest) -> Expr:
        e = self.at_path(self.attributes, ["t", node.path])
        is_int = e.kind == _text("number") if self.pg else e.kind == _text("integer")
        at = self.number(e, False)
        now = self.moment.now_us
        if node.op in ("within_last", "within_next"):
            assert node.span is not None
            if node.op == "within_last":
                low, high = shift(now, node.span, -1), now
            else:
                low, high = now, shift(now, node.span, 1)
            test = and_(at >= _int(_clamp(low)), at <= _int(_clamp(high)))
        else:
            assert node.at is not None
            limit = _int(_clamp(instant(node.at, self.moment.tz)))
            test = at < limit if node.op == "before" else at >= limit
        return case((is_int, test), else_=false())

    def in_segment(self, name: str) -> Expr:
        if not _bindable(name):
            return false()
        joined = segment_members.join(segments, segments.c.id == segment_members.c.segment_id)
        return exists(
            select(_int(1))
            .select_from(joined)
            .where(segment_members.c.profile_id == self.profile_id, segments.c.name == _text(name))
        )

    def consented(self, purpose: str, channel: str | None) -> Expr:
        if not _bindable(purpose):
            return false()
        if channel is not None and not _bindable(channel):
            channel = None  # no statement can be stored for it: the purpose-wide one decides
        if self.pg:
            given = func.jsonb_extract_path(
                self.attributes, _text("c"), _text(purpose), type_=JSONB
            )
            star = func.jsonb_extract_path(given, _text("*"), type_=JSONB)
            whens: list[tuple[Expr, Expr]] = []
            if channel is not None:
                own = func.jsonb_extract_path(given, _text(channel), type_=JSONB)
                whens.append((func.jsonb_typeof(own) == _text("boolean"), cast(own, Boolean)))
            whens.append((func.jsonb_typeof(star) == _text("boolean"), cast(star, Boolean)))
            inner = case(*whens, else_=false())
            return case((func.jsonb_typeof(given) == _text("object"), inner), else_=false())
        # SQLite: keys are matched as values (json_each), never written into a JSON path
        purposes = func.json_each(self.attributes, _text('$."c"')).table_valued(
            "key", "value", "type"
        )
        stars = func.json_each(purposes.c.value).table_valued("key", "type")
        star_type = select(stars.c.type).where(stars.c.key == _text("*")).limit(1).scalar_subquery()
        answer: Expr = func.coalesce(star_type == _text("true"), false())
        if channel is not None:
            owns = func.json_each(purposes.c.value).table_valued("key", "type")
            own_type = (
                select(owns.c.type)
                .where(
                    owns.c.key == _text(channel),
                    owns.c.type.in_([_text("true"), _text("false")]),
                )
                .limit(1)
                .scalar_subquery()
            )
            answer = case((own_type.is_not(None), own_type == _text("true")), else_=answer)
        chosen = (
            select(case((purposes.c.type == _text("object"), answer), else_=false()))
            .where(purposes.c.key == _text(purpose))
            .limit(1)
            .scalar_subquery()
        )
        return _never_null(chosen)

    # --- events ---------------------------------------------------------------------------

    def events(self, name: str, where: Any, window: L.Span | None) -> _Events:
        pe = profile_events.alias()
        el = event_log.alias()
        at = func.coalesce(pe.c.at_us, _int(0))
        # the payload, or where it is sealed at rest the facts kept beside it in clear
        payload = func.coalesce(el.c.facts, type_coerce(el.c.payload, Text), type_=Text)
        if self.pg:
            clean = case(
                (
                    func.strpos(payload, _text(_NUL_ESCAPE)) > _int(0),
                    func.regexp_replace(
                        payload, _text(_NUL_PATTERN), _text(_NUL_REPLACEMENT), _text("g")
                    ),
                ),
                else_=payload,
            )
            doc: Expr = cast(clean, JSONB)
            key = case((el.c.type == _text("track"), _text("event")), else_=_text("name"))
            raw = func.jsonb_extract_path(doc, key, type_=JSONB)
            named = and_(
                func.jsonb_typeof(raw) == _text("string"),
                func.jsonb_extract_path_text(doc, key, type_=Text) == _text(name),
            )
        else:
            doc = payload
            path = case((el.c.type == _text("track"), _text("$.event")), else_=_text("$.name"))
            named = and_(
                func.json_type(doc, path) == _text("text"),
                func.json_extract(doc, path) == _text(name),
            )
        conditions: list[Expr] = [
            pe.c.profile_id == self.profile_id,
            el.c.type.in_([_text(k) for k in EVENT_KINDS]),
            named if _bindable(name) else false(),
            at <= _int(self.now),
        ]
        if window is not None:
            conditions.append(at >= _int(_clamp(shift(self.moment.now_us, window, -1))))
        if where is not None:
            conditions.append(self.value_test(where, doc, ["properties"]))
        return _Events(pe.join(el, el.c.seq == pe.c.seq), pe.c.seq, at, doc, conditions)

    def did(self, node: L.Did) -> Expr:
        rows = self.events(node.event, node.where, node.window)
        if node.aggregate is not None:
            return self.aggregate(rows, node.aggregate)
        if node.count is None:
            return exists(
                _per_profile(select(_int(1)).select_from(rows.source).where(*rows.conditions))
            )
        count = (
            select(func.count()).select_from(rows.source).where(*rows.conditions).scalar_subquery()
        )
        return _cmp(count, node.count.op, _int(node.count.n))

    def aggregate(self, rows: _Events, agg: L.Aggregate) -> Expr:
        e = self.at_path(rows.doc, ["properties", *agg.path.split(".")])
        numbers = case((self.is_number(e), self.number(e, False)))
        count = func.count(numbers)
        value: Expr
        if agg.fn == "average":
            total = cast(func.sum(numbers), Float)
            value = total / (cast(count, Float) if self.pg else count)
        elif agg.fn == "sum":
            value = func.coalesce(func.sum(numbers), _int(0))
        else:
            value = func.min(numbers) if agg.fn == "min" else func.max(numbers)
        is_float = agg.fn == "average"

        def get(as_float: bool) -> Expr:
            return cast(value, Float) if self.pg and as_float and not is_float else value

        test = self.number_test(get, agg.op, agg.value)
        if agg.fn != "sum":
            test = case((count > _int(0), test), else_=false())
        answer = select(test).select_from(rows.source).where(*rows.conditions).scalar_subquery()
        return _never_null(answer)

    def sequence(self, node: L.Sequence) -> Expr:
        a = self.events(node.first.event, node.first.where, node.window)
        b = self.events(node.then.event, node.then.where, node.window)
        return exists(
            _per_profile(
                select(_int(1))
                .select_from(a.source.join(b.source, b.seq != a.seq))
                .where(
                    *a.conditions,
                    *b.conditions,
                    a.at <= b.at,
                    b.at <= self.later(a.at, node.within),
                )
            )
        )

    def later(self, at: Expr, span: L.Span) -> Expr:
        """``evaluate.shift(at, span, 1)`` for each row's ``at``."""
        if span.unit not in ("months", "years"):
            return at + _int(shift(0, span, 1))
        months = span.n * (12 if span.unit == "years" else 1)
        fallback = at + _int(span.n * (366 if span.unit == "years" else 31) * _DAY_US)
        days = case(
            (at >= _int(0), at // _int(_DAY_US)),
            else_=(at - _int(_DAY_US - 1)) // _int(_DAY_US),
        )
        time_of_day = at - days * _int(_DAY_US)
        in_range = and_(at >= _int(MIN_TIMESTAMP_US), at <= _int(MAX_TIMESTAMP_US))
        if self.pg:
            # date arithmetic clips the day to the month's end as relativedelta does
            epoch = literal(date(1970, 1, 1), Date)
            start = epoch.op("+", return_type=Date)(cast(days, Integer))
            moved = start.op("+", return_type=DateTime)(
                func.make_interval(literal(0, Integer), literal(months, Integer))
            )
            moved_days = cast(moved, Date).op("-", return_type=BigInteger)(epoch)
            moved_end = moved_days * _int(_DAY_US) + time_of_day
            return case(
                (
                    in_range,
                    case((moved_end <= _int(MAX_TIMESTAMP_US), moved_end), else_=fallback),
                ),
                else_=fallback,
            )
        seconds = days * _int(86_400)
        unixepoch = _text("unixepoch")

        def part(fmt: str) -> Expr:
            return cast(func.strftime(_text(fmt), seconds, unixepoch), Integer)

        year, month, day = part("%Y"), part("%m"), part("%d")
        index = year * _int(12) + month - _int(1) + _int(months)
        target_year, target_month = index // _int(12), index % _int(12) + _int(1)
        first = func.date(seconds, unixepoch, _text("start of month"), _text(f"+{months} months"))
        leap = or_(
            target_year % _int(400) == _int(0),
            and_(target_year % _int(4) == _int(0), target_year % _int(100) != _int(0)),
        )
        month_days = case(
            (target_month == _int(2), case((leap, _int(29)), else_=_int(28))),
            (target_month.in_([_int(4), _int(6), _int(9), _int(11)]), _int(30)),
            else_=_int(31),
        )
        first_day = cast(func.julianday(first) - literal(2440587.5, Float), Integer)
        end_day = first_day + func.min(day, month_days) - _int(1)
        end = end_day * _int(_DAY_US) + time_of_day
        return case((and_(in_range, target_year <= _int(9999)), end), else_=fallback)


@dataclass(frozen=True, slots=True)
class _Events:
    """A profile's events of one step: where they come from and what selects them."""

    source: FromClause
    seq: Expr
    at: Expr
    doc: Expr
    conditions: list[Expr]
