"""The incremental evaluator: a condition's answer for one profile, and the first moment that
answer can change with time alone.

It reads what the SQL compiler (:mod:`c360.segments.sql`) reads: the profile's view document
(:mod:`c360.segments.view`), its events, and the segments it belongs to; the semantics below are
the contract both keep (``tests/property/test_segment_agreement.py`` checks they agree).

- A test of a value that is missing or null is false; ``!=`` is true only for a value that is
  there and differs. ``not`` turns any answer around (there is no "unknown").
- Numbers compare with numbers, text with text (by code point, after folding when asked),
  ``true``/``false`` with booleans; a value of another type never matches.
- ``contains`` finds text in text, or an element of a list (equal after folding).
- Times: ``within last N u`` is ``now - N u <= t <= now``; ``within next`` is
  ``now <= t <= now + N u``; ``before D`` is ``t < D`` and ``after D`` is ``t >= D``. Months
  and years are calendar months and years (UTC); a date without a time is midnight in the
  segment's time zone.
- ``anniversary within next N days``: the value's month and day falls on one of the N + 1
  days from today (the segment's time zone); 29 February counts on 28 February in other years.
- Events: tracked ``track``, ``page`` and ``screen`` events by name, dated no later than now
  (and no earlier than ``now - window``). Without a count, ``did`` means at least once. A sum
  over no events is 0; an average, min or max over none is false. Only numbers are summed.
- ``did A then B within D``: an event of A and a different event of B with
  ``a.t <= b.t <= a.t + D``, both in the window when one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from c360.kernel.clock import from_us
from c360.privacy.consent import consented as _consented
from c360.segments import language as L
from c360.segments.view import fold
from c360.storage.sealing import FACT_KINDS

EVENT_KINDS = FACT_KINDS  # the entries behaviour conditions read; their facts stay in clear
_FIXED_US = {
    "minutes": 60_000_000,
    "hours": 3_600_000_000,
    "days": 86_400_000_000,
    "weeks": 7 * 86_400_000_000,
}
MISSING = object()
"""What :func:`lookup` returns where there is no value."""


@dataclass(frozen=True, slots=True)
class Moment:
    """When and where a condition is evaluated."""

    now_us: int
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


@dataclass(slots=True)
class Facts:
    """What a condition can read about one profile."""

    view: Mapping[str, Any]
    events: Sequence[Any] = ()
    """Objects with ``type``, ``name``, ``properties``, ``at_us`` and ``seq``."""
    segments: frozenset[str] = frozenset()


# --- time arithmetic (shared with the SQL compiler) --------------------------------------


def _to_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def shift(at_us: int, span: L.Span, sign: int) -> int:
    """``at_us`` plus (``sign`` 1) or minus (-1) ``span``; months and years by the calendar."""
    if span.unit in _FIXED_US:
        return at_us + sign * span.n * _FIXED_US[span.unit]
    delta = relativedelta(months=span.n) if span.unit == "months" else relativedelta(years=span.n)
    try:
        return _to_us(from_us(at_us) + sign * delta)
    except (OverflowError, ValueError):
        return at_us + sign * span.n * (366 if span.unit == "years" else 31) * 86_400_000_000


def instant(at: str, tz: ZoneInfo) -> int:
    """A date literal as epoch microseconds (a date alone: midnight in ``tz``)."""
    if "T" not in at:
        day = date.fromisoformat(at)
        return _to_us(datetime.combine(day, time(), tzinfo=tz))
    parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return _to_us(parsed)


def anniversary_days(now_us: int, span: L.Span, tz: ZoneInfo) -> list[str]:
    """The "MM-DD" days an anniversary may fall on to be within the next ``span``."""
    today = from_us(now_us).astimezone(tz).date()
    count = span.n * (7 if span.unit == "weeks" else 1)
    days: set[str] = set()
    for offset in range(count + 1):
        day = today + timedelta(days=offset)
        days.add(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            days.add("02-29")
    return sorted(days)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _first(lo: int, hi: int, holds: Callable[[int], bool]) -> int:
    """The smallest x in (lo, hi] where ``holds`` (monotone, false at lo, true at hi)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def leaves_window(at_us: int, span: L.Span) -> int:
    """The first moment ``now`` at which ``now - span > at_us`` (a fact leaves the window)."""
    if span.unit in _FIXED_US:
        return at_us + span.n * _FIXED_US[span.unit] + 1
    hi = shift(at_us, span, 1) + 5 * 86_400_000_000
    return _first(at_us, hi, lambda x: shift(x, span, -1) > at_us)


def reaches(at_us: int, span: L.Span) -> int:
    """The first moment ``now`` at which ``now + span >= at_us`` (a fact enters the window)."""
    if span.unit in _FIXED_US:
        return at_us - span.n * _FIXED_US[span.unit]
    lo = shift(at_us, span, -1) - 5 * 86_400_000_000
    return _first(lo, at_us, lambda x: shift(x, span, 1) >= at_us)


# --- values --------------------------------------------------------------------------------


def lookup(data: Any, path: str) -> Any:
    """The value at dotted ``path`` in nested dicts, or ``MISSING``."""
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return MISSING
        data = data[part]
    return MISSING if data is None else data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(actual: Any, literal: Any, how: str | None) -> bool:
    if isinstance(literal, bool):
        return isinstance(actual, bool) and actual == literal
    if _is_number(literal):
        return _is_number(actual) and actual == literal
    return isinstance(actual, str) and fold(actual, how) == fold(literal, how)


def _ordered(actual: Any, op: str, literal: Any, how: str | None) -> bool:
    if _is_number(literal):
        if not _is_number(actual):
            return False
        left, right = actual, literal
    elif isinstance(literal, str):
        if not isinstance(actual, str):
            return False
        left, right = fold(actual, how), fold(literal, how)
    else:
        return False
    return bool(
        {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    )


def test_value(node: Any, data: Mapping[str, Any]) -> bool:
    """A value test (or and/or/not of them) against the values in ``data``."""
    if isinstance(node, L.ValueAnd | L.And):
        return all(test_value(n, data) for n in node.of)
    if isinstance(node, L.ValueOr | L.Or):
        return any(test_value(n, data) for n in node.of)
    if isinstance(node, L.ValueNot | L.Not):
        return not test_value(node.of, data)
    actual = lookup(data, node.path)
    if actual is MISSING:
        return False
    if isinstance(node, L.Exists):
        return True
    if isinstance(node, L.Compare):
        if node.op == "=":
            return _same(actual, node.value, node.fold)
        if node.op == "!=":
            return not _same(actual, node.value, node.fold)
        return _ordered(actual, node.op, node.value, node.fold)
    if isinstance(node, L.OneOf):
        return any(_same(actual, v, node.fold) for v in node.values)
    if isinstance(node, L.TextMatch):
        wanted = fold(node.value, node.fold)
        if isinstance(actual, list):
            return node.op == "contains" and any(
                isinstance(e, str) and fold(e, node.fold) == wanted for e in actual
            )
        if not isinstance(actual, str):
            return False
        text = fold(actual, node.fold)
        if node.op == "contains":
            return wanted in text
        if node.op == "starts_with":
            return text.startswith(wanted)
        return text.endswith(wanted)
    raise TypeError(f"not a value test: {type(node).__name__}")


# --- events --------------------------------------------------------------------------------


def _matching(
    facts: Facts, event: str, where: Any, window: L.Span | None, moment: Moment
) -> list[Any]:
    start = None if window is None else shift(moment.now_us, window, -1)
    return [
        e
        for e in facts.events
        if e.type in EVENT_KINDS
        and e.name == event
        and e.at_us <= moment.now_us
        and (start is None or e.at_us >= start)
        and (where is None or test_value(where, e.properties))
    ]


def _did(node: L.Did, facts: Facts, moment: Moment) -> bool:
    found = _matching(facts, node.event, node.where, node.window, moment)
    if node.aggregate is not None:
        agg = node.aggregate
        numbers = [v for e in found if _is_number(v := lookup(e.properties, agg.path))]
        if agg.fn == "sum":
            value: Any = sum(numbers)
        elif not numbers:
            return False
        elif agg.fn == "average":
            value = sum(numbers) / len(numbers)
        else:
            value = min(numbers) if agg.fn == "min" else max(numbers)
        if agg.op == "=":
            return bool(value == agg.value)
        if agg.op == "!=":
            return bool(value != agg.value)
        return _ordered(value, agg.op, agg.value, None)
    if node.count is None:
        return bool(found)
    count, n = len(found), node.count.n
    return (
        count >= n if node.count.op == ">=" else count <= n if node.count.op == "<=" else count == n
    )


def _sequence(node: L.Sequence, facts: Facts, moment: Moment) -> bool:
    firsts = _matching(facts, node.first.event, node.first.where, node.window, moment)
    if not firsts:
        return False
    thens = _matching(facts, node.then.event, node.then.where, node.window, moment)
    for a in firsts:
        end = shift(a.at_us, node.within, 1)
        for b in thens:
            if b.seq != a.seq and a.at_us <= b.at_us <= end:
                return True
    return False


# --- the condition -------------------------------------------------------------------------


def evaluate(condition: Any, facts: Facts, moment: Moment) -> bool:
    """Whether the profile described by ``facts`` meets ``condition`` at ``moment``."""
    node = condition
    if isinstance(node, L.And):
        return all(evaluate(n, facts, moment) for n in node.of)
    if isinstance(node, L.Or):
        return any(evaluate(n, facts, moment) for n in node.of)
    if isinstance(node, L.Not):
        return not evaluate(node.of, facts, moment)
    if isinstance(node, L.Compare | L.OneOf | L.Exists | L.TextMatch):
        return test_value(node, facts.view.get("v", {}))
    if isinstance(node, L.TimeTest):
        at = facts.view.get("t", {}).get(node.path)
        if not isinstance(at, int):
            return False
        now = moment.now_us
        if node.op == "within_last":
            assert node.span is not None
            return shift(now, node.span, -1) <= at <= now
        if node.op == "within_next":
            assert node.span is not None
            return now <= at <= shift(now, node.span, 1)
        assert node.at is not None
        limit = instant(node.at, moment.tz)
        return at < limit if node.op == "before" else at >= limit
    if isinstance(node, L.Anniversary):
        day = facts.view.get("d", {}).get(node.path)
        return isinstance(day, str) and day in anniversary_days(moment.now_us, node.span, moment.tz)
    if isinstance(node, L.Did):
        return _did(node, facts, moment)
    if isinstance(node, L.Sequence):
        return _sequence(node, facts, moment)
    if isinstance(node, L.InSegment):
        return node.segment in facts.segments
    if isinstance(node, L.Consented):
        return consented(facts.view.get("c", {}), node.purpose, node.channel)
    raise TypeError(f"not a condition: {type(node).__name__}")


def consented(consent: Mapping[str, Any], purpose: str, channel: str | None) -> bool:
    """The newest statement for the channel decides, else the purpose-wide one (the view's
    ``"c"`` already says False for marketing on an unsubscribed channel); the rule is
    :func:`c360.privacy.consent.consented`, shared with every exit that checks consent."""
    return _consented(consent, purpose, channel)


def next_change(condition: Any, facts: Facts, moment: Moment) -> int | None:
    """The first moment after ``moment`` at which the answer may change with time alone (a fact
    entering or leaving a window, a new day for anniversaries); None if it never does.

    It may name a moment at which the answer stays the same: the caller evaluates again then."""
    now = moment.now_us
    found: list[int] = []
    for node in L.walk(condition):
        if isinstance(node, L.TimeTest) and node.span is not None:
            at = facts.view.get("t", {}).get(node.path)
            if not isinstance(at, int):
                continue
            if node.op == "within_last":
                found += [at, leaves_window(at, node.span)]
            else:
                found += [reaches(at, node.span), at + 1]
        elif isinstance(node, L.Anniversary):
            if isinstance(facts.view.get("d", {}).get(node.path), str):
                today = from_us(now).astimezone(moment.tz).date()
                midnight = datetime.combine(today + timedelta(days=1), time(), tzinfo=moment.tz)
                found.append(_to_us(midnight))
        elif isinstance(node, L.Did | L.Sequence):
            steps = (
                [(node.event, node.where)]
                if isinstance(node, L.Did)
                else [
                    (node.first.event, node.first.where),
                    (node.then.event, node.then.where),
                ]
            )
            for event in facts.events:
                if event.type not in EVENT_KINDS or not any(
                    event.name == name and (where is None or test_value(where, event.properties))
                    for name, where in steps
                ):
                    continue
                found.append(event.at_us)
                if node.window is not None:
                    found.append(leaves_window(event.at_us, node.window))
    later = [t for t in found if t > now]
    return min(later) if later else None
